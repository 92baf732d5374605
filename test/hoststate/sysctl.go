package hoststate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sysctlRoot is the network sysctl tree of the calling process's namespace.
const sysctlRoot = "/proc/sys/net"

// volatileSysctls are entries whose value changes without anyone writing to
// them, keyed by path relative to /proc/sys, with the reason. Keep this list
// short: every entry is a blind spot.
var volatileSysctls = map[string]string{
	// A gauge of live conntrack entries: it rises with any traffic and falls
	// when entries time out (observed 0 -> 1 -> 0 within 35 s).
	"net/netfilter/nf_conntrack_count": "number of live connection-tracking entries",
}

// isVolatileSysctl reports whether rel (relative to /proc/sys) is skipped.
func isVolatileSysctl(rel string) bool {
	_, ok := volatileSysctls[rel]
	return ok
}

// readSysctl returns "path = value" for every readable file under root,
// with paths relative to root's parent (so /proc/sys/net/x reads net/x).
// Unreadable files are skipped: some are write-only (route/flush) and some
// fail until set (ipv6 conf stable_secret returns EIO); if one becomes
// readable, the new line shows up as a difference.
func readSysctl(root string) (string, error) {
	base := filepath.Dir(root)
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			// Directories vanish when interfaces go away mid-walk, and a
			// directory we may not list is as unreadable as a file.
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", path, err)
		}
		rel = filepath.ToSlash(rel)
		if isVolatileSysctl(rel) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // unreadable entries are skipped, see above
		}
		lines = append(lines, rel+" = "+strings.Join(strings.Fields(string(data)), " "))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("walk %s: %w", root, err)
	}
	sort.Strings(lines)
	return joinLines(lines), nil
}
