package proxy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

func service(name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{ClusterIPs: ips, Ports: ports, Type: corev1.ServiceTypeClusterIP}}
}

func slice(svc string, typ discoveryv1.AddressType, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: typ, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

func ep(ip string, ready, serving, terminating bool, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node),
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}}
}

func TestEndpointChoice(t *testing.T) {
	web := service("web", []string{"10.43.0.10", "2001:cafe:43::10"}, corev1.ServicePort{Port: 80})
	slices := []*discoveryv1.EndpointSlice{
		slice("web", discoveryv1.AddressTypeIPv4, 8080, ep("10.42.1.5", true, true, false, "node-1"), ep("10.42.2.5", false, true, true, "node-2")),
		slice("web", discoveryv1.AddressTypeIPv6, 8080, ep("2001:cafe:42:2::5", false, true, true, "node-2"), ep("2001:cafe:42:3::5", false, false, false, "node-3")),
	}
	ports := servicePorts(web, slices, "node-1")
	if len(ports) != 2 {
		t.Fatalf("want one port per family, got %d", len(ports))
	}
	if got := ports[0].endpoints; len(got) != 1 || got[0].String() != "10.42.1.5:8080" {
		t.Errorf("IPv4: the ready endpoint only, got %v", got)
	}
	if got := ports[1].endpoints; len(got) != 1 || got[0].String() != "[2001:cafe:42:2::5]:8080" {
		t.Errorf("IPv6: none ready, so the serving terminating one, got %v", got)
	}
	web.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	if got := servicePorts(web, slices, "node-3")[0].endpoints; len(got) != 0 {
		t.Errorf("internalTrafficPolicy Local on a node without endpoints: got %v", got)
	}
	headless := service("h", []string{"None"}, corev1.ServicePort{Port: 80})
	if got := servicePorts(headless, nil, "node-1"); len(got) != 0 {
		t.Errorf("headless service proxied: %v", got)
	}
}

func TestRulesetOverFake(t *testing.T) {
	fake := knftables.NewFake(knftables.InetFamily, Table)
	web := service("web", []string{"10.43.0.10"}, corev1.ServicePort{Port: 80, NodePort: 30080})
	web.Spec.ExternalIPs = []string{"192.168.1.200"}
	web.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	st := state{
		serviceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16")},
		clusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")},
		ports: append(servicePorts(web, []*discoveryv1.EndpointSlice{slice("web", discoveryv1.AddressTypeIPv4, 8080,
			ep("10.42.1.5", true, true, false, "node-1"), ep("10.42.2.5", true, true, false, "node-2"))}, "node-1"),
			servicePorts(service("empty", []string{"10.43.0.11"}, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP}), nil, "node-1")...),
	}
	for range 2 { // a second sync must converge on the same table
		tx := fake.NewTransaction()
		writeRules(tx, st)
		if err := fake.Run(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	dump := fake.Dump()
	for _, want := range []string{
		"add element inet weft-proxy service-ips-v4 { 10.43.0.10 . tcp . 80 : goto svc-",
		"add element inet weft-proxy service-ips-v4 { 192.168.1.200 . tcp . 80 : goto ext-",
		"add element inet weft-proxy service-nodeports-v4 { tcp . 30080 : goto ext-",
		"add element inet weft-proxy no-endpoints-v4 { 10.43.0.11 . udp . 53 : goto reject-chain }",
		"numgen random mod 2 vmap { 0 : goto ep-",
		"meta l4proto tcp dnat ip to 10.42.1.5:8080",
		"meta l4proto tcp dnat ip to 10.42.2.5:8080",
		"ip saddr 10.42.1.5 meta mark set meta mark | 0x20000000",
		"ip saddr != @cluster-cidrs-v4 meta mark set meta mark | 0x20000000",
		"update @affinity-",
		"ip daddr @service-cidrs-v4 drop",
		"add element inet weft-proxy cluster-ips-v4 { 10.43.0.11 }",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("table lacks %q:\n%s", want, dump)
		}
	}
	if strings.Count(dump, "dnat ip to") != 2 {
		t.Errorf("want exactly two DNAT rules:\n%s", dump)
	}
}
