package loadbalancer

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func lbService(name string, age int, fams ...corev1.IPFamily) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+age), 0))},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, IPFamilies: fams},
	}
}

func TestAllocate(t *testing.T) {
	pools := []netip.Prefix{netip.MustParsePrefix("192.168.1.224/30"), netip.MustParsePrefix("fd00::/126")}
	a := lbService("a", 1, corev1.IPv4Protocol, corev1.IPv6Protocol)
	b := lbService("b", 2, corev1.IPv4Protocol)
	c := lbService("c", 3, corev1.IPv4Protocol) // the /30 has only .225 and .226
	held := lbService("held", 4, corev1.IPv4Protocol)
	held.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.225"}} // already its own
	other := lbService("other", 0, corev1.IPv4Protocol)
	other.Spec.LoadBalancerClass = new(string)
	*other.Spec.LoadBalancerClass = "example.com/cloud"

	got := allocate([]*corev1.Service{c, b, held, a, other}, pools)
	want := map[string]string{
		"default/held": "192.168.1.225",         // kept, though younger
		"default/a":    "192.168.1.226 fd00::1", // the oldest gets the first free ones
	}
	for k, w := range want {
		var ips []string
		for _, ip := range got[k].ips {
			ips = append(ips, ip.String())
		}
		if strings.Join(ips, " ") != w || got[k].problem != "" {
			t.Errorf("%s: got %v (%q), want %s", k, ips, got[k].problem, w)
		}
	}
	for _, k := range []string{"default/b", "default/c"} {
		if !strings.Contains(got[k].problem, "no free address") {
			t.Errorf("%s: want the exhausted pool reported, got %+v", k, got[k])
		}
	}
	if _, ok := got["default/other"]; ok {
		t.Error("a Service of another loadBalancerClass was served")
	}

	b.Spec.LoadBalancerIP = "10.0.0.1"
	if p := allocate([]*corev1.Service{b}, pools)["default/b"].problem; !strings.Contains(p, "outside the pool") {
		t.Errorf("loadBalancerIP outside the pool: %q", p)
	}
	b.Spec.LoadBalancerIP = "192.168.1.226"
	if ips := allocate([]*corev1.Service{b}, pools)["default/b"].ips; len(ips) != 1 || ips[0].String() != "192.168.1.226" {
		t.Errorf("loadBalancerIP honoured: got %v", ips)
	}
}

func TestAnnouncerIsStable(t *testing.T) {
	nodes := []string{"node-1", "node-2", "node-3"}
	owner := announcer("default/web", nodes)
	var rest []string
	for _, n := range nodes {
		if n != owner {
			rest = append(rest, n)
		}
	}
	if got := announcer("default/web", []string{nodes[2], nodes[0], nodes[1]}); got != owner {
		t.Errorf("order of nodes changed the owner: %s vs %s", got, owner)
	}
	if got := announcer("default/web", rest); got == owner || got == "" {
		t.Errorf("owner gone: want another node, got %q", got)
	}
}
