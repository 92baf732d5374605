package policy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/weftnet/weft/internal/netaddr"
)

// ClusterNetworkPolicies (policy.networking.k8s.io/v1alpha2) come in two tiers around the
// NetworkPolicies: Admin before them, Baseline after. In a tier, policies go by priority
// (lower first) and then name, rules in order, and the first rule that matches decides:
// Accept ends the direction's checks, Deny drops, Pass goes on to the next tier. For each local
// pod and direction, the rules become one interval verdict map per tier whose elements are
// disjoint and carry the first match's verdict (firstMatch): a packet's cost is one lookup per
// tier whatever the number of policies.

// node is what policy reads of a Node: labels for the nodes peer, addresses to match.
type node struct {
	labels map[string]string
	ips    []netip.Addr
}

func nodeOf(n *corev1.Node) node {
	out := node{labels: n.Labels}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out.ips = append(out.ips, ip.Unmap())
			}
		}
	}
	return out
}

// tierVerdicts are the nft verdicts of a tier's actions; dir is "ingress" or "egress". An
// Admin Pass goes to the NetworkPolicy chain of the packet's family (added by addRuled).
func tierVerdicts(tier cnp.Tier, dir string) map[cnp.ClusterNetworkPolicyRuleAction]string {
	if tier == cnp.AdminTier {
		return map[cnp.ClusterNetworkPolicyRuleAction]string{cnp.ClusterNetworkPolicyRuleActionAccept: "return",
			cnp.ClusterNetworkPolicyRuleActionDeny: "drop", cnp.ClusterNetworkPolicyRuleActionPass: "goto " + dir + "-np-"}
	}
	return map[cnp.ClusterNetworkPolicyRuleAction]string{cnp.ClusterNetworkPolicyRuleActionAccept: "return",
		cnp.ClusterNetworkPolicyRuleActionDeny: "drop", cnp.ClusterNetworkPolicyRuleActionPass: "return"}
}

// orderCNPs sorts policies as they are evaluated: by priority, then name.
func orderCNPs(in []*cnp.ClusterNetworkPolicy) []*cnp.ClusterNetworkPolicy {
	out := append([]*cnp.ClusterNetworkPolicy(nil), in...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Spec.Priority != out[j].Spec.Priority {
			return out[i].Spec.Priority < out[j].Spec.Priority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// cnpRule is one rule, resolved.
type cnpRule struct {
	id     string
	action cnp.ClusterNetworkPolicyRuleAction
	peers  peerSet
	ports  []portSpec // name with empty proto: the named port's own protocol
	all    bool
}

// computeCNPs adds the tiers' verdict maps for the local pods to d.
func computeCNPs(d desired, w *world, policies []*cnp.ClusterNetworkPolicy, local []pod, problems *[]string) {
	for _, np := range orderCNPs(policies) {
		if np.Spec.Tier != cnp.AdminTier && np.Spec.Tier != cnp.BaselineTier {
			*problems = append(*problems, fmt.Sprintf("clusternetworkpolicy %s: tier %q is not Admin or Baseline (ignored)", np.Name, np.Spec.Tier))
		}
	}
	for _, tier := range []cnp.Tier{cnp.AdminTier, cnp.BaselineTier} {
		prefix := map[cnp.Tier]string{cnp.AdminTier: "admin", cnp.BaselineTier: "baseline"}[tier]
		in, out := map[netip.Addr][]ruled{}, map[netip.Addr][]ruled{}
		inAny, outAny := map[netip.Addr][]ruled{}, map[netip.Addr][]ruled{}
		for _, np := range orderCNPs(policies) {
			if np.Spec.Tier != tier {
				continue
			}
			subjects := w.cnpSubjects(np, local, problems)
			if len(subjects) == 0 {
				continue
			}
			for i, r := range np.Spec.Ingress {
				rule := cnpRule{id: ruleID(np.Name, "ingress", i, r.Name), action: r.Action}
				var peers []cnp.ClusterNetworkPolicyEgressPeer
				for _, p := range r.From {
					peers = append(peers, cnp.ClusterNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods})
				}
				rule.peers = w.resolveCNPPeers(peers, r.Action, problems, rule.id)
				rule.ports, rule.all = cnpPorts(r.Protocols)
				for _, s := range subjects {
					addRuled(in, inAny, s, rule, true, tierVerdicts(tier, "ingress"))
				}
			}
			for i, r := range np.Spec.Egress {
				rule := cnpRule{id: ruleID(np.Name, "egress", i, r.Name), action: r.Action}
				rule.peers = w.resolveCNPPeers(r.To, r.Action, problems, rule.id)
				rule.ports, rule.all = cnpPorts(r.Protocols)
				for _, s := range subjects {
					addRuled(out, outAny, s, rule, false, tierVerdicts(tier, "egress"))
				}
			}
		}
		emitRuled(d, "in-"+prefix, in, inAny)
		emitRuled(d, "out-"+prefix, out, outAny)
	}
}

func ruleID(policy, dir string, i int, name string) string {
	id := fmt.Sprintf("cnp %s %s %d", policy, dir, i)
	if name != "" {
		id += " (" + name + ")"
	}
	return id
}

// cnpSubjects are the local pods a policy's subject selects.
func (w *world) cnpSubjects(np *cnp.ClusterNetworkPolicy, local []pod, problems *[]string) []pod {
	where := "clusternetworkpolicy " + np.Name + " subject"
	var out []pod
	for _, p := range local {
		switch {
		case np.Spec.Subject.Namespaces != nil:
			if selector(np.Spec.Subject.Namespaces, problems, where).Matches(labels.Set(w.namespaces[p.namespace])) {
				out = append(out, p)
			}
		case np.Spec.Subject.Pods != nil:
			if w.inNamespacedPod(np.Spec.Subject.Pods, p, problems, where) {
				out = append(out, p)
			}
		}
	}
	return out
}

func (w *world) inNamespacedPod(np *cnp.NamespacedPod, p pod, problems *[]string, where string) bool {
	return selector(&np.NamespaceSelector, problems, where).Matches(labels.Set(w.namespaces[p.namespace])) &&
		selector(&np.PodSelector, problems, where).Matches(labels.Set(p.labels))
}

// resolveCNPPeers is what a rule's peers cover. A peer weft cannot read (domainNames, or a
// field newer than this code) fails closed: a Deny rule denies everyone, others match nothing.
func (w *world) resolveCNPPeers(peers []cnp.ClusterNetworkPolicyEgressPeer, action cnp.ClusterNetworkPolicyRuleAction, problems *[]string, where string) peerSet {
	var out peerSet
	addPod := func(p pod) {
		out.pods = append(out.pods, p)
		for _, a := range p.ips {
			out.ranges = append(out.ranges, single(a))
		}
	}
	for i, peer := range peers {
		at := fmt.Sprintf("%s peer %d", where, i)
		switch {
		case peer.Namespaces != nil:
			sel := selector(peer.Namespaces, problems, at)
			for _, p := range w.pods {
				if sel.Matches(labels.Set(w.namespaces[p.namespace])) {
					addPod(p)
				}
			}
		case peer.Pods != nil:
			for _, p := range w.pods {
				if w.inNamespacedPod(peer.Pods, p, problems, at) {
					addPod(p)
				}
			}
		case peer.Nodes != nil:
			sel := selector(peer.Nodes, problems, at)
			for _, n := range w.nodes {
				if sel.Matches(labels.Set(n.labels)) {
					for _, a := range n.ips {
						out.ranges = append(out.ranges, single(a))
					}
				}
			}
		case len(peer.Networks) > 0:
			for _, c := range peer.Networks {
				p, err := netip.ParsePrefix(string(c))
				if err != nil {
					*problems = append(*problems, fmt.Sprintf("%s network %q: %v (matches nothing)", at, c, err))
					continue
				}
				r := prefixRange(p)
				out.ranges = append(out.ranges, r)
				for _, pd := range w.pods {
					if anyContains([]addrRange{r}, pd.ips) {
						out.pods = append(out.pods, pd)
					}
				}
			}
		default:
			what := "no peer field weft knows"
			if len(peer.DomainNames) > 0 {
				what = "domainNames, which weft does not enforce"
			}
			if action == cnp.ClusterNetworkPolicyRuleActionDeny {
				*problems = append(*problems, fmt.Sprintf("%s: %s (fails closed: denies every peer)", at, what))
				out.ranges = append(out.ranges, everywhere...)
				out.pods = append(out.pods, w.pods...)
			} else {
				*problems = append(*problems, fmt.Sprintf("%s: %s (fails closed: matches nothing)", at, what))
			}
		}
	}
	return out
}

// cnpPorts reads a rule's protocols; none means every protocol and port.
func cnpPorts(protos []cnp.ClusterNetworkPolicyProtocol) ([]portSpec, bool) {
	if len(protos) == 0 {
		return nil, true
	}
	var out []portSpec
	for _, p := range protos {
		if p.DestinationNamedPort != "" {
			out = append(out, portSpec{name: p.DestinationNamedPort})
		}
		for _, pp := range []struct {
			proto corev1.Protocol
			set   bool
			port  *cnp.Port
		}{{corev1.ProtocolTCP, p.TCP != nil, portOf(p.TCP)}, {corev1.ProtocolUDP, p.UDP != nil, portOf(p.UDP)}, {corev1.ProtocolSCTP, p.SCTP != nil, portOf(p.SCTP)}} {
			switch {
			case !pp.set:
			case pp.port == nil:
				out = append(out, portSpec{proto: pp.proto, lo: 0, hi: 65535})
			case pp.port.Range != nil:
				out = append(out, portSpec{proto: pp.proto, lo: int(pp.port.Range.Start), hi: int(pp.port.Range.End)})
			default:
				out = append(out, portSpec{proto: pp.proto, lo: int(pp.port.Number), hi: int(pp.port.Number)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].proto+corev1.Protocol(out[i].name) < out[j].proto+corev1.Protocol(out[j].name)
	})
	return out, false
}

func portOf[T interface {
	*cnp.ClusterNetworkPolicyProtocolTCP | *cnp.ClusterNetworkPolicyProtocolUDP | *cnp.ClusterNetworkPolicyProtocolSCTP
}](p T) *cnp.Port {
	switch v := any(p).(type) {
	case *cnp.ClusterNetworkPolicyProtocolTCP:
		if v != nil {
			return v.DestinationPort
		}
	case *cnp.ClusterNetworkPolicyProtocolUDP:
		if v != nil {
			return v.DestinationPort
		}
	case *cnp.ClusterNetworkPolicyProtocolSCTP:
		if v != nil {
			return v.DestinationPort
		}
	}
	return nil
}

var portProtocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// addRuled appends what rule r says about subject s, in order: into ports (TCP, UDP and
// SCTP, each on its stretch of the port axis, see protoBase) and, for rules without
// protocols, into anyProto too (packets without ports).
func addRuled(ports, anyProto map[netip.Addr][]ruled, s pod, r cnpRule, subjectPorts bool, verdicts map[cnp.ClusterNetworkPolicyRuleAction]string) {
	v := verdicts[r.action]
	if v == "" {
		return
	}
	for _, a := range s.ips {
		fam := netaddr.Of(a).Suffix()
		verdict := v
		if strings.HasPrefix(v, "goto ") {
			verdict += fam
		}
		add := func(proto corev1.Protocol, peer addrRange, lo, hi int) {
			if peer.lo.Is4() != a.Is4() {
				return
			}
			b := ruled{box: box{peer: peer, lo: protoBase(proto) + lo, hi: protoBase(proto) + hi, from: []string{r.id}}, verdict: verdict}
			ports[a] = append(ports[a], b)
		}
		if r.all {
			for _, peer := range r.peers.ranges {
				for _, proto := range portProtocols {
					add(proto, peer, 0, 65535)
				}
				if peer.lo.Is4() == a.Is4() {
					anyProto[a] = append(anyProto[a], ruled{box: box{peer: peer, from: []string{r.id}}, verdict: verdict})
				}
			}
			continue
		}
		for _, ps := range r.ports {
			switch {
			case ps.name == "":
				for _, peer := range r.peers.ranges {
					add(ps.proto, peer, ps.lo, ps.hi)
				}
			case subjectPorts:
				for _, proto := range portProtocols {
					if n := s.namedPort(ps.name, proto); n > 0 {
						for _, peer := range r.peers.ranges {
							add(proto, peer, n, n)
						}
					}
				}
			default:
				for _, p := range r.peers.pods {
					for _, proto := range portProtocols {
						if n := p.namedPort(ps.name, proto); n > 0 {
							for _, pa := range p.ips {
								add(proto, single(pa), n, n)
							}
						}
					}
				}
			}
		}
	}
}

// Boxes of the three protocols share one port axis, each protocol on its own stretch of it,
// so that one firstMatch orders rules across protocols; emitRuled splits them again.
func protoBase(p corev1.Protocol) int {
	return map[corev1.Protocol]int{corev1.ProtocolTCP: 0, corev1.ProtocolUDP: 65536, corev1.ProtocolSCTP: 2 * 65536}[p]
}

func emitRuled(d desired, set string, ports, anyProto map[netip.Addr][]ruled) {
	for a, bs := range ports {
		fam := netaddr.Of(a).Suffix()
		for _, b := range firstMatch(bs) {
			for i, proto := range portProtocols {
				lo, hi := max(b.lo, i*65536), min(b.hi, i*65536+65535)
				if lo > hi {
					continue
				}
				d.add(set+"-ports-"+fam, element{key: []string{a.String(), b.peer.String(), strings.ToLower(string(proto)), portText(lo-i*65536, hi-i*65536)},
					value: b.verdict, comment: comment(b.from)})
			}
		}
	}
	for a, bs := range anyProto {
		fam := netaddr.Of(a).Suffix()
		for _, b := range firstMatch(bs) {
			d.add(set+"-any-"+fam, element{key: []string{a.String(), b.peer.String()}, value: b.verdict, comment: comment(b.from)})
		}
	}
}
