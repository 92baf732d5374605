package hostport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/fwmark"
)

// Table is the hostPort table; nothing else in it belongs to another feature.
const Table = "weft-hostport"

// Chain priorities: DNAT runs 5 before the standard dstnat (-100), where the proxy's
// nat-prerouting and nat-output sit, so a host port is the pod's even when its number is
// also a NodePort (as the kubelet's hostports won over kube-proxy's rules); masquerading
// runs 5 before srcnat (100), where weft-egress masquerades pods leaving the cluster.
const (
	DNATPriority = -105
	SNATPriority = 95
)

// family is one address family's part of the table.
type family struct {
	v6              bool
	match, typ, sfx string
}

var families = []family{{false, "ip", "ipv4_addr", "v4"}, {true, "ip6", "ipv6_addr", "v6"}}

func (f family) hostIPMap() string { return "hostip-" + f.sfx }
func (f family) anyMap() string    { return "any-" + f.sfx }

// Rules writes the table through nft (knftables.New(knftables.InetFamily, Table)).
type Rules struct {
	nft knftables.Interface
	// RouteLocalnet lets the bridge route packets from 127.0.0.1 to pods, for the node's
	// own connections to 127.0.0.1:<hostPort> (IPv4 only: IPv6 has no such switch, so ::1
	// is mapped only for clients that bind another source, as with the reference portmap
	// plugin). Nil in unit tests.
	RouteLocalnet func(bridge string) error
}

// New returns the rules over nft.
func New(nft knftables.Interface) *Rules { return &Rules{nft: nft} }

// base adds the table, its maps and its chains, and rewrites the chains' rules, in tx: every
// ADD does it, so a table someone deleted or an older rule set is repaired by the next pod,
// while the maps (added, never flushed) keep every other pod's entries.
func base(tx *knftables.Transaction, bridge string) {
	tx.Add(&knftables.Table{Comment: ptr.To("weft: pods' hostPorts (CNI portMappings)")})
	for _, f := range families {
		tx.Add(&knftables.Map{Name: f.hostIPMap(), Type: f.typ + " . inet_proto . inet_service : " + f.typ + " . inet_service",
			Comment: ptr.To("host address . protocol . host port : pod address . container port")})
		tx.Add(&knftables.Map{Name: f.anyMap(), Type: "inet_proto . inet_service : " + f.typ + " . inet_service",
			Comment: ptr.To("protocol . host port on every node address : pod address . container port")})
	}
	tx.Add(&knftables.Chain{Name: "hostports"})
	tx.Flush(&knftables.Chain{Name: "hostports"})
	for _, c := range []struct {
		name string
		hook knftables.BaseChainHook
		prio int
	}{{"prerouting", knftables.PreroutingHook, DNATPriority}, {"output", knftables.OutputHook, DNATPriority}, {"postrouting", knftables.PostroutingHook, SNATPriority}} {
		tx.Add(&knftables.Chain{Name: c.name, Type: ptr.To(knftables.NATType), Hook: ptr.To(c.hook), Priority: ptr.To(knftables.BaseChainPriority(strconv.Itoa(c.prio)))})
		tx.Flush(&knftables.Chain{Name: c.name})
	}
	tx.Add(&knftables.Rule{Chain: "prerouting", Rule: "jump hostports"})
	tx.Add(&knftables.Rule{Chain: "output", Rule: "jump hostports"})
	mark := fwmark.Hex(fwmark.HostportHairpin) // why: see internal/fwmark
	for _, f := range families {
		key := f.match + " daddr . meta l4proto . th dport"
		tx.Add(&knftables.Rule{Chain: "hostports", Rule: knftables.Concat("iifname", strconv.Quote(bridge), key, "@"+f.hostIPMap(), "meta mark set meta mark |", mark),
			Comment: ptr.To("a pod of this node: masquerade (hairpin)")})
		tx.Add(&knftables.Rule{Chain: "hostports", Rule: knftables.Concat("iifname", strconv.Quote(bridge), "meta nfproto", ipv(f), "fib daddr type local meta l4proto . th dport", "@"+f.anyMap(), "meta mark set meta mark |", mark),
			Comment: ptr.To("a pod of this node: masquerade (hairpin)")})
		tx.Add(&knftables.Rule{Chain: "hostports", Rule: knftables.Concat("dnat", f.match, "to", key, "map", "@"+f.hostIPMap())})
		tx.Add(&knftables.Rule{Chain: "hostports", Rule: knftables.Concat("meta nfproto", ipv(f), "fib daddr type local dnat", f.match, "to meta l4proto . th dport map", "@"+f.anyMap())})
	}
	tx.Add(&knftables.Rule{Chain: "postrouting", Rule: knftables.Concat("meta mark &", mark, "!= 0 masquerade")})
	tx.Add(&knftables.Rule{Chain: "postrouting", Rule: `ip saddr 127.0.0.0/8 ct status dnat oifname != "lo" masquerade`,
		Comment: ptr.To("the node's own connections to 127.0.0.1:<hostPort>")})
}

func ipv(f family) string {
	if f.v6 {
		return "ipv6"
	}
	return "ipv4"
}

func element(f family, owner string, e Entry) *knftables.Element {
	el := &knftables.Element{Value: []string{e.PodIP.String(), strconv.Itoa(e.PodPort)}, Comment: ptr.To(owner)}
	if e.HostIP.IsValid() {
		el.Map, el.Key = f.hostIPMap(), []string{e.HostIP.String(), e.Protocol, strconv.Itoa(e.HostPort)}
	} else {
		el.Map, el.Key = f.anyMap(), []string{e.Protocol, strconv.Itoa(e.HostPort)}
	}
	return el
}

func familyOf(e Entry) family {
	if e.IPv6() {
		return families[1]
	}
	return families[0]
}

// Add maps the entries to the attachment owner (the CNI container ID and interface), in one
// transaction with the table's own objects. A host port another attachment holds makes the
// whole ADD fail, naming it; nothing is half-applied.
func (r *Rules) Add(ctx context.Context, owner, bridge string, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if r.RouteLocalnet != nil && slices.ContainsFunc(entries, func(e Entry) bool {
		return !e.IPv6() && (!e.HostIP.IsValid() || e.HostIP.IsLoopback())
	}) {
		if err := r.RouteLocalnet(bridge); err != nil {
			return err
		}
	}
	tx := r.nft.NewTransaction()
	base(tx, bridge)
	for _, e := range entries {
		tx.Add(element(familyOf(e), owner, e))
	}
	if err := r.nft.Run(ctx, tx); err != nil {
		return r.explain(ctx, owner, entries, err)
	}
	return nil
}

// explain turns the kernel's "File exists" into the mapping that holds the port.
func (r *Rules) explain(ctx context.Context, owner string, entries []Entry, err error) error {
	if !knftables.IsAlreadyExists(err) && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	held, _ := r.list(ctx)
	for _, e := range entries {
		want := element(familyOf(e), owner, e)
		for _, h := range held {
			if h.Map == want.Map && slices.Equal(h.Key, want.Key) && ptr.Deref(h.Comment, "") != owner {
				return fmt.Errorf("hostPort %s is already mapped to %s for attachment %s: give this pod another hostPort or hostIP",
					e, strings.Join(h.Value, ":"), ptr.Deref(h.Comment, "?"))
			}
		}
	}
	return fmt.Errorf("nftables table inet %s: %w", Table, err)
}

// list returns every element of the table's maps; none when the table does not exist.
func (r *Rules) list(ctx context.Context) ([]*knftables.Element, error) {
	var out []*knftables.Element
	for _, f := range families {
		for _, m := range []string{f.hostIPMap(), f.anyMap()} {
			els, err := r.nft.ListElements(ctx, "map", m)
			if knftables.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("list map inet %s %s: %w", Table, m, err)
			}
			out = append(out, els...)
		}
	}
	return out, nil
}

// Remove deletes the owner's entries, whatever they are; none is not an error.
func (r *Rules) Remove(ctx context.Context, owner string) error {
	return r.Retain(ctx, func(o string) bool { return o != owner })
}

// Retain deletes the entries of every owner keep refuses, in one transaction (CNI GC).
func (r *Rules) Retain(ctx context.Context, keep func(owner string) bool) error {
	els, err := r.list(ctx)
	if err != nil {
		return err
	}
	tx := r.nft.NewTransaction()
	for _, el := range els {
		if !keep(ptr.Deref(el.Comment, "")) {
			tx.Delete(&knftables.Element{Map: el.Map, Key: el.Key})
		}
	}
	if tx.NumOperations() == 0 {
		return nil
	}
	if err := r.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	return nil
}

// Check returns an error naming each entry of the owner that is missing or differs, and any
// entry the owner holds beyond them (CNI CHECK).
func (r *Rules) Check(ctx context.Context, owner string, entries []Entry) error {
	els, err := r.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	found := map[*knftables.Element]bool{}
	for _, e := range entries {
		want := element(familyOf(e), owner, e)
		i := slices.IndexFunc(els, func(h *knftables.Element) bool { return h.Map == want.Map && slices.Equal(h.Key, want.Key) })
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("hostPort %s is missing from map inet %s %s", e, Table, want.Map))
		case ptr.Deref(els[i].Comment, "") != owner || !slices.Equal(els[i].Value, want.Value):
			errs = append(errs, fmt.Errorf("hostPort %s goes to %s for attachment %s instead", e, strings.Join(els[i].Value, ":"), ptr.Deref(els[i].Comment, "?")))
		default:
			found[els[i]] = true
		}
	}
	for _, h := range els {
		if ptr.Deref(h.Comment, "") == owner && !found[h] {
			errs = append(errs, fmt.Errorf("map inet %s %s holds %s -> %s for this attachment, which its portMappings do not have", Table, h.Map, strings.Join(h.Key, " . "), strings.Join(h.Value, ":")))
		}
	}
	return errors.Join(errs...)
}

// Cleanup deletes the whole table.
func (r *Rules) Cleanup(ctx context.Context) error {
	tx := r.nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := r.nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	return nil
}

// SetRouteLocalnet is RouteLocalnet on the real node: it lets the bridge carry packets whose
// source is 127.0.0.1 (postrouting then masquerades them to the bridge's address).
func SetRouteLocalnet(bridge string) error {
	p := "/proc/sys/net/ipv4/conf/" + bridge + "/route_localnet"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("let bridge %s route 127.0.0.1 to pods (route_localnet): %w", bridge, err)
	}
	return nil
}
