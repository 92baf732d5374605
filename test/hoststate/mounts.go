package hoststate

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// mountinfoPath is read rather than /proc/mounts because only mountinfo shows
// propagation (shared/master) and bind-mount roots, both of which
// `ip netns add` changes.
const mountinfoPath = "/proc/self/mountinfo"

func collectMounts() (string, error) {
	data, err := os.ReadFile(mountinfoPath)
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	return normalizeMountinfo(string(data)), nil
}

// mountEntry is one parsed mountinfo line. The mount ID is kept for lookups
// but is not part of String: the kernel allocates IDs afresh and reuses them.
type mountEntry struct {
	id          string
	devID       string // major:minor
	root        string
	mountPoint  string
	options     string
	propagation []string // optional fields, e.g. "shared:1", "master:3"
	fsType      string
	source      string
	superOpts   string
}

// parseMountinfoLine parses one line of /proc/PID/mountinfo (see proc(5)).
func parseMountinfoLine(line string) (mountEntry, bool) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 6 || sep < 0 || sep+2 >= len(f) {
		return mountEntry{}, false
	}
	e := mountEntry{
		id:          f[0],
		devID:       f[2],
		root:        f[3],
		mountPoint:  f[4],
		options:     f[5],
		propagation: f[6:sep],
		fsType:      f[sep+1],
		source:      f[sep+2],
	}
	if sep+3 < len(f) {
		e.superOpts = f[sep+3]
	}
	return e, true
}

// String renders the entry mount point first so that sorted output groups
// mounts by location.
func (e mountEntry) String() string {
	prop := "private"
	if len(e.propagation) > 0 {
		prop = strings.Join(e.propagation, ",")
	}
	return fmt.Sprintf("%s %s %s root=%s dev=%s opts=%s super=%s propagation=%s",
		e.mountPoint, e.fsType, e.source, e.root, e.devID, e.options, e.superOpts, prop)
}

// normalizeMountinfo drops the mount and parent IDs and sorts the result, so
// renumbering and list order do not matter; every other field is kept.
// Lines that do not parse are kept verbatim rather than silently ignored.
func normalizeMountinfo(text string) string {
	var lines []string
	for _, l := range splitLines(text) {
		if e, ok := parseMountinfoLine(l); ok {
			lines = append(lines, e.String())
		} else {
			lines = append(lines, "unparsed: "+strings.TrimSpace(l))
		}
	}
	sort.Strings(lines)
	return joinLines(lines)
}
