package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// freshDirs are the top-level directories a container gets new, as a container runtime gives
// them: its own /proc, /sys and /dev, and an empty /tmp and /run.
var freshDirs = map[string]os.FileMode{"proc": 0o555, "sys": 0o555, "dev": 0o755, "tmp": 0o1777 | os.ModeSticky, "run": 0o755}

// virtualFS are file systems of the kernel's own that a container never gets from the node.
var virtualFS = []string{"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "nsfs", "binfmt_misc",
	"autofs", "bpf", "tracefs", "debugfs", "securityfs", "fusectl", "configfs", "pstore", "hugetlbfs", "efivarfs"}

// oldRootName is where the node's root stays, briefly, after the pivot: the binds come from it.
const oldRootName = ".weft-oldroot"

// rootBuilder assembles one container's root.
type rootBuilder struct {
	spec   RootSpec
	root   string // spec.Dir/root: becomes /
	layers string // spec.Dir/layers: the overlays' upper and work directories, outside the new root
	n      int    // layers made so far
}

// buildRoot runs in the container's fresh mount namespace, on the thread that execs the
// container: it makes the root, pivots into it, binds the pod's files, image files and volumes,
// and changes to the working directory.
func buildRoot(spec RootSpec) error {
	mounts, err := readMountInfo()
	if err != nil {
		return err
	}
	// Opened before the pivot, while the node's paths still mean what the node runtime meant;
	// binds from these descriptors after the pivot cannot be misled by the container's symlinks.
	sources, err := openSources(spec)
	if err != nil {
		return err
	}
	defer func() {
		for _, fd := range sources {
			unix.Close(fd)
		}
	}()
	b := &rootBuilder{spec: spec, root: filepath.Join(spec.Dir, "root"), layers: filepath.Join(spec.Dir, "layers")}
	if err := b.scratch(); err != nil {
		return err
	}
	if err := b.nodeView(mounts); err != nil {
		return err
	}
	if err := b.freshFS(); err != nil {
		return err
	}
	if err := pivot(b.root); err != nil {
		return err
	}
	if err := bindAll(spec, sources); err != nil {
		return err
	}
	if err := unix.Unmount("/"+oldRootName, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the node's root: %w", err)
	}
	if err := os.Remove("/" + oldRootName); err != nil {
		return fmt.Errorf("remove /%s: %w", oldRootName, err)
	}
	workDir := spec.WorkDir
	if workDir == "" {
		workDir = "/"
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return fmt.Errorf("workingDir %s: %w", workDir, err)
	}
	if err := os.Chdir(workDir); err != nil {
		return fmt.Errorf("workingDir %s: %w", workDir, err)
	}
	return nil
}

func readMountInfo() ([]mountPoint, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	defer f.Close()
	return parseMountInfo(f)
}

// scratch mounts the tmpfs that holds the root and the layers.
func (b *rootBuilder) scratch() error {
	if err := os.MkdirAll(b.spec.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", b.spec.Dir, err)
	}
	if err := unix.Mount("tmpfs", b.spec.Dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount the container's scratch tmpfs on %s: %w", b.spec.Dir, err)
	}
	for _, d := range []string{b.root, b.layers} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// pivot_root wants the new root to be a mount point of its own.
	if err := unix.Mount(b.root, b.root, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s onto itself: %w", b.root, err)
	}
	return nil
}

// nodeView mirrors the node's file system into the root: every top-level directory and every
// mount below them as an overlay whose lower layer is the node's, so the container reads the
// node's files and writes only to its own layer.
func (b *rootBuilder) nodeView(mounts []mountPoint) error {
	entries, err := os.ReadDir("/")
	if err != nil {
		return fmt.Errorf("list the node's /: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		src, dst := "/"+name, filepath.Join(b.root, name)
		if mode, ok := freshDirs[name]; ok {
			if err := mkdirMode(dst, mode); err != nil {
				return err
			}
			continue
		}
		if err := b.mirror(src, dst, e.Type()); err != nil {
			return err
		}
	}
	slices.SortStableFunc(mounts, func(x, y mountPoint) int { return strings.Count(x.Path, "/") - strings.Count(y.Path, "/") })
	seen := map[string]bool{}
	for _, m := range mounts {
		if seen[m.Path] || !b.wantsMount(m) {
			continue
		}
		seen[m.Path] = true
		fi, err := os.Lstat(m.Path)
		if err != nil {
			continue // covered by a later mount: what the node sees there is mirrored already
		}
		if err := b.mirror(m.Path, filepath.Join(b.root, m.Path), fi.Mode().Type()); err != nil {
			return err
		}
	}
	for _, h := range b.spec.Hide {
		dst := filepath.Join(b.root, h)
		if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", dst, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
			return fmt.Errorf("hide %s from the container: %w", h, err)
		}
	}
	return nil
}

// wantsMount tells whether a node mount below the top level needs mirroring of its own (an
// overlay does not descend into the mounts under its lower directory).
func (b *rootBuilder) wantsMount(m mountPoint) bool {
	if strings.Count(m.Path, "/") < 2 || slices.Contains(virtualFS, m.FSType) {
		return false
	}
	top := strings.SplitN(m.Path[1:], "/", 2)[0]
	if _, fresh := freshDirs[top]; fresh {
		return false
	}
	for _, skip := range append([]string{b.spec.Dir}, b.spec.Hide...) {
		if m.Path == skip || strings.HasPrefix(m.Path, strings.TrimSuffix(skip, "/")+"/") {
			return false
		}
	}
	return true
}

// mirror makes the node's src visible at dst: a directory as an overlay (read-only bind if the
// kernel refuses the overlay), a file as a read-only bind, a symbolic link as the same link.
func (b *rootBuilder) mirror(src, dst string, typ os.FileMode) error {
	switch {
	case typ&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("read link %s: %w", src, err)
		}
		if err := os.Symlink(target, dst); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link %s: %w", dst, err)
		}
		return nil
	case typ.IsDir():
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dst, err)
		}
		return b.overlay(src, dst)
	case typ.IsRegular():
		if err := touch(dst); err != nil {
			return err
		}
		return bindReadOnly(src, dst)
	}
	return nil // sockets, devices and pipes at the top level mean nothing to a container
}

// overlay mounts an overlay of the node's directory src on dst, with a fresh upper layer.
func (b *rootBuilder) overlay(src, dst string) error {
	b.n++
	layer := filepath.Join(b.layers, strconv.Itoa(b.n))
	upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	opts := "lowerdir=" + escapeOverlayPath(src) + ",upperdir=" + escapeOverlayPath(upper) + ",workdir=" + escapeOverlayPath(work)
	if err := unix.Mount("overlay", dst, "overlay", 0, opts); err != nil {
		// Too deep a stack of overlays, or a file system overlayfs cannot sit on: the container
		// still reads the node's files, and cannot write there.
		if berr := bindReadOnly(src, dst); berr != nil {
			return fmt.Errorf("overlay of %s (%v), then a read-only bind: %w", src, err, berr)
		}
	}
	return nil
}

// escapeOverlayPath escapes the characters overlayfs options treat as separators.
func escapeOverlayPath(p string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(p)
}

func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s onto %s: %w", src, dst, err)
	}
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", dst, err)
	}
	return nil
}

func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// Mkdir's mode passes through the umask; a container's /tmp must be 1777.
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// touch creates an empty file to bind a file onto, with its parent directories.
func touch(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}

// pivot makes root the root of the mount namespace, keeping the node's root at /oldRootName.
func pivot(root string) error {
	old := filepath.Join(root, oldRootName)
	if err := os.Mkdir(old, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", old, err)
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", root, err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the new root: %w", err)
	}
	return nil
}
