package egressroute

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"
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
	nft := knftables.NewFake(knftables.InetFamily, Table)
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
