package overlay

import (
	"net/netip"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	corev1 "k8s.io/api/core/v1"
)

// tunWireGuard stands in for the WireGuard device in a real namespace: a TUN device under
// weft-wg's name (the kernel here has no WireGuard), and peers kept in memory.
type tunWireGuard struct {
	t     *testing.T
	n     *testNode
	peers map[wgtypes.Key]wgtypes.Peer
}

func (w *tunWireGuard) Ensure(int) (int, error) {
	if _, err := w.n.kernel.LinkByName(WireGuardDevice); err != nil {
		run(w.t, "ip", "-n", w.n.ns, "tuntap", "add", "dev", WireGuardDevice, "mode", "tun")
	}
	link, err := w.n.kernel.LinkByName(WireGuardDevice)
	if err != nil {
		return 0, err
	}
	return link.Attrs().Index, nil
}

func (w *tunWireGuard) Peers() ([]wgtypes.Peer, error) {
	var out []wgtypes.Peer
	for _, p := range w.peers {
		out = append(out, p)
	}
	return out, nil
}

func (w *tunWireGuard) ConfigurePeers(cfg []wgtypes.PeerConfig) error {
	for _, c := range cfg {
		if c.Remove {
			delete(w.peers, c.PublicKey)
			continue
		}
		w.peers[c.PublicKey] = wgtypes.Peer{PublicKey: c.PublicKey, Endpoint: c.Endpoint, AllowedIPs: c.AllowedIPs}
	}
	return nil
}

func (w *tunWireGuard) Delete() error {
	return New(BackendNone, w.n.kernel, nil).deleteLinkNamed(WireGuardDevice)
}

// TestSwitchingBetweenVXLANAndWireGuard syncs node a under wireguard, then vxlan, then
// wireguard again, as agents restarted with another --backend would: each backend leaves no
// device, route or peer of the other behind.
func TestSwitchingBetweenVXLANAndWireGuard(t *testing.T) {
	a, b := twoNodes(t)
	wg := &tunWireGuard{t: t, n: a, peers: map[wgtypes.Key]wgtypes.Peer{}}
	local := LocalFrom(a.node, nil, false)
	local.ClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	b.node.Annotations = map[string]string{AnnotationBackend: BackendWireGuard, AnnotationWireGuardKey: testKey(t, 5).String(), AnnotationWireGuardPort: "51820"}

	syncWG := func() {
		t.Helper()
		peers, _ := PeersFrom(a.name, []*corev1.Node{a.node, b.node})
		res, err := New(BackendWireGuard, a.kernel, wg).Sync(local, peers)
		if err != nil || res.Peers != 1 || res.MTU != 1440 || len(res.Unreachable) != 0 {
			t.Fatalf("wireguard sync: %+v, %v; want one peer and MTU 1500-60", res, err)
		}
		routes := run(t, "ip", "-n", a.ns, "route", "show", "proto", "87") + run(t, "ip", "-n", a.ns, "-6", "route", "show", "proto", "87")
		for _, want := range []string{"10.42.2.0/24 dev weft-wg", "2001:cafe:42:2::/64 dev weft-wg", "blackhole 10.42.0.0/16", "blackhole 2001:cafe:42::/56"} {
			if !strings.Contains(routes, want) {
				t.Errorf("wireguard routes lack %q:\n%s", want, routes)
			}
		}
		if links := run(t, "ip", "-n", a.ns, "-br", "link"); strings.Contains(links, "weft.1") || strings.Contains(links, "weft-v6.1") {
			t.Errorf("VXLAN devices left under wireguard:\n%s", links)
		}
		if p, ok := wg.peers[testKey(t, 5)]; !ok || p.Endpoint.String() != "192.168.50.2:51820" {
			t.Errorf("peers %v: want node b at 192.168.50.2:51820", wg.peers)
		}
	}
	syncWG()

	b.node.Annotations = Annotations(LocalFrom(b.node, nil, false), BackendVXLAN)
	peers, _ := PeersFrom(a.name, []*corev1.Node{a.node, b.node})
	if _, err := New(BackendVXLAN, a.kernel, nil).Sync(local, peers); err != nil {
		t.Fatalf("vxlan sync: %v", err)
	}
	routes := run(t, "ip", "-n", a.ns, "route", "show", "proto", "87") + run(t, "ip", "-n", a.ns, "-6", "route", "show", "proto", "87")
	if strings.Contains(routes, "weft-wg") || strings.Contains(routes, "blackhole") || !strings.Contains(routes, "10.42.2.0/24 via 10.42.2.0 dev weft.1") {
		t.Errorf("after switching to vxlan, weft's routes are:\n%s", routes)
	}
	if links := run(t, "ip", "-n", a.ns, "-br", "link"); strings.Contains(links, WireGuardDevice) {
		t.Errorf("the WireGuard device is left under vxlan:\n%s", links)
	}

	b.node.Annotations = map[string]string{AnnotationBackend: BackendWireGuard, AnnotationWireGuardKey: testKey(t, 5).String(), AnnotationWireGuardPort: "51820"}
	syncWG()
}
