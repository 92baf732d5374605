package hostport

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack deletes conntrack entries; *netlink.Handle has it.
type Conntrack interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

// FlushUDP deletes the conntrack entries of the entries' UDP host ports. A client that sent to
// the port before the mapping existed (a probe, a retry loop) has an entry that sends its
// packets on to the node itself, and UDP has no connection end to expire it: without the
// flush, the new mapping would not see that client for as long as it keeps sending.
func FlushUDP(ct Conntrack, entries []Entry) error {
	var errs []error
	for _, e := range entries {
		if e.Protocol != "udp" {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return err
		}
		if err := f.AddPort(netlink.ConntrackOrigDstPort, uint16(e.HostPort)); err != nil {
			return err
		}
		if e.HostIP.IsValid() {
			if err := f.AddIP(netlink.ConntrackOrigDstIP, e.HostIP.AsSlice()); err != nil {
				return err
			}
		}
		fam := netlink.InetFamily(unix.AF_INET)
		if e.IPv6() {
			fam = unix.AF_INET6
		}
		if _, err := ct.ConntrackDeleteFilters(netlink.ConntrackTable, fam, f); err != nil {
			errs = append(errs, fmt.Errorf("flush conntrack entries of udp port %d: %w", e.HostPort, err))
		}
	}
	return errors.Join(errs...)
}
