// Package netnstest gives kernel tests a network namespace of their own. Only tests import it.
package netnstest

import (
	"fmt"
	"os"
	"testing"

	"github.com/weftnet/weft/internal/netns"
)

// Scratch makes a network namespace named after prefix and the test process, removed when the
// test ends, and returns its name. Not root: the test is skipped, saying why (what it needs
// root for).
func Scratch(t testing.TB, prefix, why string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	name := fmt.Sprintf("%s-%d", prefix, os.Getpid()%100000)
	if err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(name) })
	return name
}
