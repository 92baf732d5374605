package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/netaddr"
)

// element is one set element: its key fields as nft writes them, and the policy rules it
// stands for.
type element struct {
	key     []string
	value   string // a verdict map's verdict
	comment string
}

// desired is the content of every set of the table (nftables.go): set name -> element key ->
// element. The chains never change; a policy, pod or namespace change is a change of set
// elements.
type desired map[string]map[string]element

func (d desired) add(set string, e element) {
	if d[set] == nil {
		d[set] = map[string]element{}
	}
	d[set][strings.Join(e.key, " . ")] = e
}

type portKey struct {
	addr  netip.Addr
	proto corev1.Protocol
}

// allowed gathers the boxes of one direction before they are made disjoint.
type allowed struct {
	any   map[netip.Addr][]box
	ports map[portKey][]box
}

func newAllowed() allowed {
	return allowed{any: map[netip.Addr][]box{}, ports: map[portKey][]box{}}
}

// compute is the whole desired content of the table for node: which of its pods are isolated
// in each direction and what each may receive and send. problems are the parts of policies
// that cannot be enforced as written; they match nothing (fail closed).
func compute(w *world, policies []*networkingv1.NetworkPolicy, cnps []*cnp.ClusterNetworkPolicy, node string, podCIDRs []netip.Prefix) (desired, []string) {
	d := desired{}
	var problems []string
	if len(policies)+len(cnps) > 0 {
		for _, p := range cidr.Merge(podCIDRs) {
			d.add("gated-"+netaddr.OfPrefix(p).Suffix(), element{key: []string{p.String()}})
		}
	}
	local := w.podsOn(node)
	for _, p := range local {
		for _, a := range p.ips {
			d.add("known-"+netaddr.Of(a).Suffix(), element{key: []string{a.String()}, comment: p.namespace + "/" + p.name})
		}
	}
	policies = slices.Clone(policies)
	sort.Slice(policies, func(i, j int) bool {
		return policies[i].Namespace+"/"+policies[i].Name < policies[j].Namespace+"/"+policies[j].Name
	})
	found := [2]allowed{newAllowed(), newAllowed()}
	for _, np := range policies {
		sel := selector(&np.Spec.PodSelector, &problems, np.Namespace+"/"+np.Name+" podSelector")
		var subjects []pod
		for _, p := range local {
			if p.namespace == np.Namespace && sel.Matches(labels.Set(p.labels)) {
				subjects = append(subjects, p)
			}
		}
		if len(subjects) == 0 {
			continue
		}
		ingress, egress := policyTypes(np)
		for i, applies := range [2]bool{ingress, egress} {
			if applies {
				w.addDirection(d, found[i], np, directions[i], subjects, &problems)
			}
		}
	}
	for i, dir := range directions {
		found[i].emit(d, dir.set)
	}
	computeCNPs(d, w, cnps, local, &problems)
	return d, problems
}

// direction is one side of a NetworkPolicy: ingress, whose peers are sources and whose named
// ports are the subject's, or egress, whose peers are destinations and whose named ports are
// each peer's own.
type direction struct {
	name, set    string // "ingress" and "in", or "egress" and "out"
	subjectPorts bool
	rules        func(*networkingv1.NetworkPolicy) []npRule
}

// npRule is a rule of either direction: its peers (from or to) and its ports.
type npRule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

var directions = [2]direction{
	{name: "ingress", set: "in", subjectPorts: true, rules: func(np *networkingv1.NetworkPolicy) []npRule {
		out := make([]npRule, len(np.Spec.Ingress))
		for i, r := range np.Spec.Ingress {
			out[i] = npRule{r.From, r.Ports}
		}
		return out
	}},
	{name: "egress", set: "out", rules: func(np *networkingv1.NetworkPolicy) []npRule {
		out := make([]npRule, len(np.Spec.Egress))
		for i, r := range np.Spec.Egress {
			out[i] = npRule{r.To, r.Ports}
		}
		return out
	}},
}

// addDirection isolates the subjects in dir and gathers what each of np's rules in dir
// allows them.
func (w *world) addDirection(d desired, al allowed, np *networkingv1.NetworkPolicy, dir direction, subjects []pod, problems *[]string) {
	for _, s := range subjects {
		isolate(d, dir.set+"-isolated", s)
	}
	for i, r := range dir.rules(np) {
		where := fmt.Sprintf("%s/%s %s %d", np.Namespace, np.Name, dir.name, i)
		peers := w.resolvePeers(np.Namespace, r.peers, problems, where)
		ports, all := resolvePorts(r.ports, problems, where)
		for _, s := range subjects {
			al.addRule(s, peers, ports, all, where, dir.subjectPorts)
		}
	}
}

// podsOn are the pods of node, the subjects of its table.
func (w *world) podsOn(node string) []pod {
	var out []pod
	for _, p := range w.pods {
		if p.node == node {
			out = append(out, p)
		}
	}
	return out
}

// policyTypes applies the API's defaulting: a policy without policyTypes is an ingress
// policy, and an egress one too when it has egress rules.
func policyTypes(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func isolate(d desired, set string, p pod) {
	for _, a := range p.ips {
		d.add(set+"-"+netaddr.Of(a).Suffix(), element{key: []string{a.String()}, comment: p.namespace + "/" + p.name})
	}
}

// addRule adds what one rule allows subject s. A named port is the subject's for ingress
// (subjectPorts) and each peer pod's own for egress.
func (al allowed) addRule(s pod, peers peerSet, ports []portSpec, all bool, where string, subjectPorts bool) {
	for _, a := range s.ips {
		if all {
			for _, r := range peers.ranges {
				if r.lo.Is4() == a.Is4() {
					al.any[a] = append(al.any[a], box{peer: r, from: []string{where}})
				}
			}
			continue
		}
		for _, ps := range ports {
			k := portKey{a, ps.proto}
			switch {
			case ps.name == "":
				for _, r := range peers.ranges {
					if r.lo.Is4() == a.Is4() {
						al.ports[k] = append(al.ports[k], box{peer: r, lo: ps.lo, hi: ps.hi, from: []string{where}})
					}
				}
			case subjectPorts:
				if n := s.namedPort(ps.name, ps.proto); n > 0 {
					for _, r := range peers.ranges {
						if r.lo.Is4() == a.Is4() {
							al.ports[k] = append(al.ports[k], box{peer: r, lo: n, hi: n, from: []string{where}})
						}
					}
				}
			default:
				for _, p := range peers.pods {
					n := p.namedPort(ps.name, ps.proto)
					for _, pa := range p.ips {
						if n > 0 && pa.Is4() == a.Is4() {
							al.ports[k] = append(al.ports[k], box{peer: single(pa), lo: n, hi: n, from: []string{where}})
						}
					}
				}
			}
		}
	}
}

// emit writes the gathered boxes, made disjoint, into dir's any and ports sets.
func (al allowed) emit(d desired, dir string) {
	for a, bs := range al.any {
		set := dir + "-any-" + netaddr.Of(a).Suffix()
		for _, b := range disjoint(bs) {
			d.add(set, element{key: []string{a.String(), b.peer.String()}, comment: comment(b.from)})
		}
	}
	for k, bs := range al.ports {
		set := dir + "-ports-" + netaddr.Of(k.addr).Suffix()
		for _, b := range disjoint(bs) {
			d.add(set, element{key: []string{k.addr.String(), b.peer.String(), strings.ToLower(string(k.proto)), portText(b.lo, b.hi)}, comment: comment(b.from)})
		}
	}
}
