package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devices are the device nodes a container runtime puts in a container's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks are /dev's usual symbolic links.
var devLinks = map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}

// freshFS mounts the container's own /proc, a read-only /sys that shows the pod's network
// devices, and a /dev with the usual devices, its own pseudo-terminals and shared memory.
func (b *rootBuilder) freshFS() error {
	mounts := []struct {
		fstype, dir, data string
		flags             uintptr
	}{
		{"proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"sysfs", "sys", "", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"tmpfs", "dev", "mode=0755,size=65536k", unix.MS_NOSUID | unix.MS_STRICTATIME},
	}
	for _, m := range mounts {
		dir := filepath.Join(b.root, m.dir)
		if err := unix.Mount(m.fstype, dir, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on the container's /%s: %w", m.fstype, m.dir, err)
		}
	}
	if err := protectProc(filepath.Join(b.root, "proc")); err != nil {
		return err
	}
	dev := filepath.Join(b.root, "dev")
	for _, d := range devices {
		dst := filepath.Join(dev, d)
		if err := touch(dst); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s into the container: %w", d, err)
		}
	}
	for name, target := range devLinks {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link /dev/%s: %w", name, err)
		}
	}
	for _, d := range []struct {
		dir, fstype, data string
		flags             uintptr
	}{
		{"pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", unix.MS_NOSUID | unix.MS_NOEXEC},
		{"shm", "tmpfs", "mode=1777,size=65536k", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
	} {
		dir := filepath.Join(dev, d.dir)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create /dev/%s: %w", d.dir, err)
		}
		if err := unix.Mount(d.fstype, dir, d.fstype, d.flags, d.data); err != nil {
			return fmt.Errorf("mount %s on the container's /dev/%s: %w", d.fstype, d.dir, err)
		}
	}
	return nil
}

// protectProc makes the kernel's global knobs read-only, as container runtimes do: a container
// must not change the host through /proc/sys or /proc/sysrq-trigger. /proc/sys/net stays
// writable: its settings belong to the pod's own network namespace.
func protectProc(proc string) error {
	for _, p := range []string{"sys", "sysrq-trigger"} {
		path := filepath.Join(proc, p)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue // a kernel without magic SysRq has no trigger
		}
		if err := bindReadOnly(path, path); err != nil {
			return fmt.Errorf("protect /proc/%s: %w", p, err)
		}
	}
	net := filepath.Join(proc, "sys", "net")
	// A bind copies the read-only flag of /proc/sys; the remount clears it.
	if err := unix.Mount(net, net, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("keep /proc/sys/net writable: %w", err)
	}
	if err := unix.Mount("", net, "", unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
		return fmt.Errorf("keep /proc/sys/net writable: %w", err)
	}
	return nil
}
