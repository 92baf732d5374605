// Package netnstest gives tests network namespaces of their own. Only tests import it.
package netnstest

import (
	"fmt"
	"os"
	"testing"

	"github.com/weftnet/weft/internal/netns"
)

// Scratch makes a network namespace named after what and the test process, removed when the
// test ends, and returns its name; without root, the test is skipped.
func Scratch(t testing.TB, what string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: works in a network namespace of its own")
	}
	name := fmt.Sprintf("weft-%s-%d", what, os.Getpid()%100000)
	if err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(name) })
	return name
}
