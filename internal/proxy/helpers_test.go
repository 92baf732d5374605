package proxy

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/nft"
)

var (
	labServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16"), netip.MustParsePrefix("2001:cafe:43::/112")}
	labClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	// testNodeIPs are the node's InternalIPs in the rulesets tables are compared with.
	testNodeIPs = []netip.Addr{netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("fd00:1::11")}
)

// tableOf is the table a sync makes of these services (by key) and ranges, written to k.
func tableOf(k nft.Kernel, services map[string][]*servicePort, serviceCIDRs, clusterCIDRs []netip.Prefix) *table {
	t := newTable(k)
	for key, ps := range services {
		t.set(key, serviceContribution(ps, len(clusterCIDRs) > 0))
	}
	t.set(cidrsOwner, cidrContribution(serviceCIDRs, clusterCIDRs, testNodeIPs))
	return t
}

// applyFull runs a full sync of tbl, in place.
func applyFull(t testing.TB, tbl *table) {
	t.Helper()
	if _, err := tbl.sync(context.Background(), true); err != nil {
		t.Fatalf("full sync: %v", err)
	}
}

// applyChanges runs a partial sync and returns its transaction's text ("" when there was
// nothing to send).
func applyChanges(t testing.TB, tbl *table) string {
	t.Helper()
	tx, err := tbl.sync(context.Background(), false)
	if err != nil {
		t.Fatalf("partial sync: %v", err)
	}
	if tx == nil {
		return ""
	}
	return tx.String()
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}

var node1 = topology{node: "node-1"}
