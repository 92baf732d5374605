package hoststate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// netnsDir is where `ip netns` keeps its named namespace handles.
const netnsDir = "/run/netns"

// readNetns lists the named network namespaces in dir. Whether dir exists at
// all is part of the state, since `ip netns add` creates it on first use.
func readNetns(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return dir + ": absent\n", nil
	}
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dir, err)
	}
	var b strings.Builder
	b.WriteString(dir + ": present\n")
	for _, e := range entries { // ReadDir returns entries sorted by name
		b.WriteString(filepath.Join(dir, e.Name()) + "\n")
	}
	return b.String(), nil
}
