package overlay

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	corev1 "k8s.io/api/core/v1"
)

func testKey(t testing.TB, b byte) wgtypes.Key {
	var k wgtypes.Key
	for i := range k {
		k[i] = b
	}
	return k
}

func wgNode(name string, cidrs []string, key, addr string) *corev1.Node {
	ann := map[string]string{AnnotationBackend: BackendWireGuard, AnnotationWireGuardPort: "51820"}
	if key != "" {
		ann[AnnotationWireGuardKey] = key
	}
	return node(name, cidrs, ann, internal(addr))
}

func TestWireGuardAnnotationsRoundTrip(t *testing.T) {
	self := node("n1", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, nil, internal("192.168.1.11"), internal("fd00::11"))
	l := LocalFrom(self, nil, false)
	l.WireGuard = LocalWireGuard{PublicKey: testKey(t, 7), Port: 51999, Mode: "userspace"}
	ann := Annotations(l, BackendWireGuard)
	if ann[AnnotationWireGuardKey] != testKey(t, 7).String() || ann[AnnotationWireGuardPort] != "51999" || ann[AnnotationWireGuardMode] != "userspace" {
		t.Fatalf("annotations %v: want the public key, port and mode", ann)
	}
	if ann[AnnotationVtepMACv4] != "" {
		t.Errorf("wireguard publishes a VXLAN MAC: %v", ann)
	}
	if vx := Annotations(l, BackendVXLAN); vx[AnnotationWireGuardKey] != "" {
		t.Errorf("vxlan publishes a WireGuard key: %v", vx)
	}
	peer := self.DeepCopy()
	peer.Annotations = ann
	peers, problems := PeersFrom("other", []*corev1.Node{peer})
	if len(problems) != 0 || len(peers) != 1 || peers[0].WireGuardKey != testKey(t, 7) || peers[0].WireGuardPort != 51999 {
		t.Fatalf("PeersFrom read %+v, problems %v", peers, problems)
	}
}

func TestPeersFromReportsBadWireGuardAnnotations(t *testing.T) {
	n := wgNode("n2", []string{"10.42.2.0/24"}, "not-a-key", "192.168.1.12")
	n.Annotations[AnnotationWireGuardPort] = "70000"
	peers, problems := PeersFrom("n1", []*corev1.Node{n})
	if len(peers) != 1 || peers[0].WireGuardKey != (wgtypes.Key{}) || peers[0].WireGuardPort != 0 {
		t.Fatalf("a bad key and port must be left zero: %+v", peers)
	}
	text := ""
	for _, p := range problems {
		text += p.Error() + "\n"
	}
	for _, want := range []string{AnnotationWireGuardKey, AnnotationWireGuardPort, "n2"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}

func TestPlanWireGuard(t *testing.T) {
	self := node("n1", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, nil, internal("192.168.1.11"), internal("fd00::11"))
	l := LocalFrom(self, nil, false)
	k2, k3 := testKey(t, 2), testKey(t, 3)
	vx := node("n5", []string{"10.42.5.0/24"}, map[string]string{AnnotationBackend: BackendVXLAN}, internal("192.168.1.15"))
	nodes := []*corev1.Node{
		self,
		wgNode("n2", []string{"10.42.2.0/24", "2001:cafe:42:2::/64"}, k2.String(), "192.168.1.12"),
		wgNode("n3", []string{"10.42.3.0/24"}, k3.String(), "192.168.1.13"),
		wgNode("n4", []string{"10.42.4.0/24"}, "", "192.168.1.14"),          // no key published
		wgNode("n6", []string{"10.42.6.0/24"}, k2.String(), "192.168.1.16"), // n2's key again
		node("n7", []string{"10.42.7.0/24"}, nil, internal("192.168.1.17")), // not published yet
		vx,
	}
	peers, _ := PeersFrom("n1", nodes)
	ef, _ := endpointFamily(l)
	want, routes, problems := planWireGuard(l, peers, ef, 9)

	if len(want) != 2 {
		t.Fatalf("want peers n2 and n3, got %d: %v", len(want), want)
	}
	n2 := want[k2]
	if n2.Endpoint.String() != "192.168.1.12:51820" || len(n2.AllowedIPs) != 2 || !n2.ReplaceAllowedIPs {
		t.Errorf("n2: endpoint %s, allowed %v: want its IPv4 address and both podCIDRs, replacing what it had", n2.Endpoint, n2.AllowedIPs)
	}
	if len(routes) != 3 {
		t.Errorf("want 3 routes (n2's two podCIDRs, n3's one), got %v", routes)
	}
	for _, r := range routes {
		if r.LinkIndex != 9 || r.Protocol != RouteProtocol || r.Gw != nil {
			t.Errorf("route %v: want a device route into the WireGuard device with weft's protocol", r)
		}
	}
	text := strings.Join(problems, "\n")
	for _, want := range []string{"node n4 publishes no valid WireGuard public key", "node n6 publishes a WireGuard key another node has", "node n5 uses backend vxlan"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "n7") {
		t.Errorf("a node that has not published yet is no problem:\n%s", text)
	}

	// A node with IPv4 pods only routes and allows only the IPv4 podCIDRs, and blackholes
	// only the IPv4 cluster range.
	v4 := LocalFrom(node("n1", []string{"10.42.1.0/24"}, nil, internal("192.168.1.11")), nil, false)
	v4.ClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	want, routes, _ = planWireGuard(v4, peers, ef, 9)
	if len(want[k2].AllowedIPs) != 1 || len(routes) != 3 {
		t.Fatalf("IPv4-only: allowed %v, routes %v: want the IPv4 podCIDRs only and one blackhole", want[k2].AllowedIPs, routes)
	}
	if bh := routes[2]; bh.Type != unix.RTN_BLACKHOLE || bh.Dst.String() != "10.42.0.0/16" || bh.Protocol != RouteProtocol {
		t.Errorf("route %v: want weft's blackhole for the IPv4 cluster range", bh)
	}
}

func TestEndpointFamilyAndOverhead(t *testing.T) {
	v6 := LocalFrom(node("n1", []string{"2001:cafe:42:1::/64"}, nil, internal("fd00::11")), nil, false)
	f, ok := endpointFamily(v6)
	if !ok || !f.Is6() || wireGuardOverhead(f) != 80 {
		t.Errorf("IPv6-only node: family v6=%t ok=%t overhead %d, want IPv6 and 80", f.Is6(), ok, wireGuardOverhead(f))
	}
	if _, ok := endpointFamily(Local{}); ok {
		t.Errorf("a node without addresses has no endpoint family")
	}
}

func TestPeerChanges(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	ipnet := func(s string) net.IPNet { return *mustIPNet(s) }
	ep := func(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	have := []wgtypes.Peer{
		// As the kernel reports it: an IPv4-mapped endpoint is the same endpoint.
		{PublicKey: k1, Endpoint: &net.UDPAddr{IP: net.ParseIP("192.168.1.12"), Port: 51820}, AllowedIPs: []net.IPNet{ipnet("10.42.2.0/24")}},
		{PublicKey: k2, Endpoint: ep("192.168.1.13:51820"), AllowedIPs: []net.IPNet{ipnet("10.42.3.0/24")}},
	}
	want := map[wgtypes.Key]wgtypes.PeerConfig{
		k1: {PublicKey: k1, Endpoint: ep("192.168.1.12:51820"), AllowedIPs: []net.IPNet{ipnet("10.42.2.0/24")}},
		k3: {PublicKey: k3, Endpoint: ep("192.168.1.13:51820"), AllowedIPs: []net.IPNet{ipnet("10.42.3.0/24")}},
	}
	got := peerChanges(have, want)
	if len(got) != 2 || got[0].PublicKey != k2 || !got[0].Remove || got[1].PublicKey != k3 || got[1].Remove {
		t.Fatalf("changes %+v: want k2 removed first (its allowed IPs go to k3), then k3 added, and k1 left alone", got)
	}
	want[k1] = wgtypes.PeerConfig{PublicKey: k1, Endpoint: ep("192.168.1.99:51820"), AllowedIPs: want[k1].AllowedIPs}
	if got := peerChanges(have[:1], map[wgtypes.Key]wgtypes.PeerConfig{k1: want[k1]}); len(got) != 1 || got[0].Endpoint.Port != 51820 || got[0].Remove {
		t.Errorf("a moved peer must be updated in place: %+v", got)
	}
}

func mustIPNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// FuzzParseWireGuard: whatever a Node's annotations hold, parsing never panics, and what it
// accepts is a real key and a real port.
func FuzzParseWireGuard(f *testing.F) {
	f.Add("bap+YQfLyDfqdmm8YiVvOo0XGSkq1XulZUzRW93VOH0=", "51820")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "0")
	f.Add("", "")
	f.Add("not base64 at all", "-1")
	f.Add(" bap+YQfLyDfqdmm8YiVvOo0XGSkq1XulZUzRW93VOH0=\n", "65536")
	f.Fuzz(func(t *testing.T, key, port string) {
		k, p, problems := parseWireGuard("n", map[string]string{AnnotationWireGuardKey: key, AnnotationWireGuardPort: port})
		if k != (wgtypes.Key{}) {
			again, err := wgtypes.ParseKey(k.String())
			if err != nil || again != k {
				t.Fatalf("accepted key %q does not round-trip: %v", key, err)
			}
		}
		if p != 0 && (p < 1 || p > 65535) {
			t.Fatalf("accepted port %d from %q", p, port)
		}
		if (k == (wgtypes.Key{}) || p == 0) && len(problems) == 0 {
			t.Fatalf("key %q port %q refused without a word", key, port)
		}
	})
}
