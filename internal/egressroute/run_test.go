package egressroute

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/weftnet/weft/internal/nft"
)

// Run wires informers to syncs: an EgressRoute appearing, a pod arriving and the route going
// away each reach the kernel without anybody calling sync.
func TestRun(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: self}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.1.0/24"}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"team": "data"}}}
	client := kubefake.NewClientset(node, ns)
	er := route("db", 0, Spec{Destinations: []string{"192.168.3.0/24"}, Via: "192.168.4.1",
		PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}})
	dyn := newDynamic(t, er)
	nft := nft.NewFake(nft.InetFamily, Table)
	c, err := New(Options{NodeName: self, ClusterCIDRs: cluster[:1], MinSyncInterval: time.Millisecond, Log: quiet},
		client, dyn,
		Kernel{NFT: nft, Netlink: newFakeNetlink(), Sysctl: fakeSysctl{"net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/eth1/rp_filter": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	eventually := func(what string, ok func() bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) { return ok(), nil })
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, nft.Dump())
		}
	}
	eventually("the route reaches nftables", func() bool { return strings.Contains(nft.Dump(), "ip daddr 192.168.3.0/24") })
	eventually("node-1 reports", func() bool {
		u, err := dyn.Resource(GVR).Get(ctx, "db", metav1.GetOptions{})
		got, _ := FromUnstructured(u)
		return err == nil && len(got.Status.Nodes) == 1 && got.Status.Nodes[0].Ready
	})

	p := pod("data", "db-0", self, corev1.PodRunning, map[string]string{"app": "db"}, "10.42.1.5")
	if _, err := client.CoreV1().Pods("data").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the new pod is selected", func() bool { return strings.Contains(nft.Dump(), "{ 10.42.1.5 }") })

	if err := dyn.Resource(GVR).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("the deleted route leaves nftables", func() bool { return !strings.Contains(nft.Dump(), "192.168.3.0/24") })

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after its context ended", err)
	}
}

// A ServiceCIDR added at run time joins the cluster's ranges, which are never rerouted, from
// the shared factory the agent hands over; deleted, it leaves them.
func TestServiceCIDRsFollowed(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: self}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.1.0/24"}}}
	client := kubefake.NewClientset(node)
	nft := nft.NewFake(nft.InetFamily, Table)
	c, err := New(Options{NodeName: self, ClusterCIDRs: cluster[:1], ServiceCIDRs: prefixes("10.96.0.0/28"), MinSyncInterval: time.Millisecond, Log: quiet},
		client, newDynamic(t), Kernel{NFT: nft, Netlink: newFakeNetlink(), Sysctl: fakeSysctl{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.RunWith(ctx, informers.NewSharedInformerFactory(client, 0)) }()
	defer func() {
		cancel()
		<-done
	}()
	eventually := func(what string, ok func(string) bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) { return ok(nft.Dump()), nil })
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, nft.Dump())
		}
	}
	has := func(s string) func(string) bool { return func(d string) bool { return strings.Contains(d, s) } }
	eventually("the flag's range", has("add element inet weft-egressroute cluster-v4 { 10.96.0.0/28 }"))

	newcidr1 := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "newcidr1"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/24"}}}
	if _, err := client.NetworkingV1().ServiceCIDRs().Create(ctx, newcidr1, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("newcidr1 joins the cluster's ranges, merged with the flag's", func(d string) bool {
		return strings.Contains(d, "cluster-v4 { 10.96.0.0/24 }") && !strings.Contains(d, "10.96.0.0/28")
	})
	if err := client.NetworkingV1().ServiceCIDRs().Delete(ctx, "newcidr1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("newcidr1 gone", func(d string) bool {
		return strings.Contains(d, "cluster-v4 { 10.96.0.0/28 }") && !strings.Contains(d, "10.96.0.0/24")
	})
}
