package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/goldenfile"
)

// traceTestdata is what `weft trace`'s tests read as the scenario table: nft's own listing.
const traceTestdata = "../trace/testdata/weft-proxy.nft"

// TestTraceTestdataIsCurrent loads the scenario table into the kernel and checks that
// internal/trace's saved listing of it has the same chains, rules, set declarations and
// elements (compared sorted: their order varies from one load to the next); -update rewrites
// the listing. Needs root.
func TestTraceTestdataIsCurrent(t *testing.T) {
	nft := scratchNFT(t, "pxtd")
	applyFull(t, tableOf(nft, scenarioServices(), labServiceCIDRs, labClusterCIDRs))
	out, err := exec.Command("ip", "netns", "exec", filepath.Base(nft.path), "nft", "list", "table", "inet", Table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	if goldenfile.Updating() {
		if err := os.WriteFile(traceTestdata, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	saved, err := os.ReadFile(traceTestdata)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonical(string(out)), canonical(string(saved)); got != want {
		t.Errorf("%s is not the current table (go test -update rewrites it):\n--- now\n%s\n--- saved\n%s", traceTestdata, got, want)
	}
}

// canonical is an `nft list table` text in an order that does not depend on the order a sync
// happened to add things in: its sets, maps and chains sorted, and each element list sorted,
// one element a line.
func canonical(text string) string {
	var blocks, block, elements []string
	inElements := false
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if after, ok := strings.CutPrefix(trimmed, "elements = {"); ok {
			inElements, trimmed = true, after
		}
		switch {
		case inElements:
			list, end := strings.CutSuffix(trimmed, "}")
			for _, e := range strings.Split(list, ",") {
				if e = strings.TrimSpace(e); e != "" {
					elements = append(elements, "\t\telement "+e)
				}
			}
			if end {
				slices.Sort(elements)
				block = append(block, elements...)
				inElements, elements = false, nil
			}
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

// TestCanonical: the comparison sees elements, whatever their order and line breaks.
func TestCanonical(t *testing.T) {
	table := func(elements string) string {
		return "table inet weft-proxy {\n\tset cluster-ips-v4 {\n\t\ttype ipv4_addr\n\t\telements = { " + elements + " }\n\t}\n}\n"
	}
	same := canonical(table("10.43.0.10, 10.43.0.11"))
	if got := canonical(table("10.43.0.11,\n\t\t\t     10.43.0.10")); got != same {
		t.Errorf("order and line breaks changed the text:\n%s\n---\n%s", got, same)
	}
	if got := canonical(table("10.43.0.10, 10.43.0.12")); got == same {
		t.Errorf("an element changed and the text did not:\n%s", got)
	}
	if !strings.Contains(same, "element 10.43.0.11") {
		t.Errorf("elements missing:\n%s", same)
	}
}
