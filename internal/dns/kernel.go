package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// Table is the DNS feature's nftables table (inet weft-dns); weft never touches another.
const Table = "weft-dns"

// Addresses puts the DNS addresses on the node so that its sockets can bind them and the
// kernel delivers packets for them locally.
type Addresses interface {
	Ensure(addrs []netip.Addr) error
	Remove(addrs []netip.Addr) error
}

// Loopback holds the addresses on the lo device, /32 and /128: a pod's packet to one comes in
// through its bridge and is delivered locally, as to any of the node's addresses.
type Loopback struct{ Handle *netlink.Handle }

func (l Loopback) link() (netlink.Link, error) {
	lo, err := l.Handle.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("loopback device: %w", err)
	}
	return lo, nil
}

// Ensure adds what is missing; lo needs no duplicate address detection, so the address is
// usable at once.
func (l Loopback) Ensure(addrs []netip.Addr) error {
	lo, err := l.link()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range addrs {
		na := &netlink.Addr{IPNet: hostNet(a), Scope: unix.RT_SCOPE_HOST, Flags: unix.IFA_F_NODAD}
		if err := l.Handle.AddrReplace(lo, na); err != nil {
			errs = append(errs, fmt.Errorf("add %s to lo: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// Remove deletes them; one already gone is no error.
func (l Loopback) Remove(addrs []netip.Addr) error {
	lo, err := l.link()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range addrs {
		if err := l.Handle.AddrDel(lo, &netlink.Addr{IPNet: hostNet(a)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from lo: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

func hostNet(a netip.Addr) *net.IPNet {
	bits := 32
	if a.Is6() {
		bits = 128
	}
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, bits)}
}

// dnsPort is the port the notrack rules match: DNS's, whichever the servers listen on.
const dnsPort = "53"

// writeTable makes table inet weft-dns hold exactly addrs. Its chains run at raw priority,
// before conntrack: DNS to and from these addresses is never tracked, so no NAT chain (the
// service proxy's, kube-proxy's, masquerade) sees it, only new connections ("ct state new")
// are filtered, and parallel A and AAAA queries from one socket cannot race in conntrack.
func writeTable(ctx context.Context, nft knftables.Interface, addrs []netip.Addr) error {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: ptr.To("weft: node-local cluster DNS, kept out of conntrack")})
	for _, c := range []struct {
		name string
		hook knftables.BaseChainHook
	}{{"prerouting", knftables.PreroutingHook}, {"output", knftables.OutputHook}} {
		tx.Add(&knftables.Chain{Name: c.name, Type: ptr.To(knftables.FilterType), Hook: ptr.To(c.hook), Priority: ptr.To(knftables.RawPriority)})
		tx.Flush(&knftables.Chain{Name: c.name})
	}
	for _, f := range []struct{ set, typ, match string }{{"addrs-v4", "ipv4_addr", "ip"}, {"addrs-v6", "ipv6_addr", "ip6"}} {
		tx.Add(&knftables.Set{Name: f.set, Type: f.typ, Comment: ptr.To("the cluster DNS addresses this node answers")})
		tx.Flush(&knftables.Set{Name: f.set})
		for _, a := range addrs {
			if (f.set == "addrs-v6") == a.Is6() {
				tx.Add(&knftables.Element{Set: f.set, Key: []string{a.String()}})
			}
		}
		for _, chain := range []string{"prerouting", "output"} {
			tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat(f.match, "daddr", "@"+f.set, "meta l4proto { tcp, udp } th dport", dnsPort, "notrack")})
			tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat(f.match, "saddr", "@"+f.set, "meta l4proto { tcp, udp } th sport", dnsPort, "notrack")})
		}
	}
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	return nil
}

// tableAddrs are the addresses the table holds now (none if it does not exist): what a
// previous run put on lo.
func tableAddrs(ctx context.Context, nft knftables.Interface) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, set := range []string{"addrs-v4", "addrs-v6"} {
		els, err := nft.ListElements(ctx, "set", set)
		if knftables.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("nftables set %s in inet %s: %w", set, Table, err)
		}
		for _, e := range els {
			if len(e.Key) == 1 {
				if a, err := netip.ParseAddr(e.Key[0]); err == nil {
					out = append(out, a)
				}
			}
		}
	}
	return out, nil
}

// deleteTable removes the table; it being gone already is no error.
func deleteTable(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("delete nftables table inet %s: %w", Table, err)
	}
	return nil
}
