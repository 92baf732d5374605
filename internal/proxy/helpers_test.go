package proxy

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/knftables"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden rulesets in testdata/golden")

var (
	labServiceCIDRs = []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16"), netip.MustParsePrefix("2001:cafe:43::/112")}
	labClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	// testNodeIPs are the node's InternalIPs in the rulesets tables are compared with.
	testNodeIPs = []netip.Addr{netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("fd00:1::11")}
)

// tableOf is the table a sync makes of these services (by key) and ranges.
func tableOf(services map[string][]*servicePort, serviceCIDRs, clusterCIDRs []netip.Prefix) *table {
	t := newTable()
	for k, ps := range services {
		t.set(k, serviceContribution(ps, len(clusterCIDRs) > 0))
	}
	t.set(cidrsOwner, cidrContribution(serviceCIDRs, clusterCIDRs, testNodeIPs))
	return t
}

// applyFull runs a full sync's transaction of t on nft, in place.
func applyFull(t testing.TB, nft knftables.Interface, tbl *table) {
	t.Helper()
	have, err := listPresent(context.Background(), nft)
	if err != nil {
		t.Fatal(err)
	}
	tx := nft.NewTransaction()
	writeFull(tx, newSkeleton(), tbl, have, false, batchesElements(nft))
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatalf("full sync: %v", err)
	}
	tbl.commit(true)
}

// applyChanges runs a partial sync's transaction and returns its text ("" when there was
// nothing to send).
func applyChanges(t testing.TB, nft knftables.Interface, tbl *table) string {
	t.Helper()
	p := tbl.pending()
	if p.empty() {
		return ""
	}
	tx := nft.NewTransaction()
	tbl.writePending(tx, p)
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatalf("partial sync: %v\n%s", err, tx)
	}
	tbl.commit(false)
	return tx.String()
}

// golden compares got with testdata/golden/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it after review):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

var node1 = topology{node: "node-1"}

// writeSwaps sends p's elements through w, as a partial sync of only element swaps does.
func writeSwaps(w ElementWriter, tbl *table, p pending) error {
	dels, adds := tbl.swaps(p)
	return w.WriteElements(dels, adds, setTypes(newSkeleton(), tbl))
}
