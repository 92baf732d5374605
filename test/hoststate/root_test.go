package hoststate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// netnsDirState is what `ip netns add` may change about /run/netns itself:
// it creates the directory, bind-mounts it onto itself and makes it shared.
type netnsDirState struct {
	exists  bool
	mounted bool
	mount   mountEntry
}

func readNetnsDirState(t *testing.T) netnsDirState {
	t.Helper()
	var s netnsDirState
	if _, err := os.Stat(netnsDir); errors.Is(err, fs.ErrNotExist) {
		return s
	} else if err != nil {
		t.Fatalf("stat %s: %v", netnsDir, err)
	}
	s.exists = true
	s.mount, s.mounted = visibleMountAt(t, netnsDir)
	return s
}

// visibleMountAt returns the mount whose root is visible at path, if path is
// a mount point. Matching mountinfo by mount point alone is not enough: a
// mount can be hidden under a later mount on a parent directory, so the
// mount IDs of path and its parent are compared instead.
func visibleMountAt(t *testing.T, path string) (mountEntry, bool) {
	t.Helper()
	id, parentID := mountIDOf(t, path), mountIDOf(t, filepath.Dir(path))
	if id == parentID {
		return mountEntry{}, false
	}
	data, err := os.ReadFile(mountinfoPath)
	if err != nil {
		t.Fatalf("read mountinfo: %v", err)
	}
	for _, l := range splitLines(string(data)) {
		if e, ok := parseMountinfoLine(l); ok && e.id == id {
			return e, true
		}
	}
	t.Fatalf("mount %s of %s not in %s", id, path, mountinfoPath)
	return mountEntry{}, false
}

// mountIDOf returns the ID of the mount path resolves to, from the mnt_id
// line the kernel reports for an open file descriptor.
func mountIDOf(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		t.Fatalf("fdinfo of %s: %v", path, err)
	}
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no mnt_id in fdinfo of %s", path)
	return ""
}

func hasTag(tags []string, prefix string) bool {
	for _, tag := range tags {
		if strings.HasPrefix(tag, prefix) {
			return true
		}
	}
	return false
}

// restoreNetnsDir undoes what `ip netns add` did to /run/netns. It is
// idempotent so that it can run both in the test body and in Cleanup.
func restoreNetnsDir(t *testing.T, before netnsDirState) {
	t.Helper()
	now := readNetnsDirState(t)
	if now.mounted && !before.mounted {
		// No MNT_DETACH: if someone else's namespace is mounted below, failing
		// loudly is better than silently detaching it.
		if err := syscall.Unmount(netnsDir, 0); err != nil {
			t.Errorf("unmount %s: %v", netnsDir, err)
			return
		}
	}
	if now.mounted && before.mounted && !hasTag(before.mount.propagation, "shared:") && hasTag(now.mount.propagation, "shared:") {
		flag := uintptr(syscall.MS_PRIVATE)
		if hasTag(before.mount.propagation, "master:") {
			flag = syscall.MS_SLAVE
		}
		if err := syscall.Mount("", netnsDir, "", flag, ""); err != nil {
			t.Errorf("restore propagation of %s: %v", netnsDir, err)
		}
	}
	if !before.exists {
		if err := os.Remove(netnsDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("remove %s: %v", netnsDir, err)
		}
	}
}

func runIP(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(findTool("ip"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// removeNamespace deletes the test namespace if present and restores
// /run/netns; safe to call more than once.
func removeNamespace(t *testing.T, name string, before netnsDirState) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		if out, err := exec.Command(findTool("ip"), "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	}
	restoreNetnsDir(t, before)
}

func take(t *testing.T) Snapshot {
	t.Helper()
	s, err := Take()
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return s
}

// changedLines returns the lines of a section that were removed or added.
func changedLines(before, after string) []string {
	var out []string
	for _, e := range editScript(diffLines(before), diffLines(after)) {
		if e.op != ' ' {
			out = append(out, strings.TrimSuffix(e.line, "\n"))
		}
	}
	return out
}

// TestNamespaceLifecycleLeavesHostUnchanged proves the snapshot is stable on
// an idle host, blind to what happens inside another network namespace, and
// back to equal once that namespace is gone. It never touches the host's own
// links, routes, sysctls or firewall.
func TestNamespaceLifecycleLeavesHostUnchanged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and reads firewall state")
	}
	if findTool("ip") == "" {
		t.Skip("needs iproute2's ip tool")
	}
	dirBefore := readNetnsDirState(t)

	first := take(t)
	time.Sleep(3 * time.Second)
	if d := Diff(first, take(t)); d != "" {
		t.Fatalf("two snapshots 3 s apart differ, so a value that changes by itself is not normalized:\n%s", d)
	}

	name := fmt.Sprintf("hoststate-test-%d", os.Getpid())
	t.Cleanup(func() { removeNamespace(t, name, dirBefore) })
	runIP(t, "netns", "add", name)
	runIP(t, "-n", name, "link", "add", "hs-veth0", "type", "veth", "peer", "name", "hs-veth1")
	runIP(t, "-n", name, "link", "set", "hs-veth0", "up")

	during := take(t)
	// The namespace is visible only through its handle: the /run/netns entry
	// and, unavoidably, the nsfs bind mount that keeps it alive (plus the
	// /run/netns self-bind if ip had to create it).
	for _, section := range differingSections(first, during) {
		if section != SectionNetns && section != SectionMounts {
			t.Errorf("section %q changed by activity inside namespace %s:\n%s", section, name, Diff(first, during))
		}
	}
	nsLine := filepath.Join(netnsDir, name)
	if got := changedLines(first.Sections[SectionNetns], during.Sections[SectionNetns]); !strings.Contains(strings.Join(got, "\n"), nsLine) {
		t.Errorf("netns section does not show %s; changed lines: %q", nsLine, got)
	}
	for _, l := range changedLines(first.Sections[SectionMounts], during.Sections[SectionMounts]) {
		if l != netnsDir && !strings.HasPrefix(l, netnsDir+" ") && !strings.HasPrefix(l, netnsDir+"/") {
			t.Errorf("mount outside %s changed: %q", netnsDir, l)
		}
	}

	removeNamespace(t, name, dirBefore)
	if d := Diff(first, take(t)); d != "" {
		t.Fatalf("host state differs after the namespace was deleted:\n%s", d)
	}
}
