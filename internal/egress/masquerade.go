// Package egress decides how pod traffic leaves the cluster network. Masquerade keeps the table
// inet weft-egress: traffic from pods to anything outside the cluster's own ranges leaves with
// the node's address (a subnet only the nodes route to answers the node, which it knows how to
// route back to, where it would drop a pod's address it has no route for), never pod-to-pod or pod-to-service traffic.
package egress

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
)

// Table is weft's egress table; weft never touches another.
const Table = "weft-egress"

// Masquerade configures source NAT for pods' traffic out of the cluster.
type Masquerade struct {
	table *nft.Table
	// PodCIDRs are the cluster's pod ranges (sources to masquerade).
	PodCIDRs []netip.Prefix
	// Keep are destinations that see pods' own addresses: the cluster's pod and service ranges
	// as the flags give them and whatever --no-masquerade-cidr adds (routed networks). The
	// ServiceCIDR objects, which change at run time, come with each Sync.
	Keep []netip.Prefix
	// IPv6 masquerades IPv6 too (K3s's --flannel-ipv6-masq); IPv6 pods are usually routable.
	IPv6 bool
}

// NewMasquerade writes the table through k (nft.New(nft.InetFamily, Table, "") for the node's).
func NewMasquerade(k nft.Kernel, podCIDRs, keep []netip.Prefix, ipv6 bool) *Masquerade {
	return &Masquerade{table: nft.NewTable(k, "weft: masquerade pod traffic that leaves the cluster"), PodCIDRs: podCIDRs, Keep: keep, IPv6: ipv6}
}

// owner is the table's only owner: every set and rule follows from the same few ranges.
const owner = "masquerade"

// Sync brings the table in line in one transaction, comparing it with the kernel's first: a
// restart or a repair converges on the same rules, and no packet ever sees half of them.
// serviceCIDRs are the ranges of the cluster's ServiceCIDR objects now: pods' traffic to a
// range added at run time stays inside the cluster like traffic to the first one.
func (m *Masquerade) Sync(ctx context.Context, serviceCIDRs []netip.Prefix) error {
	m.table.Set(owner, m.contents(serviceCIDRs))
	if _, err := m.table.Sync(ctx, true); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

// contents is the whole table for these service ranges.
func (m *Masquerade) contents(serviceCIDRs []netip.Prefix) *nft.Contents {
	c := nft.NewContents()
	c.AddChain(&nft.Chain{Name: "postrouting", Hook: &nft.Hook{Type: "nat", Hook: "postrouting", Priority: "srcnat"},
		Comment: "pods' traffic to outside the cluster leaves with the node's address"})
	for _, fam := range netaddr.Families {
		pods, keep := "pods-"+fam.Suffix(), "keep-"+fam.Suffix()
		for _, s := range []string{pods, keep} {
			c.AddSet(&nft.Set{Name: s, Type: fam.AddrType(), Flags: []string{"interval"}})
		}
		// The ranges come from several places and may overlap (ServiceCIDRs do by design, a
		// --no-masquerade-cidr may cover the pod range); the sets refuse overlapping elements.
		n := 0
		for _, p := range cidr.Merge(m.PodCIDRs) {
			if p.Addr().Is6() == fam.Is6() {
				c.AddElement(pods, []string{p.String()})
				n++
			}
		}
		for _, p := range cidr.Merge(append(slices.Clip(m.Keep), serviceCIDRs...)) {
			if p.Addr().Is6() == fam.Is6() {
				c.AddElement(keep, []string{p.String()})
			}
		}
		if n == 0 || (fam.Is6() && !m.IPv6) {
			continue
		}
		c.AddRules("postrouting", nft.Rule{Text: fmt.Sprintf("%s saddr @%s %s daddr != @%s meta mark & %s == 0 masquerade fully-random",
			fam.Match(), pods, fam.Match(), keep, fwmark.Hex(fwmark.KeepSource)),
			Comment: "pods leaving the cluster take the node's address"})
	}
	return c
}

// Cleanup removes the table, for when masquerading is turned off.
func (m *Masquerade) Cleanup(ctx context.Context) error {
	return m.table.Delete(ctx)
}
