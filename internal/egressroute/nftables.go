package egressroute

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
)

// Chain priorities. Chain prerouting marks after the service proxy's DNAT (dstnat), so traffic
// to a Service whose endpoint sits in a declared network is routed too, and traffic DNATed to
// a pod is seen as in-cluster; it still runs before the routing decision, which is all a mark
// needs. Chain postrouting masquerades before other features' source NAT (srcnat), so a
// route's choice is made first. (The chains are named after their hooks: "mark" and
// "masquerade" are nft keywords.)
const (
	markPriority = "dstnat+10"
	masqPriority = "srcnat-10"
)

// tableComment says what table inet weft-egressroute is for.
const tableComment = "weft: EgressRoutes, pods' traffic to declared networks through declared next hops"

// skeletonOwner owns the chains and the cluster's ranges; each ready route owns its sets of
// pods under routeOwner. The chains' rules are the skeleton's: where routes overlap, their
// order follows from all of them together.
const skeletonOwner = "skeleton"

func routeOwner(name string) string { return "route/" + name }

// contents is the table for the ready plans, by owner. The table is small (a set of pods per
// route and family, a rule per destination); each sync states it whole and the nft.Table
// sends what changed, atomically.
func contents(plans []*plan, cluster []netip.Prefix) map[string]*nft.Contents {
	skel := nft.NewContents()
	skel.AddChain(&nft.Chain{Name: "prerouting", Hook: &nft.Hook{Type: "filter", Hook: "prerouting", Priority: markPriority},
		Comment: "pods' packets to a route's destinations get its mark, which selects its routing table"})
	skel.AddChain(&nft.Chain{Name: "postrouting", Hook: &nft.Hook{Type: "nat", Hook: "postrouting", Priority: masqPriority},
		Comment: "packets of routes that masquerade leave with the node's address"})
	for _, f := range netaddr.Families {
		addSet(skel, "cluster-"+f.Suffix(), f, "the cluster's own ranges: never rerouted")
	}
	for _, c := range cidr.Merge(cluster) {
		addElement(skel, "cluster-"+famIndex(c).Suffix(), c)
	}
	out := map[string]*nft.Contents{skeletonOwner: skel}
	type target struct {
		p   *plan
		dst netip.Prefix
	}
	var targets []target
	for _, p := range plans {
		if !p.entry.Ready {
			continue
		}
		own := nft.NewContents()
		for fi, f := range netaddr.Families {
			if len(p.dsts[fi]) == 0 {
				continue
			}
			src := setName(p.slot, f)
			addSet(own, src, f, "EgressRoute "+p.er.Name+": its pods on this node")
			for _, s := range cidr.Merge(p.pods[fi]) {
				addElement(own, src, s)
			}
			for _, d := range cidr.Merge(p.dsts[fi]) {
				targets = append(targets, target{p, d})
			}
		}
		out[routeOwner(p.er.Name)] = own
		if mark := markOf(p.slot, false); p.er.Spec.Masquerades() {
			skel.AddRules("postrouting", nft.Rule{Text: fmt.Sprintf("meta mark & %s == %s masquerade fully-random",
				fwmark.Hex(fwmark.RouteSlotMask|fwmark.KeepSource), fwmark.Hex(mark)), Comment: comment(p.er.Name)})
		}
	}
	// Where routes overlap for a pod, the most specific destination wins, as in a routing
	// table (0.0.0.0/0 through a firewall, 192.168.3.0/24 straight to its router), then the
	// route whose name sorts first: the first rule that matches marks and ends the chain.
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].dst.Bits() > targets[j].dst.Bits() })
	for _, t := range targets {
		f := netaddr.Families[famIndex(t.dst)]
		skel.AddRules("prerouting", nft.Rule{Text: fmt.Sprintf("%s saddr @%s %s daddr %s %s daddr != @cluster-%s "+
			// Only the route's own bits change: other software's marks stay.
			"meta mark set meta mark & %s | %s accept",
			f.Match(), setName(t.p.slot, f), f.Match(), t.dst, f.Match(), f.Suffix(),
			fwmark.Hex(^(fwmark.RouteSlotMask | fwmark.KeepSource)), fwmark.Hex(markOf(t.p.slot, !t.p.er.Spec.Masquerades()))),
			Comment: comment(t.p.er.Name)})
	}
	return out
}

// setName is a route's set of pods. It carries the slot, not the route's name: names may
// start with a digit and run to 253 characters, which nft identifiers may not. The set's
// comment names the route.
func setName(slot int, f netaddr.Family) string {
	return fmt.Sprintf("r%d-pods-%s", slot, f.Suffix())
}

func addSet(c *nft.Contents, name string, f netaddr.Family, text string) {
	c.AddSet(&nft.Set{Name: name, Type: f.AddrType(), Flags: []string{"interval"}, Comment: comment(text)})
}

// comment fits nft's 128-byte limit on comments (route names run to 253).
func comment(s string) string {
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func addElement(c *nft.Contents, set string, p netip.Prefix) {
	key := p.String()
	if p.IsSingleIP() {
		key = p.Addr().String()
	}
	c.AddElement(set, []string{key})
}
