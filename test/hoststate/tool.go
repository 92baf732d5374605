package hoststate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolTimeout bounds a single tool run so a wedged netlink dump fails the
// test instead of hanging it.
const toolTimeout = 30 * time.Second

// sbinDirs are searched when a tool is not on PATH: non-root PATHs often omit
// the sbin directories, and a tool wrongly reported "not installed" in both
// snapshots would make a section compare equal without checking anything.
var sbinDirs = [...]string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// notInstalled is the section content recorded for a missing tool, so that a
// tool appearing or disappearing between snapshots is itself a difference.
func notInstalled(tool string) string {
	return tool + ": not installed\n"
}

// findTool resolves a tool name to an executable path, or "" if absent.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// runTool runs a tool and returns its stdout. found is false when the tool is
// not installed; that is not an error.
func runTool(name string, args ...string) (out string, found bool, err error) {
	path := findTool(name)
	if path == "" {
		return "", false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// A fixed locale keeps the output format independent of the caller's.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", false, nil
		}
		return "", true, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), true, nil
}
