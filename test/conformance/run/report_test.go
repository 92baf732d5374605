package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func specReport(container, leaf string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{
		ContainerHierarchyTexts: []string{container},
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            leaf,
		State:                   state,
		Failure:                 types.Failure{Message: msg},
	}
}

func TestSummarizeTellsWhyEachSpecDidNotPass(t *testing.T) {
	reports := []types.Report{{SpecReports: types.SpecReports{
		specReport("[sig-network] Services", "should serve a basic endpoint from pods [Conformance]", types.SpecStatePassed, ""),
		specReport("[sig-network] DNS", "should provide DNS for the cluster [Conformance]", types.SpecStateFailed, "timed out\nmore"),
		specReport("[sig-network] Services", "should work with the LoadBalancer [Slow]", types.SpecStateSkipped, "Only supported for providers [gce]"),
		specReport("[sig-network] Services", "should be slow [Serial] [Conformance]", types.SpecStateSkipped, ""),
		specReport("[sig-storage] Volumes", "should not be listed [Conformance]", types.SpecStateSkipped, ""),
		{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStatePassed},
	}}}
	s := summarize(reports, `\[sig-network\]`, `\[Serial\]`)
	got := map[string]spec{}
	for _, sp := range s.specs {
		got[sp.name] = sp
	}
	if len(got) != 4 {
		t.Fatalf("want the 4 [sig-network] specs, got %d: %+v", len(got), s.specs)
	}
	cases := []struct{ name, state, reason string }{
		{"[sig-network] Services should serve a basic endpoint from pods [Conformance]", "passed", ""},
		{"[sig-network] DNS should provide DNS for the cluster [Conformance]", "failed", "failed: timed out"},
		{"[sig-network] Services should work with the LoadBalancer [Slow]", "skipped", "Only supported for providers [gce]"},
		{"[sig-network] Services should be slow [Serial] [Conformance]", "skipped", `excluded by -skip \[Serial\]`},
	}
	for _, c := range cases {
		sp, ok := got[c.name]
		if !ok {
			t.Errorf("%s: missing", c.name)
			continue
		}
		if sp.state != c.state || sp.reason != c.reason {
			t.Errorf("%s: got %s %q, want %s %q", c.name, sp.state, sp.reason, c.state, c.reason)
		}
	}
	if s.failed() != 1 {
		t.Errorf("failed() = %d, want 1", s.failed())
	}
	path := filepath.Join(t.TempDir(), "summary.txt")
	var out strings.Builder
	if err := s.write(&out, path); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 passed, 1 failed, 2 skipped") {
		t.Errorf("summary lacks the counts line:\n%s", out.String())
	}
	saved, _ := os.ReadFile(path)
	if string(saved) != out.String() {
		t.Errorf("saved summary differs from the printed one")
	}
}

func TestLabDataDirFollowsTheLabFlags(t *testing.T) {
	for flags, want := range map[string]string{
		"":                                 "/var/lib/weft",
		"--nodes 2 --data-dir /tmp/x":      "/tmp/x",
		"--data-dir=/srv/weft --nodes 2":   "/srv/weft",
		"--cluster-cidr 2001:cafe:42::/56": "/var/lib/weft",
	} {
		if got := (&lab{flags: flags}).dataDir(); got != want {
			t.Errorf("dataDir(%q) = %s, want %s", flags, got, want)
		}
	}
}

func TestLabSpreadsItsNodesOverZones(t *testing.T) {
	for flags, want := range map[string]int{"": 3, "--nodes 3": 3, "--nodes=2": 2, "--nodes 1 --cluster-cidr 10.42.0.0/16": 1} {
		if got := (&lab{flags: flags}).zones(); got != want {
			t.Errorf("zones(%q) = %d, want %d", flags, got, want)
		}
	}
	if _, given := (&lab{flags: "--zones 0"}).flag("zones"); !given {
		t.Error("--zones 0 in the lab flags is not seen: the run would add its own")
	}
}

func TestKnownFailuresAreReportedNotHidden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known")
	body := "# comment\n\n\\[sig-network\\] DNS # cluster DNS is not served yet\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	known, err := readKnownFailures(path)
	if err != nil {
		t.Fatal(err)
	}
	s := summary{specs: []spec{
		{name: "[sig-network] DNS should provide DNS for the cluster", state: "failed", reason: "failed: timed out"},
		{name: "[sig-network] DNS should provide /etc/hosts entries", state: "passed"},
		{name: "[sig-network] Services should serve", state: "failed", reason: "failed: refused"},
	}}
	s.applyKnown(known)
	if s.specs[0].state != "known" || !strings.Contains(s.specs[0].reason, "cluster DNS is not served yet") {
		t.Errorf("known failure: %+v", s.specs[0])
	}
	if !strings.Contains(s.specs[1].reason, "remove it from the list") {
		t.Errorf("a listed spec that passed must say so: %+v", s.specs[1])
	}
	if s.failed() != 1 {
		t.Errorf("failed() = %d, want 1 (the unlisted failure)", s.failed())
	}
	var out strings.Builder
	if err := s.write(&out, filepath.Join(t.TempDir(), "s")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 passed, 2 failed, 0 skipped") {
		t.Errorf("known failures still count as failed in the totals:\n%s", out.String())
	}
}

func TestKnownFailuresNeedAReason(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known")
	if err := os.WriteFile(path, []byte("\\[sig-network\\] DNS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readKnownFailures(path); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Errorf("a line without a reason must be refused, got %v", err)
	}
}

func TestTrimModPath(t *testing.T) {
	got := trimModPath("/root/go/pkg/mod/k8s.io/kubernetes@v1.37.2/test/e2e/network/service.go")
	if want := "k8s.io/kubernetes/test/e2e/network/service.go"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := trimModPath("/src/other.go"); got != "/src/other.go" {
		t.Errorf("a path outside the module cache changed: %s", got)
	}
}
