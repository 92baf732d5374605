package lab

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKubeDNSService(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		ips    []string
		policy corev1.IPFamilyPolicy
	}{
		{"IPv4", nil, []string{"10.43.0.10"}, corev1.IPFamilyPolicySingleStack},
		{"dual-stack", []string{"--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112"},
			[]string{"10.43.0.10", "2001:cafe:43::a"}, corev1.IPFamilyPolicyPreferDualStack},
		{"dual-stack IPv6 first", []string{"--cluster-cidr=2001:cafe:42::/56,10.42.0.0/16", "--service-cidr=2001:cafe:43::/112,10.43.0.0/16"},
			[]string{"2001:cafe:43::a", "10.43.0.10"}, corev1.IPFamilyPolicyPreferDualStack},
		{"IPv6 only", []string{"--cluster-cidr=2001:cafe:42::/56", "--service-cidr=2001:cafe:43::/112"},
			[]string{"2001:cafe:43::a"}, corev1.IPFamilyPolicySingleStack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := completed(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			svc := NewPlan(o).kubeDNSService()
			if !reflect.DeepEqual(svc.Spec.ClusterIPs, tc.ips) || svc.Spec.ClusterIP != tc.ips[0] || *svc.Spec.IPFamilyPolicy != tc.policy {
				t.Fatalf("clusterIPs %v (%s), want %v (%s)", svc.Spec.ClusterIPs, *svc.Spec.IPFamilyPolicy, tc.ips, tc.policy)
			}
			if svc.Namespace != "kube-system" || svc.Name != "kube-dns" || svc.Labels["k8s-app"] != "kube-dns" || svc.Spec.Selector != nil {
				t.Fatalf("service %s/%s labels %v selector %v", svc.Namespace, svc.Name, svc.Labels, svc.Spec.Selector)
			}
			var ports []string
			for _, p := range svc.Spec.Ports {
				ports = append(ports, p.Name+"/"+string(p.Protocol))
			}
			if !reflect.DeepEqual(ports, []string{"dns/UDP", "dns-tcp/TCP"}) {
				t.Fatalf("ports %v", ports)
			}
		})
	}
}

// TestNodeResolvConf: the router is the node's resolver, written in the node's own /etc layer.
func TestNodeResolvConf(t *testing.T) {
	o, err := completed(t, "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56", "--service-cidr=10.43.0.0/16,2001:cafe:43::/112")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(o)
	p.StateDir = t.TempDir()
	if err := writeNodeResolvConf(p, p.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(p.StateDir, nodesDir, "node-1", "rootfs", "etc", "upper", "resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nameserver 192.168.1.1\n", "nameserver fd00:c0a8:1::1\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, b)
		}
	}
	o6, err := completed(t, "--cluster-cidr=2001:cafe:42::/56", "--service-cidr=2001:cafe:43::/112")
	if err != nil {
		t.Fatal(err)
	}
	p6 := NewPlan(o6)
	p6.StateDir = t.TempDir()
	if err := writeNodeResolvConf(p6, p6.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	b6, _ := os.ReadFile(filepath.Join(p6.StateDir, nodesDir, "node-1", "rootfs", "etc", "upper", "resolv.conf"))
	if !strings.Contains(string(b6), "nameserver fd00:c0a8:1::1\n") || strings.Contains(string(b6), "192.168.1.1") {
		t.Errorf("IPv6-only lab: only the router's IPv6 address:\n%s", b6)
	}
	args := strings.Join(p.routerDNSArgs(), " ")
	for _, want := range []string{"external.lab.example.=192.168.2.10", "site.lab.example.=192.168.3.10", "external.lab.example.=fd00:c0a8:2::10"} {
		if !strings.Contains(args, want) {
			t.Errorf("router DNS args lack %q: %s", want, args)
		}
	}
}
