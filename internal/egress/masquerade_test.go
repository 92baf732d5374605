package egress

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/nft"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestMasqueradeRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		golden    string
		pods      []netip.Prefix
		ipv6      bool
		want, not []string
	}{
		{"dual-stack, IPv4 only masqueraded", "dual-stack", prefixes("10.42.0.0/16", "2001:cafe:42::/56"), false,
			[]string{"ip saddr @pods-v4 ip daddr != @keep-v4 meta mark & 0x10000000 == 0 masquerade", "add element inet weft-egress keep-v4 { 10.43.0.0/16 }", "add element inet weft-egress pods-v6 { 2001:cafe:42::/56 }"},
			[]string{"ip6 saddr @pods-v6"}},
		{"dual-stack with --ipv6-masq", "dual-stack-ipv6-masq", prefixes("10.42.0.0/16", "2001:cafe:42::/56"), true,
			[]string{"ip saddr @pods-v4", "ip6 saddr @pods-v6 ip6 daddr != @keep-v6 meta mark & 0x10000000 == 0 masquerade"}, nil},
		{"IPv6 only without --ipv6-masq", "ipv6-only", prefixes("2001:cafe:42::/56"), false,
			nil, []string{"masquerade fully-random"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := nft.NewFake(nft.InetFamily, Table)
			keep := append(append([]netip.Prefix{}, tc.pods...), prefixes("10.43.0.0/16", "2001:cafe:43::/112")...)
			m := NewMasquerade(fake, tc.pods, keep, tc.ipv6)
			if err := m.Sync(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			// A second sync converges on the same table.
			if err := m.Sync(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			dump := fake.Dump()
			goldenfile.Check(t, filepath.Join("testdata", tc.golden+".nft"), fake.DumpSorted())
			for _, w := range tc.want {
				if !strings.Contains(dump, w) {
					t.Errorf("ruleset lacks %q:\n%s", w, dump)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(dump, n) {
					t.Errorf("ruleset has %q:\n%s", n, dump)
				}
			}
			if strings.Count(dump, "masquerade fully-random") > 2 {
				t.Errorf("rules duplicated across syncs:\n%s", dump)
			}
			if err := m.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := fake.Dump(); d != "" {
				t.Errorf("Cleanup left:\n%s", d)
			}
		})
	}
}

// TestServiceCIDRsAddedAtRunTime: a ServiceCIDR the cluster gains after the agent started is
// kept from masquerade at the next sync, and masqueraded again once it is gone.
func TestServiceCIDRsAddedAtRunTime(t *testing.T) {
	m := NewMasquerade(nft.NewFake(nft.InetFamily, Table), prefixes("10.42.0.0/16"), prefixes("10.42.0.0/16", "10.43.0.0/16"), false)
	for _, step := range []struct {
		name   string
		ranges []netip.Prefix
		want   []string
	}{
		{"only the flag's range", nil, []string{"10.42.0.0/16", "10.43.0.0/16"}},
		{"ServiceCIDR kubernetes and newcidr1", prefixes("10.43.0.0/16", "10.96.0.0/24"), []string{"10.42.0.0/16", "10.43.0.0/16", "10.96.0.0/24"}},
		{"newcidr1 deleted", prefixes("10.43.0.0/16"), []string{"10.42.0.0/16", "10.43.0.0/16"}},
	} {
		if err := m.Sync(context.Background(), step.ranges); err != nil {
			t.Fatal(err)
		}
		if got := keepElements(t, m, "keep-v4"); !slices.Equal(got, step.want) {
			t.Errorf("%s: keep-v4 holds %v, want %v", step.name, got, step.want)
		}
	}
}
