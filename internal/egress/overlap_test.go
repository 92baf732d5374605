package egress

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
)

// overlapping are ranges that are never masqueraded to, as an agent gathers them: the pod
// range, the documentation's two ServiceCIDRs (10.96.0.0/24 added over a full 10.96.0.0/28)
// and a --no-masquerade-cidr that covers the pod range.
var overlapping = prefixes("10.42.0.0/16", "10.96.0.0/28", "10.96.0.0/24", "10.0.0.0/8", "2001:cafe:43::/112", "2001:cafe:43::/64")

func keepElements(t *testing.T, nft knftables.Interface, set string) []string {
	t.Helper()
	elements, err := nft.ListElements(context.Background(), "set", set)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range elements {
		out = append(out, strings.Join(e.Key, " . "))
	}
	slices.Sort(out)
	return out
}

// TestOverlappingKeepRanges: overlapping ranges reach the interval sets merged.
func TestOverlappingKeepRanges(t *testing.T) {
	fake := knftables.NewFake(knftables.InetFamily, Table)
	m := NewMasquerade(fake, prefixes("10.42.0.0/16", "10.42.0.0/24"), overlapping, false)
	if err := m.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string][]string{
		"keep-v4": {"10.0.0.0/8"}, "keep-v6": {"2001:cafe:43::/64"}, "pods-v4": {"10.42.0.0/16"},
	} {
		if got := keepElements(t, fake, set); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", set, got, want)
		}
	}
}

// TestOverlappingKeepRangesInKernel loads the table with overlapping ranges into the kernel
// of a network namespace the test makes.
func TestOverlappingKeepRangesInKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes nftables in a network namespace of its own")
	}
	ns := fmt.Sprintf("weft-egress-%d", os.Getpid()%100000)
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	err := netns.Do(netns.Path(ns), func() error {
		nft, err := knftables.New(knftables.InetFamily, Table)
		if err != nil {
			return err
		}
		m := NewMasquerade(nft, prefixes("10.42.0.0/16"), overlapping, true)
		if err := m.Sync(context.Background(), nil); err != nil {
			return err
		}
		if got := keepElements(t, nft, "keep-v4"); !slices.Equal(got, []string{"10.0.0.0/8"}) {
			t.Errorf("keep-v4 holds %v in the kernel, want 10.0.0.0/8", got)
		}
		return m.Cleanup(context.Background())
	})
	if err != nil {
		t.Fatal(err)
	}
}
