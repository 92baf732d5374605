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

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
)

// Table is weft's egress table; weft never touches another.
const Table = "weft-egress"

// Masquerade configures source NAT for pods' traffic out of the cluster.
type Masquerade struct {
	nft knftables.Interface
	// PodCIDRs are the cluster's pod ranges (sources to masquerade).
	PodCIDRs []netip.Prefix
	// Keep are destinations that see pods' own addresses: the cluster's pod and service ranges
	// as the flags give them and whatever --no-masquerade-cidr adds (routed networks). The
	// ServiceCIDR objects, which change at run time, come with each Sync.
	Keep []netip.Prefix
	// IPv6 masquerades IPv6 too (K3s's --flannel-ipv6-masq); IPv6 pods are usually routable.
	IPv6 bool
}

// NewMasquerade uses nft, the table's interface (knftables.New(knftables.InetFamily, Table)).
func NewMasquerade(nft knftables.Interface, podCIDRs, keep []netip.Prefix, ipv6 bool) *Masquerade {
	return &Masquerade{nft: nft, PodCIDRs: podCIDRs, Keep: keep, IPv6: ipv6}
}

// Sync writes the whole table in one transaction: a restart or a repair converges on the same
// rules, and no packet ever sees half of them. serviceCIDRs are the ranges of the cluster's
// ServiceCIDR objects now: pods' traffic to a range added at run time stays inside the cluster
// like traffic to the first one.
func (m *Masquerade) Sync(ctx context.Context, serviceCIDRs []netip.Prefix) error {
	tx := m.nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: ptr.To("weft: masquerade pod traffic that leaves the cluster")})
	tx.Add(&knftables.Chain{Name: "postrouting", Type: ptr.To(knftables.NATType), Hook: ptr.To(knftables.PostroutingHook), Priority: ptr.To(knftables.SNATPriority)})
	tx.Flush(&knftables.Chain{Name: "postrouting"})
	for _, fam := range netaddr.Families {
		pods, keep := "pods-"+fam.Suffix(), "keep-"+fam.Suffix()
		for _, s := range []string{pods, keep} {
			tx.Add(&knftables.Set{Name: s, Type: fam.AddrType(), Flags: []knftables.SetFlag{knftables.IntervalFlag}})
			tx.Flush(&knftables.Set{Name: s})
		}
		// The ranges come from several places and may overlap (ServiceCIDRs do by design, a
		// --no-masquerade-cidr may cover the pod range); the sets refuse overlapping elements.
		n := 0
		for _, p := range cidr.Merge(m.PodCIDRs) {
			if p.Addr().Is6() == fam.Is6() {
				tx.Add(&knftables.Element{Set: pods, Key: []string{p.String()}})
				n++
			}
		}
		for _, p := range cidr.Merge(append(slices.Clip(m.Keep), serviceCIDRs...)) {
			if p.Addr().Is6() == fam.Is6() {
				tx.Add(&knftables.Element{Set: keep, Key: []string{p.String()}})
			}
		}
		if n == 0 || (fam.Is6() && !m.IPv6) {
			continue
		}
		tx.Add(&knftables.Rule{Chain: "postrouting", Rule: knftables.Concat(
			fam.Match(), "saddr", "@"+pods, fam.Match(), "daddr", "!=", "@"+keep,
			"meta mark &", fwmark.Hex(fwmark.KeepSource), "== 0", "masquerade", "fully-random",
		), Comment: ptr.To("pods leaving the cluster take the node's address")})
	}
	if err := m.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	return nil
}

// Cleanup removes the table, for when masquerading is turned off.
func (m *Masquerade) Cleanup(ctx context.Context) error {
	tx := m.nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := m.nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}
