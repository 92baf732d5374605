package conntrack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is the part of netlink that clears stale UDP flows; *netlink.Handle has it.
type Kernel interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

// Flow is a UDP service address and port. A NodePort is served on every address of the node:
// its flow's address is the family's unspecified one (AnyAddr), which stands for any.
type Flow struct {
	Addr netip.Addr
	Port int
}

// AnyAddr is the address of a flow that reaches the service on any of the node's addresses.
func AnyAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// Targets are, for each UDP flow a service serves, the endpoints its packets go to.
type Targets map[Flow][]netip.AddrPort

// Stale is what to clear after a sync: a UDP flow has no connection to end, so conntrack keeps
// sending its packets wherever they went first. Flows to an endpoint that is gone must be
// cleared, and so must flows to a service that had no endpoint (they were never translated)
// and has one now.
type Stale struct {
	Flow     Flow
	Endpoint netip.Addr // invalid: every flow to the service address and port
}

// StaleUDP compares the targets of two syncs.
func StaleUDP(before, after Targets) []Stale {
	var out []Stale
	for flow, now := range after {
		was, known := before[flow]
		if !known {
			continue
		}
		if len(was) == 0 && len(now) > 0 {
			out = append(out, Stale{Flow: flow})
			continue
		}
		for _, e := range was {
			if !contains(now, e) {
				out = append(out, Stale{Flow: flow, Endpoint: e.Addr()})
			}
		}
	}
	for flow, was := range before {
		if _, still := after[flow]; !still {
			for _, e := range was {
				out = append(out, Stale{Flow: flow, Endpoint: e.Addr()})
			}
		}
	}
	return out
}

func contains(eps []netip.AddrPort, e netip.AddrPort) bool {
	for _, x := range eps {
		if x == e {
			return true
		}
	}
	return false
}

// Clear deletes the stale flows' conntrack entries, so their next packet is translated afresh
// to a current endpoint.
func Clear(k Kernel, stale []Stale) error {
	var errs []error
	for _, s := range stale {
		f := &netlink.ConntrackFilter{}
		err := errors.Join(
			f.AddProtocol(unix.IPPROTO_UDP),
			f.AddPort(netlink.ConntrackOrigDstPort, uint16(s.Flow.Port)),
		)
		if !s.Flow.Addr.IsUnspecified() {
			err = errors.Join(err, f.AddIP(netlink.ConntrackOrigDstIP, net.IP(s.Flow.Addr.AsSlice())))
		}
		if s.Endpoint.IsValid() {
			err = errors.Join(err, f.AddIP(netlink.ConntrackReplySrcIP, net.IP(s.Endpoint.AsSlice())))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		family := netlink.InetFamily(unix.AF_INET)
		if s.Flow.Addr.Is6() {
			family = unix.AF_INET6
		}
		if _, err := k.ConntrackDeleteFilters(netlink.ConntrackTable, family, f); err != nil {
			errs = append(errs, fmt.Errorf("clear UDP flows to %s:%d: %w", s.Flow.Addr, s.Flow.Port, err))
		}
	}
	return errors.Join(errs...)
}
