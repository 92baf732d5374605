package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// overlaidDirs are the host directories a node sees through an overlay of its own: it reads the
// host's files and writes its own (/etc/cni, /var/lib/cni, /var/log/pods ...) without touching the host.
// /var/lib comes last: the upper layers live under it, and an overlay cannot take its upper
// layer from another overlay.
var overlaidDirs = []string{"/etc", "/opt", "/var/log", "/var/lib"}

// PrepareNode turns the calling thread into a lab node's world: its own mount and UTS namespaces,
// host name, /sys for its network namespace, overlays for the directories in overlaidDirs with
// their upper layers under root, and an empty /run/netns for its pods. The host directories in
// binds stay visible as they are, read-only: an overlay may miss files added to its lower layer
// after it looked, and the images directory gets its agnhost whenever the user builds it. It
// must run on a locked thread right before exec: the new program inherits all of it.
func PrepareNode(root, hostname string, binds []string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("unshare mount and UTS namespaces: %w", err)
	}
	// Mounts made from here on stay in this node; the host's later mounts still show up in it.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	// Opened before the overlays cover them.
	bindFDs := make([]int, len(binds))
	for i, dir := range binds {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s for the node: %w", dir, err)
		}
		defer unix.Close(fd)
		bindFDs[i] = fd
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("set host name %s: %w", hostname, err)
	}
	// A fresh sysfs shows this node's network devices, not the host's.
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount /sys: %w", err)
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mount sysfs: %w", err)
	}
	for _, dir := range overlaidDirs {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := overlayMount(root, dir); err != nil {
			return err
		}
	}
	for i, dir := range binds {
		src := fmt.Sprintf("/proc/thread-self/fd/%d", bindFDs[i])
		if err := unix.Mount(src, dir, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s into the node: %w", dir, err)
		}
		if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make the node's %s read-only: %w", dir, err)
		}
	}
	if err := os.WriteFile("/etc/hostname", []byte(hostname+"\n"), 0o644); err != nil {
		return fmt.Errorf("write the node's /etc/hostname: %w", err)
	}
	if err := os.MkdirAll("/run/netns", 0o755); err != nil {
		return fmt.Errorf("create /run/netns: %w", err)
	}
	if err := unix.Mount("tmpfs", "/run/netns", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount the node's /run/netns: %w", err)
	}
	// A userspace WireGuard's control socket lives here, by the name of its device: each node
	// needs its own, or the nodes' weft-wg sockets would replace each other.
	if err := os.MkdirAll("/run/wireguard", 0o700); err != nil {
		return fmt.Errorf("create /run/wireguard: %w", err)
	}
	if err := unix.Mount("tmpfs", "/run/wireguard", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700"); err != nil {
		return fmt.Errorf("mount the node's /run/wireguard: %w", err)
	}
	return nil
}

// JoinNode enters the mount and UTS namespaces of a node that already runs, passed as fds 3 and 4.
func JoinNode() error { return joinNode(3, 4) }

// joinNode moves the calling (locked) thread into a node's mount and UTS namespaces, given as
// open namespace files, and closes them.
func joinNode(mnt, uts int) error {
	defer unix.Close(mnt)
	defer unix.Close(uts)
	// A thread sharing its filesystem context with others may not change mount namespace.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare filesystem context: %w", err)
	}
	if err := unix.Setns(mnt, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("enter the node's mount namespace: %w", err)
	}
	if err := unix.Setns(uts, unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("enter the node's UTS namespace: %w", err)
	}
	return os.Chdir("/")
}

func overlayMount(root, dir string) error {
	base := filepath.Join(root, "rootfs", strings.ReplaceAll(strings.TrimPrefix(dir, "/"), "/", "-"))
	upper, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dir, upper, work)
	if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay %s: %w (the kernel needs the overlay file system)", dir, err)
	}
	return nil
}
