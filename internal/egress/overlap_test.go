package egress

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
	"github.com/weftnet/weft/internal/nft"
)

// overlapping are ranges that are never masqueraded to, as an agent gathers them: the pod
// range, the documentation's two ServiceCIDRs (10.96.0.0/24 added over a full 10.96.0.0/28)
// and a --no-masquerade-cidr that covers the pod range.
var overlapping = prefixes("10.42.0.0/16", "10.96.0.0/28", "10.96.0.0/24", "10.0.0.0/8", "2001:cafe:43::/112", "2001:cafe:43::/64")

// keepElements are the elements of set as the kernel (or the fake) holds them, sorted.
func keepElements(t *testing.T, m *Masquerade, set string) []string {
	t.Helper()
	elements, err := m.table.Elements(context.Background(), set)
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
	m := NewMasquerade(nft.NewFake(nft.InetFamily, Table), prefixes("10.42.0.0/16", "10.42.0.0/24"), overlapping, false)
	if err := m.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string][]string{
		"keep-v4": {"10.0.0.0/8"}, "keep-v6": {"2001:cafe:43::/64"}, "pods-v4": {"10.42.0.0/16"},
	} {
		if got := keepElements(t, m, set); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", set, got, want)
		}
	}
}

// TestOverlappingKeepRangesInKernel loads the table with overlapping ranges into the kernel
// of a network namespace the test makes.
func TestOverlappingKeepRangesInKernel(t *testing.T) {
	ns := netnstest.Scratch(t, "egress")
	k, err := nft.New(nft.InetFamily, Table, netns.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMasquerade(k, prefixes("10.42.0.0/16"), overlapping, true)
	ctx := context.Background()
	if err := m.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := keepElements(t, m, "keep-v4"); !slices.Equal(got, []string{"10.0.0.0/8"}) {
		t.Errorf("keep-v4 holds %v in the kernel, want 10.0.0.0/8", got)
	}
	// A ServiceCIDR outside the merged ranges joins them in the next sync, and a second
	// sync of the same ranges finds the kernel's table as written.
	if err := m.Sync(ctx, prefixes("192.168.200.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(ctx, prefixes("192.168.200.0/24")); err != nil {
		t.Fatal(err)
	}
	if got := keepElements(t, m, "keep-v4"); !slices.Equal(got, []string{"10.0.0.0/8", "192.168.200.0/24"}) {
		t.Errorf("keep-v4 holds %v in the kernel, want 10.0.0.0/8 and 192.168.200.0/24", got)
	}
	if err := m.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keepElements(t, m, "keep-v4"); len(got) > 0 {
		t.Errorf("after Cleanup keep-v4 still holds %v", got)
	}
}
