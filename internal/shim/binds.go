package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// podFiles are the files the kubelet manages for a pod and binds into every container's /etc.
var podFiles = []string{"hosts", "hostname", "resolv.conf"}

// openSources opens, as O_PATH descriptors, the pod's files (-1 where one does not exist) and
// then every bind's source, in the spec's order.
func openSources(spec RootSpec) ([]int, error) {
	var fds []int
	fail := func(err error) ([]int, error) {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		return nil, err
	}
	for _, f := range podFiles {
		fd, err := unix.Open(filepath.Join(spec.PodFiles, f), unix.O_PATH|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			fd = -1
		} else if err != nil {
			return fail(fmt.Errorf("open the pod's %s: %w", f, err))
		}
		fds = append(fds, fd)
	}
	for _, b := range spec.Binds {
		fd, err := unix.Open(b.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("open %s for %s: %w", b.Source, b.Target, err))
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// bindAll runs after the pivot: the container's paths resolve in its own root now, so a
// symbolic link in the image or the node's view cannot point a bind at the node's files.
func bindAll(spec RootSpec, fds []int) error {
	for i, f := range podFiles {
		if fds[i] < 0 {
			continue
		}
		if err := bindFD(fds[i], filepath.Join("/etc", f), false); err != nil {
			return err
		}
	}
	for i, b := range spec.Binds {
		if err := bindFD(fds[len(podFiles)+i], b.Target, b.ReadOnly); err != nil {
			return err
		}
	}
	return nil
}

// bindFD binds what fd names onto target, creating the target as a directory or an empty file.
func bindFD(fd int, target string, readOnly bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat the source of %s: %w", target, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", target, err)
		}
	} else {
		// A file bind replaces a symbolic link (resolv.conf often is one) instead of following it.
		if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := os.Remove(target); err != nil {
				return fmt.Errorf("replace link %s: %w", target, err)
			}
		}
		if err := touch(target); err != nil {
			return err
		}
	}
	src := "/proc/thread-self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind onto %s: %w", target, err)
	}
	if readOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", target, err)
		}
	}
	return nil
}
