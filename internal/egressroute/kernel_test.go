package egressroute

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/weftnet/weft/internal/netns"
)

// topology is a subnet only the nodes route to, with a twist, in namespaces of its own: a pod behind a node whose
// default route goes to router r1, while 192.168.3.10 and 2001:db8:3::10 sit behind router r2
// only. The node filters reverse paths strictly, as many distributions do.
//
//	pod (10.42.1.10) --vpod-- node --eth-r1-- r1 192.168.1.1 (default route, no way on)
//	                               --eth-r2-- r2 192.168.4.1, owns 192.168.3.10 and 2001:db8:3::10
type topology struct {
	t                 *testing.T
	pod, node, r1, r2 string
}

func newTopology(t *testing.T) *topology {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (run: sudo -E env PATH=$PATH go test ./internal/egressroute/)")
	}
	for _, tool := range []string{"ip", "nft", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	id := fmt.Sprintf("wer%d", os.Getpid())
	top := &topology{t: t, pod: id + "-pod", node: id + "-node", r1: id + "-r1", r2: id + "-r2"}
	for _, ns := range []string{top.pod, top.node, top.r1, top.r2} {
		if err := netns.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := netns.Delete(ns); err != nil {
				t.Error(err)
			}
		})
		top.ip(ns, "link set lo up")
	}
	top.ip(top.node, "link add vpod type veth peer name eth0 netns "+top.pod)
	top.ip(top.node, "link add eth-r1 type veth peer name eth0 netns "+top.r1)
	top.ip(top.node, "link add eth-r2 type veth peer name eth0 netns "+top.r2)
	for _, a := range []struct{ ns, dev, v4, v6 string }{
		{top.pod, "eth0", "10.42.1.10/24", "2001:cafe:42:1::10/64"},
		{top.node, "vpod", "10.42.1.1/24", "2001:cafe:42:1::1/64"},
		{top.node, "eth-r1", "192.168.1.11/24", "fd00:1::11/64"},
		{top.node, "eth-r2", "192.168.4.11/24", "fd00:4::11/64"},
		{top.r1, "eth0", "192.168.1.1/24", "fd00:1::1/64"},
		{top.r2, "eth0", "192.168.4.1/24", "fd00:4::1/64"},
	} {
		top.ip(a.ns, "addr add "+a.v4+" dev "+a.dev)
		top.ip(a.ns, "addr add "+a.v6+" dev "+a.dev+" nodad")
		top.ip(a.ns, "link set "+a.dev+" up")
	}
	top.ip(top.pod, "route add default via 10.42.1.1")
	top.ip(top.pod, "-6 route add default via 2001:cafe:42:1::1")
	top.ip(top.node, "route add default via 192.168.1.1")
	top.ip(top.node, "-6 route add default via fd00:1::1")
	top.ip(top.r2, "addr add 192.168.3.10/32 dev lo")
	top.ip(top.r2, "addr add 2001:db8:3::10/128 dev lo")
	err := netns.Do(netns.Path(top.node), func() error {
		for _, s := range [][2]string{{"net/ipv4/ip_forward", "1"}, {"net/ipv6/conf/all/forwarding", "1"}, {"net/ipv4/conf/all/rp_filter", "1"}} {
			if err := (ProcSysctl{}).Set(s[0], s[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func (top *topology) ip(ns, args string) {
	top.t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", ns}, strings.Fields(args)...)...).CombinedOutput(); err != nil {
		top.t.Fatalf("ip -n %s %s: %v\n%s", ns, args, err, out)
	}
}

// reaches pings addr from the pod; tries shows how patient to be (neighbours resolve first).
func (top *topology) reaches(addr string, tries int) bool {
	for range tries {
		err := netns.Do(netns.Path(top.pod), func() error { return exec.Command("ping", "-c1", "-W1", addr).Run() })
		if err == nil {
			return true
		}
	}
	return false
}

// inNode runs fn on a thread inside the node's namespace: nft (which internal/nft runs) and
// /proc/sys follow the thread, and the netlink socket opened there stays in that namespace.
func (top *topology) inNode(fn func() error) {
	top.t.Helper()
	if err := netns.Do(netns.Path(top.node), fn); err != nil {
		top.t.Fatal(err)
	}
}

func TestRealKernel(t *testing.T) {
	top := newTopology(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v4 := route("ext-v4", 0, Spec{Destinations: []string{"192.168.3.0/24"}, Via: "192.168.4.1"})
	v6 := route("ext-v6", 1, Spec{Destinations: []string{"2001:db8:3::/64"}, Via: "fd00:4::1"})
	missing := route("missing", 2, Spec{Destinations: []string{"192.168.5.0/24"}, Interface: "nope0"})
	// Sorts first by name, yet 192.168.3.0/24 is more specific: ext-v4 must win.
	everything := route("all-via-r1", 3, Spec{Destinations: []string{"0.0.0.0/0"}, Via: "192.168.1.1"})
	dyn := newDynamic(t, v4, v6, missing, everything)
	var c *Controller
	top.inNode(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		c, err = New(Options{NodeName: self, ClusterCIDRs: cluster[:1], ServiceCIDRs: cluster[1:2]}, nil, dyn, k)
		c.cluster = cluster
		return err
	})
	sync := func(routes ...*EgressRoute) {
		t.Helper()
		top.inNode(func() error { return c.sync(ctx, snap(t, routes)) })
	}
	defer top.inNode(func() error { return c.Cleanup(context.Background()) })

	if top.reaches("192.168.3.10", 1) || top.reaches("2001:db8:3::10", 1) {
		t.Fatal("the pod reaches the far subnet before any EgressRoute: the topology is wrong")
	}

	sync(v4, v6, missing, everything)
	if !top.reaches("192.168.3.10", 3) || !top.reaches("2001:db8:3::10", 3) {
		t.Fatal("the pod does not reach the far subnet through its EgressRoutes")
	}
	var rp string
	top.inNode(func() (err error) { rp, err = ProcSysctl{}.Get("net/ipv4/conf/eth-r2/rp_filter"); return })
	if rp != "2" {
		t.Errorf("rp_filter on eth-r2 is %s, want 2 (loose) so replies on it pass", rp)
	}
	er := getRoute(t, &testNode{dyn: dyn}, "missing")
	if len(er.Status.Nodes) != 1 || er.Status.Nodes[0].Reason != ReasonInterfaceNotFound {
		t.Errorf("status of a route out of a missing interface: %+v", er.Status.Nodes)
	}

	// Keeping the pod's address: r2 has no route back to pods, until it gets one.
	v4.Spec.Masquerade = ptr.To(false)
	sync(v4, v6)
	if top.reaches("192.168.3.10", 1) {
		t.Error("with masquerade: false the reply found its way back to a pod address r2 has no route to")
	}
	top.ip(top.r2, "route add 10.42.0.0/16 via 192.168.4.11")
	if !top.reaches("192.168.3.10", 3) {
		t.Error("with masquerade: false and a route back, the pod does not reach 192.168.3.10")
	}

	// Out of an interface, no next hop: r2 answers ARP for its own addresses.
	v4.Spec = Spec{Destinations: []string{"192.168.3.0/24"}, Interface: "eth-r2"}
	sync(v4, v6)
	if !top.reaches("192.168.3.10", 3) {
		t.Error("the pod does not reach 192.168.3.10 out of interface eth-r2")
	}

	sync()
	if top.reaches("192.168.3.10", 1) || top.reaches("2001:db8:3::10", 1) {
		t.Error("the pod still reaches the far subnet after its EgressRoutes were deleted")
	}
	top.inNode(func() error {
		routes, rules, err := ours(c.kernel.Netlink)
		if err == nil && (len(routes) > 0 || len(rules) > 0) {
			err = fmt.Errorf("left in the kernel: %v %v", routes, rules)
		}
		return err
	})
	top.inNode(func() error { return c.Cleanup(ctx) })
	out, err := exec.Command("ip", "netns", "exec", top.node, "nft", "list", "tables").CombinedOutput()
	if err != nil || strings.Contains(string(out), Table) {
		t.Errorf("after Cleanup: %v\n%s", err, out)
	}
}
