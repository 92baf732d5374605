package nft

import (
	"slices"
	"strings"
)

// DumpSorted is Dump with the elements in order, for golden tests of a table written from
// maps (a full sync sends elements in map order, and the fake keeps the order they came in);
// the kernel does not care. Declarations and rules keep their order.
func (f *Fake) DumpSorted() string {
	var rest, elements []string
	for _, line := range strings.SplitAfter(f.Dump(), "\n") {
		if strings.HasPrefix(line, "add element ") {
			elements = append(elements, line)
		} else {
			rest = append(rest, line)
		}
	}
	slices.Sort(elements)
	return strings.Join(append(rest, elements...), "")
}
