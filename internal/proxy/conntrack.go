package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack is the part of netlink that clears stale UDP flows; *netlink.Handle has it.
type Conntrack interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

// udpFlow is a UDP service address and port with the endpoints it was translated to. A
// NodePort is served on every address of the node: its flow's address is the family's
// unspecified one (0.0.0.0, ::), which stands for any.
type udpFlow struct {
	addr netip.Addr
	port int
}

// udpTargets lists, for every UDP service address (ClusterIP and external) and port, and for
// every UDP NodePort, the endpoints it goes to now.
func udpTargets(ports []*servicePort) map[udpFlow][]endpoint {
	out := map[udpFlow][]endpoint{}
	for _, sp := range ports {
		if sp.protocol != "udp" {
			continue
		}
		out[udpFlow{sp.clusterIP, sp.port}] = sp.endpoints
		// Flows to external addresses and node ports go to the cluster-wide choice, or under
		// externalTrafficPolicy Local to this node's endpoints (clients from outside) and the
		// ClusterIP's (pods and the node): every endpoint some path of the port reaches.
		external := sp.everyEndpoint()
		for _, a := range sp.external {
			out[udpFlow{a, sp.port}] = external
		}
		if sp.nodePort != 0 {
			out[udpFlow{anyAddr(sp.v6), sp.nodePort}] = external
		}
	}
	return out
}

func anyAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// staleUDP compares two syncs: a UDP flow has no connection to end, so conntrack keeps sending
// its packets wherever they went first. Flows to an endpoint that is gone must be cleared, and
// so must flows to a service that had no endpoint (they were never translated) and has one now.
type staleFlow struct {
	flow     udpFlow
	endpoint netip.Addr // invalid: every flow to the service address and port
}

func staleUDP(before, after map[udpFlow][]endpoint) []staleFlow {
	var out []staleFlow
	for flow, now := range after {
		was, known := before[flow]
		if !known {
			continue
		}
		if len(was) == 0 && len(now) > 0 {
			out = append(out, staleFlow{flow: flow})
			continue
		}
		for _, e := range was {
			if !containsEndpoint(now, e) {
				out = append(out, staleFlow{flow: flow, endpoint: e.ip})
			}
		}
	}
	for flow, was := range before {
		if _, still := after[flow]; !still {
			for _, e := range was {
				out = append(out, staleFlow{flow: flow, endpoint: e.ip})
			}
		}
	}
	return out
}

func containsEndpoint(eps []endpoint, e endpoint) bool {
	for _, x := range eps {
		if x == e {
			return true
		}
	}
	return false
}

// clearStale deletes the stale flows' conntrack entries, so their next packet is translated
// afresh to a current endpoint.
func clearStale(ct Conntrack, stale []staleFlow) error {
	var errs []error
	for _, s := range stale {
		f := &netlink.ConntrackFilter{}
		err := errors.Join(
			f.AddProtocol(unix.IPPROTO_UDP),
			f.AddPort(netlink.ConntrackOrigDstPort, uint16(s.flow.port)),
		)
		if !s.flow.addr.IsUnspecified() {
			err = errors.Join(err, f.AddIP(netlink.ConntrackOrigDstIP, net.IP(s.flow.addr.AsSlice())))
		}
		if s.endpoint.IsValid() {
			err = errors.Join(err, f.AddIP(netlink.ConntrackReplySrcIP, net.IP(s.endpoint.AsSlice())))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		family := netlink.InetFamily(unix.AF_INET)
		if s.flow.addr.Is6() {
			family = unix.AF_INET6
		}
		if _, err := ct.ConntrackDeleteFilters(netlink.ConntrackTable, family, f); err != nil {
			errs = append(errs, fmt.Errorf("clear UDP flows to %s:%d: %w", s.flow.addr, s.flow.port, err))
		}
	}
	return errors.Join(errs...)
}
