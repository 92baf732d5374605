package overlay

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/netns"
)

// testNode is one side of the two-node set-up: a namespace with eth0 on a shared link and a
// bridge holding the first address of its podCIDRs, as weft-cni leaves a node.
type testNode struct {
	name, ns string
	node     *corev1.Node
	kernel   Netlink
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// twoNodes builds namespaces a and b joined by a veth pair (192.168.50.0/24, fd00:50::/64),
// and returns them with Node objects as the cluster would show them. Everything goes at cleanup.
func twoNodes(t *testing.T) (*testNode, *testNode) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, VXLAN devices and routes")
	}
	suffix := fmt.Sprintf("%d", os.Getpid()%100000)
	a := &testNode{name: "node-a", ns: "weft-ovt-a" + suffix}
	b := &testNode{name: "node-b", ns: "weft-ovt-b" + suffix}
	for i, n := range []*testNode{a, b} {
		if err := netns.Create(n.ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = netns.Delete(n.ns) })
		h, err := vnetns.GetFromPath(netns.Path(n.ns))
		if err != nil {
			t.Fatal(err)
		}
		nl, err := netlink.NewHandleAt(h)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nl.Close)
		n.kernel = Netlink{Handle: nl}
		n.node = &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Annotations: map[string]string{}},
			Spec:       corev1.NodeSpec{PodCIDRs: []string{fmt.Sprintf("10.42.%d.0/24", i+1), fmt.Sprintf("2001:cafe:42:%d::/64", i+1)}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.168.50.%d", i+1)},
				{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("fd00:50::%d", i+1)},
			}},
		}
	}
	run(t, "ip", "-n", a.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.ns)
	for i, n := range []*testNode{a, b} {
		for _, cmd := range [][]string{
			{"sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
			{"ip", "link", "set", "lo", "up"},
			{"ip", "addr", "add", fmt.Sprintf("192.168.50.%d/24", i+1), "dev", "eth0"},
			{"ip", "addr", "add", fmt.Sprintf("fd00:50::%d/64", i+1), "dev", "eth0", "nodad"},
			{"ip", "link", "set", "eth0", "up"},
			{"ip", "link", "add", "weft0", "type", "bridge"},
			{"ip", "addr", "add", fmt.Sprintf("10.42.%d.1/24", i+1), "dev", "weft0"},
			{"ip", "addr", "add", fmt.Sprintf("2001:cafe:42:%d::1/64", i+1), "dev", "weft0", "nodad"},
			{"ip", "link", "set", "weft0", "up"},
		} {
			run(t, append([]string{"ip", "netns", "exec", n.ns}, cmd...)...)
		}
	}
	return a, b
}

// syncBoth publishes both nodes' annotations and syncs each under the backend.
func syncBoth(t *testing.T, backend string, a, b *testNode) {
	t.Helper()
	for _, n := range []*testNode{a, b} {
		n.node.Annotations = Annotations(LocalFrom(n.node, nil, false), backend)
	}
	for _, n := range []*testNode{a, b} {
		mustSync(t, backend, n, []*corev1.Node{a.node, b.node})
	}
}

func mustSync(t *testing.T, backend string, n *testNode, nodes []*corev1.Node) Result {
	t.Helper()
	peers, problems := PeersFrom(n.name, nodes)
	if len(problems) > 0 {
		t.Fatalf("%s: %v", n.name, problems)
	}
	res, err := New(backend, n.kernel, nil).Sync(LocalFrom(n.node, nil, false), peers)
	if err != nil {
		t.Fatalf("%s: sync %s: %v", n.name, backend, err)
	}
	return res
}

func ping(ns string, args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "ping", "-c", "1", "-W", "2"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s from %s: %v\n%s", strings.Join(args, " "), ns, err, out)
	}
	return nil
}

func pingBothFamilies(t *testing.T, from *testNode, v4, v6 string) {
	t.Helper()
	for _, dst := range []string{v4, v6} {
		if err := ping(from.ns, dst); err != nil {
			t.Error(err)
		}
	}
}

func TestVXLANBetweenNamespaces(t *testing.T) {
	a, b := twoNodes(t)
	syncBoth(t, BackendVXLAN, a, b)
	pingBothFamilies(t, a, "10.42.2.1", "2001:cafe:42:2::1")

	// Full-size packets: 1500 on the wire less VXLAN's overhead, with DF; one byte more must not pass.
	if err := ping(a.ns, "-M", "do", "-s", fmt.Sprint(1500-OverheadV4-28), "10.42.2.1"); err != nil {
		t.Errorf("a full-size IPv4 packet (MTU %d) does not cross: %v", 1500-OverheadV4, err)
	}
	if err := ping(a.ns, "-M", "do", "-s", fmt.Sprint(1500-OverheadV4-28+1), "10.42.2.1"); err == nil {
		t.Errorf("a packet one byte over the VXLAN MTU crossed with DF set: the device MTU is too large")
	}
	if err := ping(a.ns, "-M", "do", "-s", fmt.Sprint(1500-OverheadV6-48), "2001:cafe:42:2::1"); err != nil {
		t.Errorf("a full-size IPv6 packet (MTU %d) does not cross: %v", 1500-OverheadV6, err)
	}

	// An agent restart: a new Overlay over the same kernel keeps the devices (same index).
	before, _ := a.kernel.LinkByName("weft.1")
	mustSync(t, BackendVXLAN, a, []*corev1.Node{a.node, b.node})
	after, _ := a.kernel.LinkByName("weft.1")
	if before.Attrs().Index != after.Attrs().Index {
		t.Errorf("a second sync re-created weft.1 (index %d -> %d); a restart must keep it", before.Attrs().Index, after.Attrs().Index)
	}

	// Entries deleted by hand come back with the next sync.
	run(t, "ip", "-n", a.ns, "route", "del", "10.42.2.0/24")
	run(t, "ip", "-n", a.ns, "neigh", "flush", "dev", "weft.1", "nud", "permanent")
	run(t, "bridge", "-n", a.ns, "fdb", "del", VtepMAC(b.name, false).String(), "dev", "weft.1", "dst", "192.168.50.2")
	if err := ping(a.ns, "10.42.2.1"); err == nil {
		t.Fatal("ping crossed with the route, neighbour and FDB entries deleted: the test set-up is wrong")
	}
	mustSync(t, BackendVXLAN, a, []*corev1.Node{a.node, b.node})
	pingBothFamilies(t, a, "10.42.2.1", "2001:cafe:42:2::1")

	// A node that leaves takes its routes, FDB and neighbour entries with it.
	mustSync(t, BackendVXLAN, a, []*corev1.Node{a.node})
	for _, cmd := range [][]string{
		{"ip", "-n", a.ns, "route", "show", "proto", "87"},
		{"ip", "-n", a.ns, "-6", "route", "show", "proto", "87"},
		{"ip", "-n", a.ns, "neigh", "show", "nud", "permanent"},
		{"ip", "-n", a.ns, "-6", "neigh", "show", "nud", "permanent"},
		{"bridge", "-n", a.ns, "fdb", "show", "dev", "weft.1"},
		{"bridge", "-n", a.ns, "fdb", "show", "dev", "weft-v6.1"},
	} {
		if out := strings.TrimSpace(run(t, cmd...)); out != "" {
			t.Errorf("after node-b left, %s still shows:\n%s", strings.Join(cmd, " "), out)
		}
	}
}

func TestBackendSwitchAndHostGW(t *testing.T) {
	a, b := twoNodes(t)
	syncBoth(t, BackendVXLAN, a, b)
	syncBoth(t, BackendHostGW, a, b)
	for _, dev := range []string{"weft.1", "weft-v6.1"} {
		if _, err := a.kernel.LinkByName(dev); err == nil {
			t.Errorf("%s is still there after switching to host-gw", dev)
		}
	}
	if out := run(t, "ip", "-n", a.ns, "route", "show", "10.42.2.0/24"); !strings.Contains(out, "via 192.168.50.2") || !strings.Contains(out, "proto 87") {
		t.Errorf("host-gw route to node-b's pods: got %q, want via 192.168.50.2 proto 87", out)
	}
	pingBothFamilies(t, a, "10.42.2.1", "2001:cafe:42:2::1")

	// A peer that is not on the segment is reported, not routed, and the others still are.
	far := b.node.DeepCopy()
	far.Name, far.Spec.PodCIDRs, far.Annotations = "node-far", []string{"10.42.9.0/24"}, nil
	far.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.99.0.5"}}
	res := mustSync(t, BackendHostGW, a, []*corev1.Node{a.node, b.node, far})
	if len(res.Unreachable) != 1 || !strings.Contains(res.Unreachable[0], "node-far at 10.99.0.5 is not on this node's L2 segment") {
		t.Errorf("unreachable peers: got %q, want node-far named with its address", res.Unreachable)
	}
	if res.Peers != 1 {
		t.Errorf("peers routed to: %d, want 1 (node-b; not node-far)", res.Peers)
	}
	pingBothFamilies(t, a, "10.42.2.1", "2001:cafe:42:2::1")

	mustSync(t, BackendNone, a, []*corev1.Node{a.node, b.node})
	if out := strings.TrimSpace(run(t, "ip", "-n", a.ns, "route", "show", "proto", "87")); out != "" {
		t.Errorf("backend none left weft routes:\n%s", out)
	}
	if err := ping(a.ns, "10.42.2.1"); err == nil {
		t.Error("node-b's pods are still reachable with backend none")
	}
}

func TestMTUOverride(t *testing.T) {
	a, b := twoNodes(t)
	syncBoth(t, BackendVXLAN, a, b)
	l := LocalFrom(a.node, nil, false)
	l.MTU = 1300
	peers, _ := PeersFrom(a.name, []*corev1.Node{a.node, b.node})
	res, err := New(BackendVXLAN, a.kernel, nil).Sync(l, peers)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := a.kernel.LinkByName("weft.1")
	if res.MTU != 1300 || link.Attrs().MTU != 1300 {
		t.Errorf("--mtu 1300: pod MTU %d, weft.1 MTU %d; want both 1300", res.MTU, link.Attrs().MTU)
	}
}

func TestCleanupLeavesNothing(t *testing.T) {
	a, b := twoNodes(t)
	syncBoth(t, BackendVXLAN, a, b)
	if err := New(BackendVXLAN, a.kernel, nil).Cleanup(); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"weft.1", "weft-v6.1"} {
		if _, err := a.kernel.LinkByName(dev); err == nil {
			t.Errorf("%s survived Cleanup", dev)
		}
	}
	for _, fam := range []string{"-4", "-6"} {
		if out := strings.TrimSpace(run(t, "ip", "-n", a.ns, fam, "route", "show", "proto", "87")); out != "" {
			t.Errorf("Cleanup left weft routes:\n%s", out)
		}
	}
}
