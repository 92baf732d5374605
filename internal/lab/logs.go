package lab

import (
	"os"
	"path/filepath"
	"strings"
)

// logTail returns the last n non-empty lines of a component's log, for error messages: a
// failed start removes the state directory, so the reason must travel in the error itself.
func logTail(stateDir, component string, n int) string {
	b, err := os.ReadFile(filepath.Join(stateDir, logsDir, component+".log"))
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "=== weft:") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n  " + component + ".log: " + strings.Join(lines, "\n  "+component+".log: ")
}
