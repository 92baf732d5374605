package policy

import (
	"strings"

	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
)

// Table is policy's nftables table; policy never touches another.
const Table = "weft-policy"

// The table's sets, one of each per family (suffix -v4, -v6), and what each holds. Every
// element but the gate's is keyed first by the address of one of this node's pods.
var setKinds = []struct{ kind, holds string }{
	{"known", "addresses of this node's pods that policy has read (others wait: gated)"},
	{"gated", "this node's pod ranges while any policy exists: an address in them not known yet is dropped"},
	{"in-isolated", "this node's pods some NetworkPolicy selects for ingress"},
	{"out-isolated", "this node's pods some NetworkPolicy selects for egress"},
	{"in-any", "pod . peer range: every protocol and port allowed in"},
	{"out-any", "pod . peer range: every protocol and port allowed out"},
	{"in-ports", "pod . peer range . protocol . port range: allowed in"},
	{"out-ports", "pod . peer range . protocol . port range: allowed out"},
}

// mapKinds are the ClusterNetworkPolicy tiers' verdict maps, keyed like in-any and in-ports,
// holding the verdict of the first rule that matches.
var mapKinds = []string{"in-admin-any", "in-admin-ports", "in-baseline-any", "in-baseline-ports",
	"out-admin-any", "out-admin-ports", "out-baseline-any", "out-baseline-ports"}

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

// mapComment says what a tier's verdict map decides.
func mapComment(kind string) string {
	dir, rest, _ := strings.Cut(kind, "-")
	tier, keys, _ := strings.Cut(rest, "-")
	what := map[string]string{"in": "ingress", "out": "egress"}[dir] + " with ports (TCP, UDP, SCTP)"
	if keys == "any" {
		what = map[string]string{"in": "ingress", "out": "egress"}[dir] + " without ports"
	}
	return "ClusterNetworkPolicy tier " + map[string]string{"admin": "Admin", "baseline": "Baseline"}[tier] + ", " + what + ": the first matching rule's verdict"
}

// skeleton is the table's fixed part: its sets and its chains. The chains are the same
// whatever the policies: every verdict is a set lookup keyed by the pod's address, so a
// packet's cost does not grow with the number of policies, and a change of policy is a
// change of elements.
//
// Hooks: forward at filter priority, after the proxy's DNAT (dstnat), so a connection through
// a Service is judged by the endpoint it was sent to, and before masquerade (srcnat), so egress
// to the outside is judged by the pod's own address. Input judges pods' egress to their own
// node. Traffic from the node itself to its pods (probes) never passes forward: it is allowed.
func skeleton() *nft.Contents {
	c := nft.NewContents()
	for _, f := range netaddr.Families {
		for _, k := range setKinds {
			typ, interval := setType(k.kind, f)
			s := &nft.Set{Name: k.kind + "-" + f.Suffix(), Type: typ, Comment: k.holds}
			if interval {
				s.Flags = []string{"interval"}
			}
			c.AddSet(s)
		}
		for _, kind := range mapKinds {
			typ, _ := setType(kind, f)
			c.AddSet(&nft.Set{Name: kind + "-" + f.Suffix(), Type: typ, Flags: []string{"interval"}, Comment: mapComment(kind)})
		}
	}
	established := nft.Rule{Text: "ct state established,related accept", Comment: "replies and related packets of allowed connections"}
	c.AddChain(&nft.Chain{Name: "forward", Hook: &nft.Hook{Type: "filter", Hook: "forward", Priority: "filter"},
		Comment: "NetworkPolicy for packets to and from this node's pods", Rules: []nft.Rule{established}})
	c.AddChain(&nft.Chain{Name: "input", Hook: &nft.Hook{Type: "filter", Hook: "input", Priority: "filter"},
		Comment: "NetworkPolicy for packets from this node's pods to their node", Rules: []nft.Rule{established}})
	rule := func(chain, comment string, parts ...string) {
		c.AddRules(chain, nft.Rule{Text: strings.Join(parts, " "), Comment: comment})
	}
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
			c.AddChain(&nft.Chain{Name: chain, Comment: f.String() + " " + d.chain + " of this node's pods: the tiers in order"})
			c.AddChain(&nft.Chain{Name: np, Comment: f.String() + " " + d.chain + ": the NetworkPolicy tier"})
			c.AddChain(&nft.Chain{Name: baseline, Comment: f.String() + " " + d.chain + ": the ClusterNetworkPolicy Baseline tier"})
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
	return c
}

// The table's owners (nft.Table): the skeleton, the gate (this node's pod ranges), and one
// per local pod, holding every element keyed by its addresses. A pod that comes or goes, or a
// policy that selects a few pods, changes a few owners' elements, and the table sends only the
// elements that changed, in one transaction.
const (
	skeletonOwner = "skeleton"
	gateOwner     = "gate"
)

func podOwner(p pod) string { return "pod " + p.namespace + "/" + p.name }

// byOwner groups the elements of d by owner; local are this node's pods.
func byOwner(d desired, local []pod) map[string]*nft.Contents {
	ownerOf := map[string]string{}
	for _, p := range local {
		for _, a := range p.ips {
			ownerOf[a.String()] = podOwner(p)
		}
	}
	out := map[string]*nft.Contents{}
	for set, elements := range d {
		for _, e := range elements {
			owner := gateOwner
			if !strings.HasPrefix(set, "gated-") {
				owner = ownerOf[e.key[0]]
			}
			c := out[owner]
			if c == nil {
				c = nft.NewContents()
				out[owner] = c
			}
			el := &nft.Element{Set: set, Key: e.key, Comment: e.comment}
			if e.value != "" {
				el.Value = []string{e.value}
			}
			c.AddElements(el)
		}
	}
	return out
}

func setNames() []string {
	var out []string
	for _, f := range netaddr.Families {
		for _, k := range setKinds {
			out = append(out, k.kind+"-"+f.Suffix())
		}
		for _, kind := range mapKinds {
			out = append(out, kind+"-"+f.Suffix())
		}
	}
	return out
}

// isMap says whether a set kind or name is a tier's verdict map.
func isMap(name string) bool {
	return strings.Contains(name, "-admin-") || strings.Contains(name, "-baseline-")
}
