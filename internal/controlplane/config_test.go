package controlplane

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestControllerManagerMaskFlagsFollowFamilies(t *testing.T) {
	for _, tc := range []struct {
		cidrs []string
		want  []string
		not   []string
	}{
		{[]string{"10.42.0.0/16"}, []string{"--node-cidr-mask-size-ipv4=24"}, []string{"--node-cidr-mask-size-ipv6"}},
		{[]string{"2001:cafe:42::/56"}, []string{"--node-cidr-mask-size-ipv6=64"}, []string{"--node-cidr-mask-size-ipv4"}},
		{[]string{"10.42.0.0/16", "2001:cafe:42::/56"}, []string{"--node-cidr-mask-size-ipv4=24", "--node-cidr-mask-size-ipv6=64", "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56"}, nil},
	} {
		c := Config{Dir: "/x", NodeCIDRMaskSizeV4: 24, NodeCIDRMaskSizeV6: 64}
		for _, s := range tc.cidrs {
			c.ClusterCIDRs = append(c.ClusterCIDRs, netip.MustParsePrefix(s))
		}
		args := c.ControllerManagerArgs()
		for _, w := range tc.want {
			if !slices.Contains(args, w) {
				t.Errorf("%v: args lack %s", tc.cidrs, w)
			}
		}
		for _, n := range tc.not {
			for _, a := range args {
				if strings.HasPrefix(a, n) {
					t.Errorf("%v: args carry %s, which the controller-manager refuses for this family", tc.cidrs, a)
				}
			}
		}
	}
}

func TestServingCertificateCoversEveryWayIn(t *testing.T) {
	c := Config{
		AdvertiseAddress: netip.MustParseAddr("192.168.1.2"),
		ServingIPs:       []netip.Addr{netip.MustParseAddr("fd00:c0a8:1::2")},
		ServiceCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16"), netip.MustParsePrefix("2001:cafe:43::/112")},
		ClusterDomain:    "cluster.local",
	}
	var got []string
	for _, ip := range c.servingIPs() {
		got = append(got, ip.String())
	}
	for _, want := range []string{"127.0.0.1", "::1", "192.168.1.2", "fd00:c0a8:1::2", "10.43.0.1", "2001:cafe:43::1"} {
		if !slices.Contains(got, want) {
			t.Errorf("serving IPs %v lack %s", got, want)
		}
	}
	if !slices.Contains(c.servingNames(), "kubernetes.default.svc.cluster.local") {
		t.Errorf("serving names %v lack the service FQDN", c.servingNames())
	}
}
