package loadbalancer

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeAddresses is a node with one interface (index 2) holding the node's address.
type fakeAddresses struct{ addrs []netlink.Addr }

func (f *fakeAddresses) AddrList(netlink.Link, int) ([]netlink.Addr, error) { return f.addrs, nil }
func (f *fakeAddresses) AddrAdd(_ netlink.Link, a *netlink.Addr) error {
	a.LinkIndex = 2
	f.addrs = append(f.addrs, *a)
	return nil
}
func (f *fakeAddresses) AddrDel(_ netlink.Link, a *netlink.Addr) error {
	f.addrs = slices.DeleteFunc(f.addrs, func(x netlink.Addr) bool { return x.IP.Equal(a.IP) })
	return nil
}
func (f *fakeAddresses) LinkByIndex(i int) (netlink.Link, error) {
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: i}}, nil
}

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// TestSyncWritesStatusesOnceAndEachAddressHasOneNode: only the Lease holder writes the
// statuses; then every address is announced by exactly one of the Ready nodes, and a Service
// of type ClusterIP never is.
func TestSyncWritesStatusesOnceAndEachAddressHasOneNode(t *testing.T) {
	ctx := context.Background()
	web, dns := lbService("web", 1, corev1.IPv4Protocol), lbService("dns", 2, corev1.IPv4Protocol)
	client := fake.NewClientset(web, dns)
	pools := []netip.Prefix{netip.MustParsePrefix("192.168.1.224/29")}
	nodes := []*corev1.Node{readyNode("node-1"), readyNode("node-2")}
	nodeIPs := map[string]netip.Addr{"node-1": netip.MustParseAddr("192.168.1.11"), "node-2": netip.MustParseAddr("192.168.1.12")}
	controllers := map[string]*Controller{}
	kernels := map[string]*fakeAddresses{}
	for n, ip := range nodeIPs {
		kernels[n] = &fakeAddresses{addrs: []netlink.Addr{{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(24, 32)}, LinkIndex: 2}}}
		controllers[n] = New(Options{NodeName: n, Pools: pools}, client, kernels[n])
		controllers[n].tell = nil // no raw sockets in a unit test
	}
	statuses := func() ([]*corev1.Service, map[string]string) {
		list, err := client.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var services []*corev1.Service
		got := map[string]string{}
		for i := range list.Items {
			s := &list.Items[i]
			services = append(services, s)
			if in := s.Status.LoadBalancer.Ingress; len(in) == 1 {
				got[s.Name] = in[0].IP
			}
		}
		return services, got
	}
	controllers["node-1"].lease.held.Store(true)
	if err := controllers["node-2"].Sync(ctx, Cluster{Services: []*corev1.Service{web, dns}, Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
	if _, got := statuses(); len(got) != 0 {
		t.Fatalf("the agent without the Lease wrote statuses: %v", got)
	}
	if err := controllers["node-1"].Sync(ctx, Cluster{Services: []*corev1.Service{web, dns}, Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
	services, got := statuses()
	if got["web"] != "192.168.1.225" || got["dns"] != "192.168.1.226" {
		t.Fatalf("statuses: got %v, want web 192.168.1.225 and dns 192.168.1.226", got)
	}
	plain := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "plain"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}}
	plain.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.227"}}
	services = append(services, plain)
	announced := map[string]string{}
	for n, c := range controllers {
		if err := c.Sync(ctx, Cluster{Services: services, Nodes: nodes, NodeIP: nodeIPs[n]}); err != nil {
			t.Fatal(err)
		}
		for _, a := range kernels[n].addrs {
			if ip, _ := netip.AddrFromSlice(a.IP); inPools(ip.Unmap(), pools) {
				if other, ok := announced[ip.Unmap().String()]; ok {
					t.Errorf("%s announced by %s and %s", ip, other, n)
				}
				announced[ip.Unmap().String()] = n
			}
		}
	}
	if len(announced) != 2 || announced["192.168.1.225"] == "" || announced["192.168.1.226"] == "" {
		t.Errorf("announced %v, want each of 192.168.1.225 and .226 by one node and nothing else", announced)
	}
	// The proxy turned off takes back everything announced, and only that.
	for n, c := range controllers {
		if err := c.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if len(kernels[n].addrs) != 1 {
			t.Errorf("%s still holds %v after Cleanup", n, kernels[n].addrs)
		}
	}
}
