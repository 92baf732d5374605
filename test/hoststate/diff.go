package hoststate

import (
	"fmt"
	"sort"
	"strings"
)

// diffContext is the number of unchanged lines shown around each change; a
// little context locates a changed firewall rule or sysctl among its peers.
const diffContext = 2

// Diff returns a human-readable description of every section that differs
// (unified-style +/- lines for the differing lines), or "" when equal.
func Diff(before, after Snapshot) string {
	var b strings.Builder
	for _, name := range differingSections(before, after) {
		bt, inBefore := before.Sections[name]
		at, inAfter := after.Sections[name]
		fmt.Fprintf(&b, "section %q differs:\n", name)
		switch {
		case !inBefore:
			b.WriteString("(section missing before)\n")
		case !inAfter:
			b.WriteString("(section missing after)\n")
		}
		b.WriteString(unifiedDiff(diffLines(bt), diffLines(at)))
	}
	return b.String()
}

// differingSections returns, sorted, the names of sections whose text differs
// or that exist in only one snapshot.
func differingSections(before, after Snapshot) []string {
	var names []string
	for name, bt := range before.Sections {
		if at, ok := after.Sections[name]; !ok || at != bt {
			names = append(names, name)
		}
	}
	for name := range after.Sections {
		if _, ok := before.Sections[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// diffLines splits text into lines that keep their newline, so that texts
// differing only in a final newline still produce a visible +/- line.
func diffLines(text string) []string {
	var lines []string
	for text != "" {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i+1])
		text = text[i+1:]
	}
	return lines
}
