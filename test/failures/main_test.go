package main

import (
	"strings"
	"testing"
)

// A run where a subtest fails early and the package fails: the digest repeats the subtest's
// message after everything else, and the exit status says failed.
func TestDigestRepeatsTheCauseAtTheEnd(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA/x","Output":"=== RUN   TestA/x\n"}`,
		`{"Action":"output","Package":"p","Test":"TestA/x","Output":"    lab_test.go:81: port 16443 is in use\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestA/x"}`,
		`{"Action":"output","Package":"p","Test":"TestA/y","Output":"    many lines of a passing test\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA/y"}`,
		`{"Action":"fail","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	failed, err := follow(strings.NewReader(in), &out)
	if err != nil || !failed {
		t.Fatalf("failed=%v err=%v, want a failure", failed, err)
	}
	digest := out.String()[strings.Index(out.String(), "=== failure digest"):]
	if !strings.Contains(digest, "--- p TestA/x\n    lab_test.go:81: port 16443 is in use\n") {
		t.Errorf("the digest lacks the subtest's message:\n%s", digest)
	}
	if strings.Contains(digest, "passing test") || strings.Contains(digest, "=== RUN") {
		t.Errorf("the digest repeats what did not fail:\n%s", digest)
	}
}

func TestPassingRunAndTruncatedRun(t *testing.T) {
	pass := `{"Action":"output","Package":"p","Test":"TestA","Output":"ok\n"}` + "\n" + `{"Action":"pass","Package":"p"}`
	if failed, err := follow(strings.NewReader(pass), &strings.Builder{}); failed || err != nil {
		t.Errorf("a passing run: failed=%v err=%v", failed, err)
	}
	// The test binary was killed before the package's result: that is a failure too.
	cut := `{"Action":"run","Package":"p","Test":"TestA"}`
	if failed, _ := follow(strings.NewReader(cut), &strings.Builder{}); !failed {
		t.Error("a run without a package result counted as passed")
	}
}
