package policy

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pod is what policy reads of a Pod.
type pod struct {
	namespace, name string
	labels          map[string]string
	node            string
	ips             []netip.Addr
	ports           []corev1.ContainerPort
}

// podOf reads a Pod; ok is false for pods policy ignores: hostNetwork pods (they are the
// node, and the API does not select them), pods without addresses yet, and finished ones.
func podOf(p *corev1.Pod) (pod, bool) {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return pod{}, false
	}
	out := pod{namespace: p.Namespace, name: p.Name, labels: p.Labels, node: p.Spec.NodeName}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out.ips = append(out.ips, a.Unmap())
		}
	}
	for _, c := range p.Spec.Containers {
		out.ports = append(out.ports, c.Ports...)
	}
	return out, len(out.ips) > 0
}

// namedPort is the number a pod gives a port's name for a protocol, or 0.
func (p pod) namedPort(name string, proto corev1.Protocol) int {
	for _, cp := range p.ports {
		if cp.Name == name && protocolOr(cp.Protocol) == proto {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

func protocolOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// world is the cluster as one sync sees it.
type world struct {
	pods       []pod
	nodes      []node
	namespaces map[string]map[string]string // name -> labels
}

// selector turns a label selector into a labels.Selector; a selector the API server let
// through but that does not parse matches nothing (fails closed) and is reported.
func selector(s *metav1.LabelSelector, problems *[]string, where string) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s: %v (matches nothing)", where, err))
		return labels.Nothing()
	}
	return sel
}

// peerSet is what one peer of a rule covers: address ranges (for numbered ports) and the
// pods among them (for named ports, which each pod resolves on its own).
type peerSet struct {
	ranges []addrRange
	pods   []pod
}

var everywhere = []addrRange{prefixRange(netip.MustParsePrefix("0.0.0.0/0")), prefixRange(netip.MustParsePrefix("::/0"))}

// resolvePeers is every address a rule's peers cover; no peers means every address.
func (w *world) resolvePeers(policyNS string, peers []networkingv1.NetworkPolicyPeer, problems *[]string, where string) peerSet {
	if len(peers) == 0 {
		return peerSet{ranges: everywhere, pods: w.pods}
	}
	var out peerSet
	for i, peer := range peers {
		at := fmt.Sprintf("%s peer %d", where, i)
		if peer.IPBlock != nil {
			rs, err := blockRanges(peer.IPBlock)
			if err != nil {
				*problems = append(*problems, fmt.Sprintf("%s ipBlock: %v (matches nothing)", at, err))
				continue
			}
			out.ranges = append(out.ranges, rs...)
			for _, p := range w.pods {
				if anyContains(rs, p.ips) {
					out.pods = append(out.pods, p)
				}
			}
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			*problems = append(*problems, at+": no podSelector, namespaceSelector or ipBlock (matches nothing)")
			continue
		}
		podSel := labels.Everything()
		if peer.PodSelector != nil {
			podSel = selector(peer.PodSelector, problems, at+" podSelector")
		}
		var nsSel labels.Selector
		if peer.NamespaceSelector != nil {
			nsSel = selector(peer.NamespaceSelector, problems, at+" namespaceSelector")
		}
		for _, p := range w.pods {
			inNS := p.namespace == policyNS
			if nsSel != nil {
				inNS = nsSel.Matches(labels.Set(w.namespaces[p.namespace]))
			}
			if inNS && podSel.Matches(labels.Set(p.labels)) {
				out.pods = append(out.pods, p)
				for _, a := range p.ips {
					out.ranges = append(out.ranges, single(a))
				}
			}
		}
	}
	return out
}

func anyContains(rs []addrRange, ips []netip.Addr) bool {
	for _, r := range rs {
		for _, a := range ips {
			if r.contains(a) {
				return true
			}
		}
	}
	return false
}

// blockRanges is an ipBlock's CIDR less its excepts.
func blockRanges(b *networkingv1.IPBlock) ([]addrRange, error) {
	p, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("cidr %q: %w", b.CIDR, err)
	}
	rs := []addrRange{prefixRange(p)}
	for _, e := range b.Except {
		ep, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("except %q: %w", e, err)
		}
		rs = subtract(rs, prefixRange(ep))
	}
	return rs, nil
}

// portSpec is one entry of a rule's ports: a protocol and a number range, or a name that
// the pod on the far side of the rule (the subject for ingress, the peer for egress) resolves.
type portSpec struct {
	proto  corev1.Protocol
	lo, hi int
	name   string
}

// resolvePorts reads a rule's ports. A rule without ports allows every protocol and port
// (all); one whose every entry is unusable allows none.
func resolvePorts(ports []networkingv1.NetworkPolicyPort, problems *[]string, where string) (specs []portSpec, all bool) {
	if len(ports) == 0 {
		return nil, true
	}
	var out []portSpec
	for i, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP && proto != corev1.ProtocolSCTP {
			*problems = append(*problems, fmt.Sprintf("%s port %d: protocol %q is not TCP, UDP or SCTP (matches nothing)", where, i, proto))
			continue
		}
		switch {
		case p.Port == nil:
			out = append(out, portSpec{proto: proto, lo: 0, hi: 65535})
		case p.Port.StrVal != "":
			out = append(out, portSpec{proto: proto, name: p.Port.StrVal})
		default:
			lo, hi := int(p.Port.IntVal), int(p.Port.IntVal)
			if p.EndPort != nil {
				hi = int(*p.EndPort)
			}
			if lo < 0 || hi > 65535 || hi < lo {
				*problems = append(*problems, fmt.Sprintf("%s port %d: %d-%d is no port range (matches nothing)", where, i, lo, hi))
				continue
			}
			out = append(out, portSpec{proto: proto, lo: lo, hi: hi})
		}
	}
	return out, false
}
