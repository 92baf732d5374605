package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadKnownFailures: any file either parses into entries that each carry a reason and a
// compiled expression, or is refused with an error naming the line; it never panics.
func FuzzReadKnownFailures(f *testing.F) {
	for _, seed := range []string{
		"",
		"# only a comment\n",
		`\[sig-network\] DNS # cluster DNS is not served yet` + "\n",
		"[unclosed # reason\n",
		"no reason here\n",
		"a # \n",
		"  spaced   #   reason with # inside\n\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(t.TempDir(), "known")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		known, err := readKnownFailures(path)
		if err != nil {
			if !strings.Contains(err.Error(), path+":") {
				t.Errorf("error does not name the line: %v", err)
			}
			return
		}
		for _, k := range known {
			if k.re == nil || k.reason == "" {
				t.Errorf("entry without expression or reason: %+v", k)
			}
		}
	})
}
