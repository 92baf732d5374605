package egressroute

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
)

// Chain priorities. Chain prerouting marks after the service proxy's DNAT (dstnat), so traffic
// to a Service whose endpoint sits in a declared network is routed too, and traffic DNATed to
// a pod is seen as in-cluster; it still runs before the routing decision, which is all a mark
// needs. Chain postrouting masquerades before other features' source NAT (srcnat), so a
// route's choice is made first. (The chains are named after their hooks: "mark" and
// "masquerade" are nft keywords.)
const (
	markPriority = knftables.BaseChainPriority("dstnat+10")
	masqPriority = knftables.BaseChainPriority("srcnat-10")
)

// transaction is the whole table for the ready plans. stale names the sets in the table now
// that no plan wants; they are deleted in the same transaction. The table is small (a set of
// pods per route and family, a rule per destination), so it is rewritten whole: atomically,
// and nothing drifts.
func transaction(tx *knftables.Transaction, plans []*plan, cluster []netip.Prefix, stale []string) {
	tx.Add(&knftables.Table{Comment: ptr.To("weft: EgressRoutes, pods' traffic to declared networks through declared next hops")})
	tx.Add(&knftables.Chain{Name: "prerouting", Type: ptr.To(knftables.FilterType), Hook: ptr.To(knftables.PreroutingHook), Priority: ptr.To(markPriority),
		Comment: ptr.To("pods' packets to a route's destinations get its mark, which selects its routing table")})
	tx.Flush(&knftables.Chain{Name: "prerouting"})
	tx.Add(&knftables.Chain{Name: "postrouting", Type: ptr.To(knftables.NATType), Hook: ptr.To(knftables.PostroutingHook), Priority: ptr.To(masqPriority)})
	tx.Flush(&knftables.Chain{Name: "postrouting"})
	for _, f := range netaddr.Families {
		addSet(tx, "cluster-"+f.Suffix(), f, "the cluster's own ranges: never rerouted")
	}
	for _, c := range cidr.Merge(cluster) {
		addElement(tx, "cluster-"+famIndex(c).Suffix(), c)
	}
	for _, name := range stale {
		tx.Delete(&knftables.Set{Name: name})
	}
	type target struct {
		p   *plan
		dst netip.Prefix
	}
	var targets []target
	for _, p := range plans {
		if !p.entry.Ready {
			continue
		}
		for fi, f := range netaddr.Families {
			if len(p.dsts[fi]) == 0 {
				continue
			}
			src := setName(p.slot, f)
			addSet(tx, src, f, "EgressRoute "+p.er.Name+": its pods on this node")
			for _, s := range cidr.Merge(p.pods[fi]) {
				addElement(tx, src, s)
			}
			for _, d := range cidr.Merge(p.dsts[fi]) {
				targets = append(targets, target{p, d})
			}
		}
		if mark := markOf(p.slot, false); p.er.Spec.Masquerades() {
			tx.Add(&knftables.Rule{Chain: "postrouting", Rule: knftables.Concat(
				"meta mark &", fwmark.Hex(fwmark.RouteSlotMask|fwmark.KeepSource), "==", fwmark.Hex(mark), "masquerade fully-random",
			), Comment: comment(p.er.Name)})
		}
	}
	// Where routes overlap for a pod, the most specific destination wins, as in a routing
	// table (0.0.0.0/0 through a firewall, 192.168.3.0/24 straight to its router), then the
	// route whose name sorts first: the first rule that matches marks and ends the chain.
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].dst.Bits() > targets[j].dst.Bits() })
	for _, t := range targets {
		f := netaddr.Families[famIndex(t.dst)]
		tx.Add(&knftables.Rule{Chain: "prerouting", Rule: knftables.Concat(
			f.Match(), "saddr", "@", setName(t.p.slot, f), f.Match(), "daddr", t.dst, f.Match(), "daddr", "!=", "@", "cluster-"+f.Suffix(),
			// Only the route's own bits change: other software's marks stay.
			"meta mark set meta mark &", fwmark.Hex(^(fwmark.RouteSlotMask | fwmark.KeepSource)), "|", fwmark.Hex(markOf(t.p.slot, !t.p.er.Spec.Masquerades())),
			"accept",
		), Comment: comment(t.p.er.Name)})
	}
}

// staleSets are the sets in the table that the plans do not use.
func staleSets(ctx context.Context, nft knftables.Interface, plans []*plan) ([]string, error) {
	have, err := nft.List(ctx, "sets")
	if knftables.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list sets of inet %s: %w", Table, err)
	}
	want := map[string]bool{"cluster-v4": true, "cluster-v6": true}
	for _, p := range plans {
		for fi, f := range netaddr.Families {
			if p.entry.Ready && len(p.dsts[fi]) > 0 {
				want[setName(p.slot, f)] = true
			}
		}
	}
	var stale []string
	for _, name := range have {
		if !want[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	return stale, nil
}

// setName is a route's set of pods. It carries the slot, not the route's name: names may
// start with a digit and run to 253 characters, which nft identifiers may not. The set's
// comment names the route.
func setName(slot int, f netaddr.Family) string {
	return fmt.Sprintf("r%d-pods-%s", slot, f.Suffix())
}

func addSet(tx *knftables.Transaction, name string, f netaddr.Family, text string) {
	tx.Add(&knftables.Set{Name: name, Type: f.AddrType(), Flags: []knftables.SetFlag{knftables.IntervalFlag}, Comment: comment(text)})
	tx.Flush(&knftables.Set{Name: name})
}

// comment fits nft's 128-byte limit on comments (route names run to 253).
func comment(s string) *string {
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return &s
}

func addElement(tx *knftables.Transaction, set string, p netip.Prefix) {
	key := p.String()
	if p.IsSingleIP() {
		key = p.Addr().String()
	}
	tx.Add(&knftables.Element{Set: set, Key: []string{key}})
}
