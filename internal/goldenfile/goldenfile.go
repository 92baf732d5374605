// Package goldenfile compares a test's output with a file kept under testdata, and rewrites the
// file when the tests run with -update (after the change has been reviewed). Only tests import
// it, so the flag exists only in test binaries.
package goldenfile

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with the file at path (relative to the package's directory), or writes
// got there under -update.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it once the change is reviewed):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Updating tells whether the tests run with -update, for tests that keep files of their own
// shape (sorted, or several in one).
func Updating() bool { return *update }
