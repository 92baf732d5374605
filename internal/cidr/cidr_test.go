package cidr

import (
	"net/netip"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestJoin(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	if got := Join(ps); got != "10.42.0.0/16,2001:cafe:42::/56" {
		t.Errorf("Join = %q", got)
	}
	if got := Join(nil); got != "" {
		t.Errorf("Join(nil) = %q, want empty", got)
	}
}

func TestOfServiceCIDRs(t *testing.T) {
	objs := []*networkingv1.ServiceCIDR{
		{Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/28", "2001:cafe:43::/112"}}},
		{Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.7/24", "not a range"}}},
	}
	if got := Join(OfServiceCIDRs(objs)); got != "10.96.0.0/28,2001:cafe:43::/112,10.96.0.0/24" {
		t.Errorf("OfServiceCIDRs = %s", got)
	}
}

func TestLast(t *testing.T) {
	for p, want := range map[string]string{"10.96.0.0/25": "10.96.0.127", "10.43.0.0/16": "10.43.255.255", "192.168.1.11/32": "192.168.1.11",
		"2001:cafe:43::/112": "2001:cafe:43::ffff", "0.0.0.0/0": "255.255.255.255", "10.96.0.5/24": "10.96.0.255"} {
		if got := Last(netip.MustParsePrefix(p)).String(); got != want {
			t.Errorf("Last(%s) = %s, want %s", p, got, want)
		}
	}
}
