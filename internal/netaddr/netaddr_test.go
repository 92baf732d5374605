package netaddr

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestFamily(t *testing.T) {
	spell := func(f Family) string {
		return fmt.Sprint(f, " ", f.Suffix(), " ", f.Match(), " ", f.AddrType(), " ", f.Is6())
	}
	for addr, want := range map[string]string{
		"10.42.0.1":        "IPv4 v4 ip ipv4_addr false",
		"2001:cafe:42::1":  "IPv6 v6 ip6 ipv6_addr true",
		"::ffff:10.42.0.1": "IPv6 v6 ip6 ipv6_addr true", // IPv6, as the kernel sees it
	} {
		a := netip.MustParseAddr(addr)
		if got := spell(Of(a)); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
		if OfPrefix(netip.PrefixFrom(a, 8)) != Of(a) {
			t.Errorf("%s: OfPrefix differs from Of", addr)
		}
	}
	if IPv4.Netlink() != netlink.FAMILY_V4 || IPv6.Netlink() != netlink.FAMILY_V6 {
		t.Errorf("netlink families %d, %d", IPv4.Netlink(), IPv6.Netlink())
	}
	for i, f := range Families {
		if int(f) != i {
			t.Errorf("Families[%d] = %d: a family's value must be its index", i, f)
		}
	}
}

func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    *net.IPNet
		want string // "" for not ok
	}{
		{"IPv4", &net.IPNet{IP: net.IPv4(10, 42, 0, 0).To4(), Mask: net.CIDRMask(16, 32)}, "10.42.0.0/16"},
		{"IPv4 in 16 bytes, 4-byte mask (netlink)", &net.IPNet{IP: net.IPv4(10, 42, 0, 0), Mask: net.CIDRMask(16, 32)}, "10.42.0.0/16"},
		{"IPv4 in 16 bytes, 16-byte mask", &net.IPNet{IP: net.IPv4(10, 42, 0, 0), Mask: net.CIDRMask(112, 128)}, "10.42.0.0/16"},
		{"IPv6", &net.IPNet{IP: net.ParseIP("2001:cafe:42::"), Mask: net.CIDRMask(56, 128)}, "2001:cafe:42::/56"},
		{"default route", &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, "0.0.0.0/0"},
		{"nil", nil, ""},
		{"no address", &net.IPNet{Mask: net.CIDRMask(8, 32)}, ""},
		{"non-canonical mask", &net.IPNet{IP: net.IPv4(10, 0, 0, 0).To4(), Mask: net.IPv4Mask(255, 0, 255, 0)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := PrefixOf(tc.n)
			if tc.want == "" {
				if ok {
					t.Errorf("PrefixOf = %s, want not ok", p)
				}
				return
			}
			if !ok || p.String() != tc.want {
				t.Fatalf("PrefixOf = %s, %v, want %s", p, ok, tc.want)
			}
			if back, _ := PrefixOf(IPNet(p)); back != p {
				t.Errorf("round trip through IPNet: %s, want %s", back, p)
			}
		})
	}
	for _, tc := range []struct {
		ip   net.IP
		want string
	}{{net.IPv4(10, 0, 0, 1), "10.0.0.1"}, {net.IPv4(10, 0, 0, 1).To4(), "10.0.0.1"}, {net.ParseIP("2001:db8::1"), "2001:db8::1"}, {nil, "invalid IP"}} {
		if got := AddrOf(tc.ip).String(); got != tc.want {
			t.Errorf("AddrOf(%v) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}
