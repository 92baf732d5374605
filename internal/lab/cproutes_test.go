package lab

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, cidrs []string, ips ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDRs: cidrs}}
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.168.10.99"})
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	return n
}

func TestDesiredControlPlaneRoutes(t *testing.T) {
	svc := []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16"), netip.MustParsePrefix("2001:cafe:43::/112")}
	got := desiredControlPlaneRoutes([]*corev1.Node{
		node("node-2", []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}, "192.168.1.12", "fd00:c0a8:1::12"),
		node("node-1", []string{"10.42.0.0/24", "2001:cafe:42::/64"}, "192.168.1.11", "fd00:c0a8:1::11"),
		node("node-3", nil, "192.168.1.13"),                   // no podCIDRs yet
		node("far", []string{"10.42.9.0/24"}, "192.168.10.5"), // InternalIP off the LAN
	}, svc)
	want := "[10.42.0.0/24 via 192.168.1.11 2001:cafe:42::/64 via fd00:c0a8:1::11 10.42.1.0/24 via 192.168.1.12 2001:cafe:42:1::/64 via fd00:c0a8:1::12 10.43.0.0/16 via 192.168.1.11 2001:cafe:43::/112 via fd00:c0a8:1::11]"
	if fmt.Sprint(got) != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
	// node-1 stops: the service ranges move to node-2, node-1's pod ranges stay routed to it.
	n1 := node("node-1", []string{"10.42.0.0/24"}, "192.168.1.11")
	n1.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
	got = desiredControlPlaneRoutes([]*corev1.Node{n1, node("node-2", []string{"10.42.1.0/24"}, "192.168.1.12")}, svc[:1])
	if want := "[10.42.0.0/24 via 192.168.1.11 10.42.1.0/24 via 192.168.1.12 10.43.0.0/16 via 192.168.1.12]"; fmt.Sprint(got) != want {
		t.Errorf("node-1 not Ready:\n got %v\nwant %s", got, want)
	}
	if got := desiredControlPlaneRoutes(nil, svc); len(got) != 0 {
		t.Errorf("no nodes: %v", got)
	}
}
