// Package nlretry repeats netlink dumps the kernel interrupted. A dump (links, addresses,
// routes, rules, neighbours) that runs while the table changes ends with NLM_F_DUMP_INTR, which
// vishvananda/netlink reports as ErrDumpInterrupted next to a listing that may miss entries or
// hold stale ones. Acting on such a listing would delete what is there or add what is gone, so
// every dump weft makes goes through Dump: one rule for the whole agent and the CNI plugin.
package nlretry

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Tries is how many times Dump runs a dump before it gives up: an interrupted dump means the
// table changed in the few microseconds it took, so a few tries suffice unless something
// churns without pause, and then the caller's own retry (a later sync) is the better place.
const Tries = 5

// Dump runs dump until it is not interrupted, at most Tries times. Any other error is returned
// at once, as it came. When every try was interrupted it returns no listing (a partial one
// must not be acted on) and an error that wraps netlink.ErrDumpInterrupted.
func Dump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range Tries {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, fmt.Errorf("netlink dump interrupted %d times in a row: %w", Tries, err)
}
