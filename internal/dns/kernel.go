package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
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

// tableComment says what table inet weft-dns is for.
const tableComment = "weft: node-local cluster DNS, kept out of conntrack"

// The table's owners: the chains, sets and rules, which never change, and the addresses.
const (
	skeletonOwner  = "skeleton"
	addressesOwner = "addresses"
)

// addrSet is the set of a family's cluster DNS addresses.
func addrSet(f netaddr.Family) string { return "addrs-" + f.Suffix() }

// skeleton is table inet weft-dns without its addresses. Its chains run at raw priority,
// before conntrack: DNS to and from these addresses is never tracked, so no NAT chain (the
// service proxy's, kube-proxy's, masquerade) sees it, only new connections ("ct state new")
// are filtered, and parallel A and AAAA queries from one socket cannot race in conntrack.
func skeleton() *nft.Contents {
	c := nft.NewContents()
	for _, ch := range []struct{ name, from string }{{"prerouting", "arriving at this node"}, {"output", "this node sends"}} {
		c.AddChain(&nft.Chain{Name: ch.name, Hook: &nft.Hook{Type: "filter", Hook: ch.name, Priority: "raw"},
			Comment: "cluster DNS packets " + ch.from + " skip conntrack"})
	}
	for _, f := range netaddr.Families {
		set := addrSet(f)
		c.AddSet(&nft.Set{Name: set, Type: f.AddrType(), Comment: "the cluster DNS addresses this node answers"})
		for _, chain := range []string{"prerouting", "output"} {
			c.AddRules(chain,
				nft.Rule{Text: fmt.Sprintf("%s daddr @%s meta l4proto { tcp, udp } th dport %s notrack", f.Match(), set, dnsPort),
					Comment: "questions to the cluster DNS: untracked"},
				nft.Rule{Text: fmt.Sprintf("%s saddr @%s meta l4proto { tcp, udp } th sport %s notrack", f.Match(), set, dnsPort),
					Comment: "answers from the cluster DNS: untracked"})
		}
	}
	return c
}

// writeTable makes table inet weft-dns hold exactly addrs, in one transaction.
func writeTable(ctx context.Context, t *nft.Table, addrs []netip.Addr) error {
	c := nft.NewContents()
	for _, a := range addrs {
		c.AddElement(addrSet(netaddr.Of(a)), []string{a.String()})
	}
	t.Set(skeletonOwner, skeleton())
	t.Set(addressesOwner, c)
	if _, err := t.Sync(ctx, true); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// tableAddrs are the addresses the kernel's table holds now (none if it does not exist):
// what a previous run put on lo.
func tableAddrs(ctx context.Context, t *nft.Table) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range netaddr.Families {
		els, err := t.Elements(ctx, addrSet(f))
		if err != nil {
			return nil, fmt.Errorf("nftables set %s in inet %s: %w", addrSet(f), Table, err)
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
func deleteTable(ctx context.Context, t *nft.Table) error {
	if err := t.Delete(ctx); err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", Table, err)
	}
	return nil
}
