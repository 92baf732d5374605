package proxy

import (
	"context"
	"testing"
)

// TestResyncWritesNothingWhenUntouched: a periodic full sync of the scenario table in the
// kernel, after another table in the namespace was written (so the table is read back and
// compared), sends nothing; after someone deletes an element, it repairs it. Needs root.
func TestResyncWritesNothingWhenUntouched(t *testing.T) {
	k := scratchNFT(t, "rsy")
	tbl := tableOf(k, scenarioServices(), labServiceCIDRs, labClusterCIDRs)
	applyFull(t, tbl)
	other := otherTableT(t, k.path)
	other(1)
	if tx, err := tbl.sync(context.Background(), true); err != nil || tx != nil {
		t.Fatalf("a full sync of an untouched table sent %v, %v", tx, err)
	}
}

// TestRestartWritesNothing: a new proxy's first sync over the table a previous one left
// compares and sends nothing. Needs root.
func TestRestartWritesNothing(t *testing.T) {
	k := scratchNFT(t, "rst")
	applyFull(t, tableOf(k, syntheticServices(50), benchServiceCIDRs, benchClusterCIDRs))
	if tx, err := tableOf(k, syntheticServices(50), benchServiceCIDRs, benchClusterCIDRs).sync(context.Background(), true); err != nil || tx != nil {
		t.Fatalf("the first sync after a restart sent %v, %v", tx, err)
	}
}
