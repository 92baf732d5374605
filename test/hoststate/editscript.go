package hoststate

import (
	"fmt"
	"strings"
)

// maxLCSCells bounds the quadratic LCS table (int32 cells, so 64 MiB). Larger
// changed regions fall back to "all removed, all added", which is still a
// correct diff, just not a minimal one.
const maxLCSCells = 16 << 20

// edit is one step of an edit script turning a into b. aPos and bPos count
// the lines of a and b consumed before this step, for hunk headers.
type edit struct {
	op         byte // ' ' keep, '-' delete from a, '+' insert from b
	line       string
	aPos, bPos int
}

// editScript computes a line edit script from a to b: common prefix and
// suffix first (the usual case is a few changed lines in a long section),
// then a longest-common-subsequence alignment of the middle.
func editScript(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []byte
	for range pre {
		ops = append(ops, ' ')
	}
	ops = append(ops, middleOps(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for range suf {
		ops = append(ops, ' ')
	}

	script := make([]edit, 0, len(ops))
	i, j := 0, 0
	for _, op := range ops {
		e := edit{op: op, aPos: i, bPos: j}
		switch op {
		case ' ':
			e.line = a[i]
			i++
			j++
		case '-':
			e.line = a[i]
			i++
		case '+':
			e.line = b[j]
			j++
		}
		script = append(script, e)
	}
	return script
}

// middleOps aligns a and b by longest common subsequence.
func middleOps(a, b []string) []byte {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || (n+1)*(m+1) > maxLCSCells {
		ops := make([]byte, 0, n+m)
		for range n {
			ops = append(ops, '-')
		}
		for range m {
			ops = append(ops, '+')
		}
		return ops
	}
	// lcs[i*(m+1)+j] is the LCS length of a[i:] and b[j:].
	w := m + 1
	lcs := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				lcs[i*w+j] = lcs[(i+1)*w+j]
			default:
				lcs[i*w+j] = lcs[i*w+j+1]
			}
		}
	}
	ops := make([]byte, 0, n+m)
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, ' ')
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			ops = append(ops, '-')
			i++
		default:
			ops = append(ops, '+')
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, '-')
	}
	for ; j < m; j++ {
		ops = append(ops, '+')
	}
	return ops
}

// unifiedDiff renders the changes from a to b as unified-diff hunks with
// diffContext lines of context; it returns "" when a and b are equal.
func unifiedDiff(a, b []string) string {
	script := editScript(a, b)
	var out strings.Builder
	for start := 0; start < len(script); {
		first := nextChange(script, start)
		if first < 0 {
			break
		}
		// Extend the hunk while the next change is close enough that the
		// contexts would touch.
		last := first
		for {
			next := nextChange(script, last+1)
			if next < 0 || next-last-1 > 2*diffContext {
				break
			}
			last = next
		}
		lo := max(first-diffContext, start)
		hi := min(last+diffContext+1, len(script))
		writeHunk(&out, script[lo:hi])
		start = hi
	}
	return out.String()
}

// nextChange returns the index of the first non-keep edit at or after from,
// or -1.
func nextChange(script []edit, from int) int {
	for i := from; i < len(script); i++ {
		if script[i].op != ' ' {
			return i
		}
	}
	return -1
}

// writeHunk writes one hunk: an "@@ -l,s +l,s @@" header and its lines.
func writeHunk(out *strings.Builder, hunk []edit) {
	aCount, bCount := 0, 0
	for _, e := range hunk {
		if e.op != '+' {
			aCount++
		}
		if e.op != '-' {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(hunk[0].aPos, aCount), hunkRange(hunk[0].bPos, bCount))
	for _, e := range hunk {
		out.WriteByte(e.op)
		if line, ok := strings.CutSuffix(e.line, "\n"); ok {
			out.WriteString(line + "\n")
		} else {
			out.WriteString(e.line + "\n\\ no newline at end of section\n")
		}
	}
}

// hunkRange formats a unified-diff range; an empty range names the line
// before it, as diff(1) does.
func hunkRange(before, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", before)
	}
	return fmt.Sprintf("%d,%d", before+1, count)
}
