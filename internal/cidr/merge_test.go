package cidr

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func parseList(t testing.TB, s string) []netip.Prefix {
	var out []netip.Prefix
	for _, f := range strings.Fields(s) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			t.Fatalf("test input %q: %v", f, err)
		}
		out = append(out, p)
	}
	return out
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"nothing", "", ""},
		// Kubernetes' documentation: ServiceCIDR newcidr1 over the cluster's full range.
		{"a second ServiceCIDR over the first", "10.96.0.0/28 10.96.0.0/24", "10.96.0.0/24"},
		{"the second range given first", "10.96.0.0/24 10.96.0.0/28", "10.96.0.0/24"},
		{"duplicates", "10.43.0.0/16 10.43.0.0/16", "10.43.0.0/16"},
		{"unmasked", "10.43.7.1/16", "10.43.0.0/16"},
		{"disjoint, sorted", "10.44.0.0/16 10.43.0.0/16", "10.43.0.0/16 10.44.0.0/16"},
		{"adjacent halves stay apart", "10.96.0.128/25 10.96.0.0/25", "10.96.0.0/25 10.96.0.128/25"},
		{"no-masquerade range over the pod range", "10.42.0.0/16 10.0.0.0/8 10.43.0.0/16 192.168.0.0/16", "10.0.0.0/8 192.168.0.0/16"},
		{"nested three deep", "10.96.0.16/28 10.96.0.0/24 10.96.0.17/32 10.97.0.0/24", "10.96.0.0/24 10.97.0.0/24"},
		{"dual-stack, IPv4 first", "2001:cafe:43::/112 10.43.0.0/16 2001:cafe:43::/64 2001:cafe:43::10/128", "10.43.0.0/16 2001:cafe:43::/64"},
		{"families never contain each other", "::/0 0.0.0.0/0 10.0.0.0/8 ::ffff:10.0.0.0/104", "0.0.0.0/0 ::/0"},
		{"single addresses", "10.42.1.3/32 10.42.1.2/32 10.42.1.2/32", "10.42.1.2/32 10.42.1.3/32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := parseList(t, tc.in)
			orig := slices.Clone(in)
			got := Join(Merge(in))
			if want := strings.ReplaceAll(tc.want, " ", ","); got != want {
				t.Errorf("Merge(%s) = %s, want %s", tc.in, got, want)
			}
			if !slices.Equal(in, orig) {
				t.Errorf("Merge changed its input: %v, was %v", in, orig)
			}
		})
	}
	if got := Merge([]netip.Prefix{{}, netip.MustParsePrefix("10.0.0.0/8")}); len(got) != 1 {
		t.Errorf("Merge kept an invalid prefix: %v", got)
	}
}
