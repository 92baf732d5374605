package overlay

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, cidrs []string, ann map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
		Spec: corev1.NodeSpec{PodCIDRs: cidrs}, Status: corev1.NodeStatus{Addresses: addrs}}
}

func internal(a string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a}
}
func external(a string) corev1.NodeAddress {
	return corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: a}
}

func TestLocalFromPicksThePublicAddress(t *testing.T) {
	n := node("n1", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, nil,
		internal("192.168.1.11"), internal("fd00::11"), external("203.0.113.11"))
	cases := []struct {
		name        string
		ext         []netip.Addr
		useExternal bool
		want4       string
		want6       string
	}{
		{"InternalIPs by default", nil, false, "192.168.1.11", "fd00::11"},
		{"the Node's ExternalIP with --use-external-ip; IPv6 has none, so its InternalIP", nil, true, "203.0.113.11", "fd00::11"},
		{"--node-external-ip wins", []netip.Addr{netip.MustParseAddr("198.51.100.1")}, true, "198.51.100.1", "fd00::11"},
	}
	for _, c := range cases {
		l := LocalFrom(n, c.ext, c.useExternal)
		if l.Public[0].String() != c.want4 || l.Public[1].String() != c.want6 {
			t.Errorf("%s: public %s %s, want %s %s", c.name, l.Public[0], l.Public[1], c.want4, c.want6)
		}
		if l.Underlay[0].String() != "192.168.1.11" {
			t.Errorf("%s: underlay %s, want the InternalIP: the VXLAN device sends from an address this node has", c.name, l.Underlay[0])
		}
	}
}

func TestAnnotationsRoundTrip(t *testing.T) {
	self := node("n1", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, nil, internal("192.168.1.11"), internal("fd00::11"))
	ann := Annotations(LocalFrom(self, nil, false), BackendVXLAN)
	if ann[AnnotationVtepMACv4] == ann[AnnotationVtepMACv6] || ann[AnnotationPublicIPv6] != "fd00::11" {
		t.Fatalf("annotations %v: want a MAC per family and the IPv6 address", ann)
	}
	if hg := Annotations(LocalFrom(self, nil, false), BackendHostGW); hg[AnnotationVtepMACv4] != "" {
		t.Errorf("host-gw publishes a VXLAN MAC: %v", hg)
	}
	peer := self.DeepCopy()
	peer.Annotations = ann
	peers, problems := PeersFrom("other", []*corev1.Node{peer})
	if len(problems) > 0 || len(peers) != 1 {
		t.Fatalf("peers %v, problems %v", peers, problems)
	}
	p := peers[0]
	if p.VtepMAC[0].String() != VtepMAC("n1", false).String() || p.Public[0].String() != "192.168.1.11" || p.Backend != BackendVXLAN {
		t.Errorf("peer read back as %+v", p)
	}
	if VtepMAC("n1", false)[0]&0x03 != 0x02 {
		t.Errorf("VTEP MAC %s must be unicast and locally administered", VtepMAC("n1", false))
	}
}

func TestPeersFromReportsBadNodesAndKeepsTheRest(t *testing.T) {
	bad := node("bad", []string{"10.42.300.0/24", "10.42.3.0/24"}, map[string]string{
		AnnotationPublicIPv4: "fd00::1", AnnotationVtepMACv4: "not-a-mac",
	}, internal("192.168.1.13"))
	peers, problems := PeersFrom("self", []*corev1.Node{bad})
	text := ""
	for _, p := range problems {
		text += p.Error() + "\n"
	}
	for _, want := range []string{`podCIDR "10.42.300.0/24"`, AnnotationPublicIPv4, "is not a MAC address"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not mention %q:\n%s", want, text)
		}
	}
	if len(peers) != 1 || len(peers[0].PodCIDRs) != 1 || peers[0].Public[0].String() != "192.168.1.13" {
		t.Errorf("the good parts of the Node are lost: %+v", peers)
	}
}

// FuzzPeersFrom feeds annotation values and podCIDRs as any API client could write them.
func FuzzPeersFrom(f *testing.F) {
	f.Add("10.42.1.0/24", "192.168.1.11", "02:00:00:00:00:01", "vxlan")
	f.Add("2001:cafe::/64", "::ffff:1.2.3.4", "02:00:00:00:00:01:02:03", "")
	f.Add("", "", "", "host-gw")
	f.Fuzz(func(t *testing.T, cidr, ip, mac, backend string) {
		n := node("x", []string{cidr}, map[string]string{
			AnnotationBackend: backend, AnnotationPublicIPv4: ip, AnnotationPublicIPv6: ip,
			AnnotationVtepMACv4: mac, AnnotationVtepMACv6: mac,
		}, internal(ip))
		peers, _ := PeersFrom("self", []*corev1.Node{n})
		for _, p := range peers {
			for i, a := range p.Public {
				if a.IsValid() && a.Is6() != (i == 1) {
					t.Fatalf("public address %s filed under the wrong family", a)
				}
			}
			for _, m := range p.VtepMAC {
				if m != nil && len(m) != 6 {
					t.Fatalf("MAC %s is not 6 bytes", m)
				}
			}
		}
	})
}
