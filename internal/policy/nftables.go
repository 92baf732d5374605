package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netaddr"
)

// Table is policy's nftables table; policy never touches another.
const Table = "weft-policy"

// setType is each set's key type for one family.
func setType(kind string, f netaddr.Family) (typ string, interval bool) {
	addr := f.AddrType()
	switch kind {
	case "gated":
		return addr, true
	case "in-any", "out-any", "in-admin-any", "out-admin-any", "in-baseline-any", "out-baseline-any":
		typ = addr + " . " + addr
	case "in-ports", "out-ports", "in-admin-ports", "out-admin-ports", "in-baseline-ports", "out-baseline-ports":
		typ = addr + " . " + addr + " . inet_proto . inet_service"
	default:
		return addr, false
	}
	if isMap(kind) {
		typ += " : verdict"
	}
	return typ, true
}

// addSkeleton writes the table, its sets and its chains. The chains are the same whatever
// the policies: every verdict is a set lookup keyed by the pod's address, so a packet's cost
// does not grow with the number of policies, and a change of policy is a change of elements.
//
// Hooks: forward at filter priority, after the proxy's DNAT (dstnat), so a connection through
// a Service is judged by the endpoint it was sent to, and before masquerade (srcnat), so egress
// to the outside is judged by the pod's own address. Input judges pods' egress to their own
// node. Traffic from the node itself to its pods (probes) never passes forward: it is allowed.
func addSkeleton(tx *knftables.Transaction) {
	tx.Add(&knftables.Table{Comment: ptr.To("weft: NetworkPolicy")})
	for _, f := range netaddr.Families {
		for _, kind := range setKinds {
			typ, interval := setType(kind, f)
			s := &knftables.Set{Name: kind + "-" + f.Suffix(), Type: typ}
			if interval {
				s.Flags = []knftables.SetFlag{knftables.IntervalFlag}
			}
			tx.Add(s)
		}
		for _, kind := range mapKinds {
			typ, _ := setType(kind, f)
			tx.Add(&knftables.Map{Name: kind + "-" + f.Suffix(), Type: typ, Flags: []knftables.SetFlag{knftables.IntervalFlag}})
		}
	}
	for _, c := range []struct{ name, hook string }{{"forward", "forward"}, {"input", "input"}} {
		tx.Add(&knftables.Chain{Name: c.name, Type: ptr.To(knftables.FilterType), Hook: ptr.To(knftables.BaseChainHook(c.hook)), Priority: ptr.To(knftables.FilterPriority)})
		tx.Flush(&knftables.Chain{Name: c.name})
	}
	for _, f := range netaddr.Families {
		for _, dir := range []string{"ingress", "egress"} {
			for _, stage := range []string{"", "-np", "-baseline"} {
				tx.Add(&knftables.Chain{Name: dir + stage + "-" + f.Suffix()})
				tx.Flush(&knftables.Chain{Name: dir + stage + "-" + f.Suffix()})
			}
		}
	}
	rule := func(chain, comment string, parts ...string) {
		tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat(parts), Comment: ptr.To(comment)})
	}
	rule("forward", "replies and related packets of allowed connections", "ct state established,related accept")
	rule("input", "replies and related packets of allowed connections", "ct state established,related accept")
	for _, f := range netaddr.Families {
		m, s := f.Match(), f.Suffix()
		rule("forward", "a new local pod waits until its policies are read", m, "daddr @gated-"+s, m, "daddr != @known-"+s, "drop")
		rule("forward", "a new local pod waits until its policies are read", m, "saddr @gated-"+s, m, "saddr != @known-"+s, "drop")
		rule("forward", "ingress to this node's pods", m, "daddr @known-"+s, "jump ingress-"+s)
		rule("forward", "egress from this node's pods", m, "saddr @known-"+s, "jump egress-"+s)
		rule("input", "egress from this node's pods to their node", m, "saddr @known-"+s, "jump egress-"+s)
		for _, d := range []struct{ chain, set, pod, peer, what string }{
			{"ingress", "in", "daddr", "saddr", "ingress that no NetworkPolicy of the destination pod allows"},
			{"egress", "out", "saddr", "daddr", "egress that no NetworkPolicy of the source pod allows"},
		} {
			chain, np, baseline := d.chain+"-"+s, d.chain+"-np-"+s, d.chain+"-baseline-"+s
			ports, other := []string{"meta l4proto { tcp, udp, sctp }", m, d.pod, ".", m, d.peer, ". meta l4proto . th dport"}, []string{"meta l4proto != { tcp, udp, sctp }", m, d.pod, ".", m, d.peer}
			// Tiers in order: Admin ClusterNetworkPolicies, NetworkPolicies, Baseline.
			rule(chain, "ClusterNetworkPolicy tier Admin: first matching rule", append(ports, "vmap @"+d.set+"-admin-ports-"+s)...)
			rule(chain, "ClusterNetworkPolicy tier Admin: first matching rule", append(other, "vmap @"+d.set+"-admin-any-"+s)...)
			rule(chain, "NetworkPolicy", "goto "+np)
			rule(np, "not isolated by any NetworkPolicy", m, d.pod, "!= @"+d.set+"-isolated-"+s, "goto "+baseline)
			rule(np, "allowed by a rule without ports", m, d.pod, ".", m, d.peer, "@"+d.set+"-any-"+s, "return")
			rule(np, "allowed by a rule with ports", append(ports, "@"+d.set+"-ports-"+s, "return")...)
			rule(np, d.what, "counter drop")
			rule(baseline, "ClusterNetworkPolicy tier Baseline: first matching rule", append(ports, "vmap @"+d.set+"-baseline-ports-"+s)...)
			rule(baseline, "ClusterNetworkPolicy tier Baseline: first matching rule", append(other, "vmap @"+d.set+"-baseline-any-"+s)...)
		}
	}
}

// writeElements adds to tx what turns the sets' content from have into want: deletions first,
// so a changed element never meets its old self in an interval set. With have nil, every set
// is flushed and written whole.
func writeElements(tx *knftables.Transaction, have, want desired) int {
	n := 0
	names := setNames()
	for _, set := range names {
		if have == nil {
			if isMap(set) {
				tx.Flush(&knftables.Map{Name: set})
			} else {
				tx.Flush(&knftables.Set{Name: set})
			}
			continue
		}
		for k, e := range have[set] {
			if w, ok := want[set][k]; !ok || w.value != e.value || w.comment != e.comment {
				tx.Delete(elementOf(set, e))
				n++
			}
		}
	}
	for _, set := range names {
		keys := make([]string, 0, len(want[set]))
		for k := range want[set] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := want[set][k]
			if h, ok := have[set][k]; ok && h.value == e.value && h.comment == e.comment {
				continue
			}
			el := elementOf(set, e)
			if e.comment != "" {
				el.Comment = ptr.To(e.comment)
			}
			tx.Add(el)
			n++
		}
	}
	return n
}

func setNames() []string {
	var out []string
	for _, f := range netaddr.Families {
		for _, kind := range append(slices.Clone(setKinds), mapKinds...) {
			out = append(out, kind+"-"+f.Suffix())
		}
	}
	return out
}

// isMap says whether a set kind or name is a tier's verdict map.
func isMap(name string) bool {
	return strings.Contains(name, "-admin-") || strings.Contains(name, "-baseline-")
}

func elementOf(set string, e element) *knftables.Element {
	if isMap(set) {
		return &knftables.Element{Map: set, Key: e.key, Value: []string{e.value}}
	}
	return &knftables.Element{Set: set, Key: e.key}
}

// apply runs one transaction: the whole table when full, else only the elements that changed.
func apply(ctx context.Context, nft knftables.Interface, full bool, have, want desired) (changed int, err error) {
	tx := nft.NewTransaction()
	if full {
		addSkeleton(tx)
		have = nil
	}
	changed = writeElements(tx, have, want)
	if !full && changed == 0 {
		return 0, nil
	}
	if err := nft.Run(ctx, tx); err != nil {
		return 0, fmt.Errorf("nftables table inet %s: %w", Table, err)
	}
	return changed, nil
}

// cleanup removes the table, for when policy is turned off.
func cleanup(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) && !strings.Contains(err.Error(), "No such file") {
		return err
	}
	return nil
}
