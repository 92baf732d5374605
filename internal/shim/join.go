package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// JoinOptions say which running container a program joins (kubectl exec, exec probes).
type JoinOptions struct {
	PID     int    // the container's process
	WorkDir string // the container's working directory
	// BusyboxFallback runs a command missing from the container as a busybox applet, as a
	// shell and coreutils would be in an image.
	BusyboxFallback bool
}

// Join replaces the current process with argv inside the same network, UTS and mount
// namespaces as the container's process, so it sees exactly the container's root and volumes.
// It returns only on failure.
func Join(o JoinOptions, argv []string) error {
	if err := waitContainerRoot(o.PID, 5*time.Second); err != nil {
		return err
	}
	runtime.LockOSThread()
	var fds []int
	for _, ns := range []string{"net", "uts", "mnt"} {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", o.PID, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the container's %s namespace (pid %d): %w", ns, o.PID, err)
		}
		fds = append(fds, fd)
	}
	// A thread sharing its file system context with others may not change mount namespace.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare the file system context: %w", err)
	}
	for i, kind := range []int{unix.CLONE_NEWNET, unix.CLONE_NEWUTS, unix.CLONE_NEWNS} {
		if err := unix.Setns(fds[i], kind); err != nil {
			return fmt.Errorf("enter the container's namespaces (pid %d): %w", o.PID, err)
		}
		unix.Close(fds[i])
	}
	workDir := o.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if err := os.Chdir(workDir); err != nil {
		return fmt.Errorf("workingDir %s: %w", workDir, err)
	}
	path, err := lookPath(argv[0])
	if err != nil && o.BusyboxFallback {
		if bb, bbErr := lookPath("busybox"); bbErr == nil {
			path, err, argv = bb, nil, append([]string{"busybox"}, argv...)
		}
	}
	if err != nil {
		return err
	}
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	return nil
}

// waitContainerRoot waits until the container's process has pivoted into its own root: before
// that it is still a shim building the root, and joining it would land in a half-made world.
func waitContainerRoot(pid int, timeout time.Duration) error {
	node, err := os.Stat("/proc/self/root")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		root, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/root")
		if err != nil {
			return fmt.Errorf("container process %d: %w", pid, err)
		}
		if !os.SameFile(root, node) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container process %d is still starting after %s", pid, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ErrNotFound means a program is not in the container's PATH.
var ErrNotFound = errors.New("executable file not found in $PATH")

// lookPath finds a program in the container's PATH, in the root the calling thread sees.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: %w", name, ErrNotFound)
}
