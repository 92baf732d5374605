package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// traceTestdata is what `weft trace`'s tests read as the scenario table: nft's own listing.
const traceTestdata = "../trace/testdata/weft-proxy.nft"

// TestTraceTestdataIsCurrent loads the scenario table into the kernel and checks that
// internal/trace's saved listing of it has the same chains, rules and set declarations (the
// elements' order varies from one load to the next); -update rewrites the listing. Needs root.
func TestTraceTestdataIsCurrent(t *testing.T) {
	nft := scratchNFT(t, "pxtd")
	applyFull(t, nft, tableOf(scenarioServices(), labServiceCIDRs, labClusterCIDRs))
	out, err := exec.Command("ip", "netns", "exec", filepath.Base(nft.path), "nft", "list", "table", "inet", Table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	if *updateGolden {
		if err := os.WriteFile(traceTestdata, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	saved, err := os.ReadFile(traceTestdata)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := declarations(string(out)), declarations(string(saved)); got != want {
		t.Errorf("%s is not the current table (go test -update rewrites it):\n--- now\n%s\n--- saved\n%s", traceTestdata, got, want)
	}
}

// declarations is an `nft list table` text without the element lists, as its sets, maps and
// chains sorted: their order follows the order a sync happened to add them in.
func declarations(text string) string {
	var blocks []string
	var block []string
	inElements := false
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "elements = {"):
			inElements = !strings.HasSuffix(trimmed, "}")
		case inElements:
			inElements = !strings.HasSuffix(trimmed, "}")
		case trimmed == "":
		case line == "\t}":
			blocks = append(blocks, strings.Join(append(block, line), "\n"))
			block = nil
		default:
			block = append(block, line)
		}
	}
	slices.Sort(blocks)
	return strings.Join(append(blocks, block...), "\n")
}
