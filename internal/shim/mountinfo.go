package shim

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mountPoint is one line of /proc/self/mountinfo, the fields the root builder needs.
type mountPoint struct {
	Path   string // where it is mounted, unescaped
	FSType string
}

// parseMountInfo reads the mount table in the kernel's mountinfo format (proc(5)), parents
// before children as the kernel lists them.
func parseMountInfo(r io.Reader) ([]mountPoint, error) {
	var out []mountPoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 5 || sep+1 >= len(fields) {
			return nil, fmt.Errorf("mountinfo line %q: want \"ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE ...\"", sc.Text())
		}
		out = append(out, mountPoint{Path: unescapeMountPath(fields[4]), FSType: fields[sep+1]})
	}
	return out, sc.Err()
}

// unescapeMountPath undoes the kernel's octal escapes (\040 for a space, \011, \012, \134).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
