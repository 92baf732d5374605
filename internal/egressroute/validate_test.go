package egressroute

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want []string // one substring per expected error, in order; none: valid
	}{
		{"a subnet only the nodes route to", Spec{Destinations: []string{"192.168.2.0/24"}, Via: "192.168.1.1"}, nil},
		{"dual-stack out of an interface", Spec{Destinations: []string{"192.168.3.0/24", "2001:db8:3::/64"}, Interface: "eth1"}, nil},
		{"IPv6 via a link-local router", Spec{Destinations: []string{"2001:db8:3::/64"}, Via: "fe80::1", Interface: "eth1"}, nil},
		{"all egress through a firewall contains the cluster, which stays direct", Spec{Destinations: []string{"0.0.0.0/0"}, Via: "192.168.1.254"}, nil},
		{"VLAN interface", Spec{Destinations: []string{"192.168.3.0/24"}, Interface: "eth0.100"}, nil},
		{"empty", Spec{}, []string{"destinations: give at least one network", "via, interface: give via"}},
		{"not a CIDR", Spec{Destinations: []string{"192.168.3.0"}, Via: "192.168.1.1"},
			[]string{`destinations[0]: "192.168.3.0" is not a network; write one such as 192.168.3.0/24`}},
		{"host bits", Spec{Destinations: []string{"192.168.3.7/24"}, Via: "192.168.1.1"},
			[]string{`destinations[0]: "192.168.3.7/24" has bits set past the prefix length; write 192.168.3.0/24`}},
		{"IPv4-mapped", Spec{Destinations: []string{"::ffff:192.168.3.0/120"}, Interface: "eth1"},
			[]string{"write the IPv4 network 192.168.3.0/24"}},
		{"multicast and loopback", Spec{Destinations: []string{"224.0.0.0/4", "127.0.0.0/8"}, Via: "192.168.1.1"},
			[]string{"destinations[0]: 224.0.0.0/4 is a loopback or multicast range", "destinations[1]: 127.0.0.0/8 is a loopback"}},
		{"duplicate", Spec{Destinations: []string{"10.9.0.0/16", "10.9.0.0/16"}, Via: "192.168.1.1"},
			[]string{"destinations[1]: 10.9.0.0/16 is destinations[0] again"}},
		{"inside the pod range", Spec{Destinations: []string{"10.42.7.0/24"}, Via: "192.168.1.1"},
			[]string{"destinations[0]: 10.42.7.0/24 is inside the cluster's own range 10.42.0.0/16"}},
		{"a service address", Spec{Destinations: []string{"2001:cafe:43::10/128"}, Interface: "eth1"},
			[]string{"inside the cluster's own range 2001:cafe:43::/112"}},
		{"via of the other family", Spec{Destinations: []string{"192.168.3.0/24", "bad", "2001:db8:3::/64"}, Via: "192.168.1.1"},
			[]string{`destinations[1]: "bad"`, "via: 192.168.1.1 is IPv4 but destinations[2] 2001:db8:3::/64 is IPv6"}},
		{"IPv6 via for IPv4", Spec{Destinations: []string{"192.168.3.0/24"}, Via: "fd00::1"},
			[]string{"via: fd00::1 is IPv6 but destinations[0] 192.168.3.0/24 is IPv4"}},
		{"via not an address", Spec{Destinations: []string{"192.168.3.0/24"}, Via: "router.lan"}, []string{`via: "router.lan" is not an IP address`}},
		{"via with a zone", Spec{Destinations: []string{"2001:db8:3::/64"}, Via: "fe80::1%eth1"}, []string{"carries a zone; give the address alone"}},
		{"via loopback", Spec{Destinations: []string{"192.168.3.0/24"}, Via: "127.0.0.1"}, []string{"via: 127.0.0.1 is not a router's address"}},
		{"link-local via alone", Spec{Destinations: []string{"2001:db8:3::/64"}, Via: "fe80::1"}, []string{"via: fe80::1 is link-local"}},
		{"interface too long", Spec{Destinations: []string{"192.168.3.0/24"}, Interface: "a-very-long-interface"}, []string{"longer than 15 characters"}},
		{"interface with a slash", Spec{Destinations: []string{"192.168.3.0/24"}, Interface: "eth0/1"}, []string{`interface: "eth0/1" contains '/'`}},
		{"bad selectors", Spec{Destinations: []string{"192.168.3.0/24"}, Via: "192.168.1.1",
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a b"}},
			PodSelector:       &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}},
			[]string{"namespaceSelector:", "podSelector:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := Validate(&tc.spec, cluster)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d naming %q", len(errs), errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to say %q", i, errs[i], w)
				}
			}
		})
	}
}

// Without the cluster's ranges (nil) the check against them is skipped.
func TestValidateWithoutClusterRanges(t *testing.T) {
	if errs := Validate(&Spec{Destinations: []string{"10.42.7.0/24"}, Via: "192.168.1.1"}, nil); len(errs) > 0 {
		t.Errorf("got %v", errs)
	}
}
