package proxy

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/nft"
)

// Kubernetes' documentation adds ServiceCIDR newcidr1 10.96.0.0/24 to a cluster whose range,
// 10.96.0.0/28, is full: the two overlap, and Services get addresses from both.
var (
	docFirstRange  = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/28")}
	docBothRanges  = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/28"), netip.MustParsePrefix("10.96.0.0/24")}
	docRangesFirst = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/24"), netip.MustParsePrefix("10.96.0.0/28")}
)

func setElements(t *testing.T, nft knftables.Interface, set string) []string {
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

// TestOverlappingServiceCIDRs: the ranges reach the interval set without overlaps, whatever
// order they are listed in, and removing the wide range by a partial sync leaves the narrow
// one, whose addresses are still the cluster's.
func TestOverlappingServiceCIDRs(t *testing.T) {
	for _, ranges := range [][]netip.Prefix{docBothRanges, docRangesFirst} {
		fake := nft.NewFake(nft.InetFamily, Table)
		tbl := tableOf(fake, nil, ranges, labClusterCIDRs)
		applyFull(t, tbl)
		if got := setElements(t, fake.Fake, "service-cidrs-v4"); !slices.Equal(got, []string{"10.96.0.0/24"}) {
			t.Errorf("ranges %v: service-cidrs-v4 holds %v, want only 10.96.0.0/24", ranges, got)
		}
		tbl.set(cidrsOwner, cidrContribution(docFirstRange, labClusterCIDRs, nil))
		tx := applyChanges(t, tbl)
		// The wide range goes before the narrow one comes, in one transaction.
		del, add := strings.Index(tx, "delete element service-cidrs-v4 { 10.96.0.0/24 }"), strings.Index(tx, "add element service-cidrs-v4 { 10.96.0.0/28 }")
		if del < 0 || add < del {
			t.Errorf("newcidr1 deleted: want the /24 deleted, then the /28 added:\n%s", tx)
		}
		if got := setElements(t, fake.Fake, "service-cidrs-v4"); !slices.Equal(got, []string{"10.96.0.0/28"}) {
			t.Errorf("after newcidr1 went: service-cidrs-v4 holds %v, want 10.96.0.0/28", got)
		}
	}
}

// TestOverlappingServiceCIDRsInKernel loads the documentation's ranges into a real table, then
// removes and adds the wide one by partial syncs, asking the kernel each time which addresses
// the set holds.
func TestOverlappingServiceCIDRsInKernel(t *testing.T) {
	nft := scratchNFT(t, "svccidr")
	inSet := func(addr string) bool {
		t.Helper()
		var out []byte
		var err error
		_ = netns.Do(nft.path, func() error {
			out, err = exec.Command("nft", "get", "element", "inet", Table, "service-cidrs-v4", "{", addr, "}").CombinedOutput()
			return nil
		})
		if err != nil && !strings.Contains(string(out), "No such file or directory") {
			t.Fatalf("nft get element %s: %v\n%s", addr, err, out)
		}
		return err == nil
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		for addr, in := range want {
			if got := inSet(addr); got != in {
				t.Errorf("%s: %s in service-cidrs-v4 = %v, want %v", when, addr, got, in)
			}
		}
	}
	tbl := tableOf(nft, nil, docBothRanges, labClusterCIDRs)
	applyFull(t, tbl)
	check("both ranges", map[string]bool{"10.96.0.5": true, "10.96.0.142": true, "10.96.1.1": false})

	tbl.set(cidrsOwner, cidrContribution(docFirstRange, labClusterCIDRs, nil))
	applyChanges(t, tbl)
	check("newcidr1 deleted", map[string]bool{"10.96.0.5": true, "10.96.0.142": false})

	tbl.set(cidrsOwner, cidrContribution(docBothRanges, labClusterCIDRs, nil))
	applyChanges(t, tbl)
	check("newcidr1 added at run time", map[string]bool{"10.96.0.5": true, "10.96.0.142": true})

	// Adjacent ranges do not overlap: they stay two elements, and both load.
	halves := []netip.Prefix{netip.MustParsePrefix("10.96.0.0/25"), netip.MustParsePrefix("10.96.0.128/25")}
	tbl.set(cidrsOwner, cidrContribution(halves, labClusterCIDRs, nil))
	applyChanges(t, tbl)
	check("two adjacent halves", map[string]bool{"10.96.0.5": true, "10.96.0.142": true, "10.96.1.1": false})
}
