package nft

import (
	"slices"
	"strings"
)

// SortedDump is Dump with the element lines sorted and put last, for golden files: the fake
// keeps elements in the order they came, which map order and partial syncs change and the
// kernel does not care about.
func (f *Fake) SortedDump() string {
	dump := f.Dump()
	if dump == "" {
		return ""
	}
	var rest, elements []string
	for _, line := range strings.Split(strings.TrimSuffix(dump, "\n"), "\n") {
		if strings.HasPrefix(line, "add element ") {
			elements = append(elements, line)
		} else {
			rest = append(rest, line)
		}
	}
	slices.Sort(elements)
	return strings.Join(append(rest, elements...), "\n") + "\n"
}
