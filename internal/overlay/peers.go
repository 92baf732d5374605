package overlay

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	corev1 "k8s.io/api/core/v1"
)

// Peer is another node as its Node object describes it.
type Peer struct {
	Name     string
	Backend  string // from its annotation; empty until its agent has published
	PodCIDRs []netip.Prefix
	Public   [2]netip.Addr       // where to send, per family
	VtepMAC  [2]net.HardwareAddr // its VXLAN device per family (vxlan only)
	// WireGuardKey and WireGuardPort are its WireGuard device's (wireguard only; zero: unknown).
	WireGuardKey  wgtypes.Key
	WireGuardPort int
}

// PeersFrom reads every Node but self. A Node's problems (a bad podCIDR, a missing address)
// are reported and the rest of the Node still used, so one broken Node never cuts off the others.
func PeersFrom(self string, nodes []*corev1.Node) ([]Peer, []error) {
	var peers []Peer
	var problems []error
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		p := Peer{Name: n.Name, Backend: n.Annotations[AnnotationBackend]}
		var wgProblems []error
		p.WireGuardKey, p.WireGuardPort, wgProblems = parseWireGuard(n.Name, n.Annotations)
		problems = append(problems, wgProblems...)
		for _, c := range n.Spec.PodCIDRs {
			cidr, err := netip.ParsePrefix(c)
			if err != nil {
				problems = append(problems, fmt.Errorf("node %s: podCIDR %q: %w", n.Name, c, err))
				continue
			}
			p.PodCIDRs = append(p.PodCIDRs, cidr.Masked())
		}
		for _, f := range families {
			i := int(f.Family)
			if s, ok := n.Annotations[f.publicKey]; ok {
				a, err := netip.ParseAddr(s)
				if err != nil || a.Is6() != f.Is6() {
					problems = append(problems, fmt.Errorf("node %s: annotation %s=%q is not an IPv%d address", n.Name, f.publicKey, s, map[bool]int{false: 4, true: 6}[f.Is6()]))
				} else {
					p.Public[i] = a
				}
			}
			if !p.Public[i].IsValid() {
				p.Public[i] = nodeAddress(n, corev1.NodeInternalIP, f.Is6())
			}
			if s, ok := n.Annotations[f.vtepMACKey]; ok {
				mac, err := net.ParseMAC(s)
				if err != nil || len(mac) != 6 {
					problems = append(problems, fmt.Errorf("node %s: annotation %s=%q is not a MAC address", n.Name, f.vtepMACKey, s))
				} else {
					p.VtepMAC[i] = mac
				}
			}
		}
		peers = append(peers, p)
	}
	return peers, problems
}

// nodeAddress is a Node's first address of the type and family, as the rest of Kubernetes picks it.
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType, v6 bool) netip.Addr {
	for _, a := range n.Status.Addresses {
		if a.Type != t {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is6() == v6 {
			return ip
		}
	}
	return netip.Addr{}
}

// LocalFrom describes this node from its Node object. Peers reach it at its InternalIP of each
// family, unless external addresses were given (--node-external-ip) or the Node's ExternalIPs
// are to be used (--use-external-ip, for nodes that see each other only through NAT or across sites).
func LocalFrom(n *corev1.Node, externalIPs []netip.Addr, useExternal bool) Local {
	l := Local{Name: n.Name}
	for _, c := range n.Spec.PodCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			l.PodCIDRs = append(l.PodCIDRs, p.Masked())
		}
	}
	for _, f := range families {
		i := int(f.Family)
		l.Underlay[i] = nodeAddress(n, corev1.NodeInternalIP, f.Is6())
		l.Public[i] = l.Underlay[i]
		if useExternal {
			if a := nodeAddress(n, corev1.NodeExternalIP, f.Is6()); a.IsValid() {
				l.Public[i] = a
			}
		}
		for _, a := range externalIPs {
			if a.Is6() == f.Is6() {
				l.Public[i] = a
			}
		}
	}
	return l
}

// VtepMAC is this node's VXLAN MAC for a family, derived from its name: a restarted agent or
// a re-created device keeps the MAC its peers already have in their FDB, so nothing is relearned.
func VtepMAC(node string, v6 bool) net.HardwareAddr {
	sum := sha256.Sum256([]byte(fmt.Sprintf("weft vtep %s %t", node, v6)))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = (mac[0] | 0x02) &^ 0x01 // locally administered, unicast
	return mac
}

// Annotations are what this node publishes for its peers under the backend.
func Annotations(l Local, backend string) map[string]string {
	out := map[string]string{AnnotationBackend: backend}
	for _, f := range families {
		i := int(f.Family)
		if _, ok := l.podCIDR(f); !ok || !l.Public[i].IsValid() {
			continue
		}
		out[f.publicKey] = l.Public[i].String()
		if backend == BackendVXLAN {
			out[f.vtepMACKey] = VtepMAC(l.Name, f.Is6()).String()
		}
	}
	if backend == BackendWireGuard {
		wireGuardAnnotations(l, out)
	}
	return out
}
