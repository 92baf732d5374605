package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weftnet/weft/internal/netns"
)

// Down stops a lab and removes everything it made: processes, namespaces (and with them every
// link, address, route and mount inside them), and its state directory. It works only from what
// is on disk and in /run/netns, so it also cleans up after a supervisor killed with SIGKILL.
// It reports whether there was anything to remove.
func Down(dataDir, name string, log *slog.Logger) (bool, error) {
	stateDir := StateDir(dataDir, name)
	found := false
	if pid, ok := supervisorRunning(stateDir); ok {
		found = true
		log.Debug("stopping the lab supervisor", "pid", pid)
		stopProcess(pid, 45*time.Second)
	}
	if _, err := os.Stat(stateDir); err == nil {
		found = true
	}
	if len(labNetNS(stateDir, name)) > 0 {
		found = true
	}
	return found, removeResources(dataDir, name, log)
}

// removeResources kills whatever still runs inside the lab's namespaces, deletes them, and
// removes the state directory and the data directories weft created.
func removeResources(dataDir, name string, log *slog.Logger) error {
	stateDir := StateDir(dataDir, name)
	names := labNetNS(stateDir, name)
	inodes := map[uint64]bool{}
	for _, n := range names {
		if ino, err := netns.Inode(netns.Path(n)); err == nil {
			inodes[ino] = true
		}
	}
	var errs []error
	if err := killProcessesIn(inodes, log); err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if err := netns.Delete(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(stateDir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", stateDir, err))
	}
	removeHostDirsIfOurs(dataDir)
	// Only empty directories go: another lab's state stays.
	_ = os.Remove(filepath.Join(dataDir, "labs"))
	_ = os.Remove(dataDir)
	return errors.Join(errs...)
}

// labNetNS lists the lab's namespaces: those recorded in its state, and any in /run/netns whose
// name only this lab could have made (in case the record is gone).
func labNetNS(stateDir, name string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range recordedNetNS(stateDir) {
		add(n)
	}
	pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(NetNSName(name, "")) + `(lan|router|control-plane|external|node-[0-9]+)$`)
	entries, _ := os.ReadDir(netns.Dir)
	for _, e := range entries {
		if pattern.MatchString(e.Name()) {
			add(e.Name())
		}
	}
	return out
}

// killProcessesIn kills every process whose network namespace is one of inodes, and waits for
// them to be gone, so the namespaces and the node mount namespaces die with them.
func killProcessesIn(inodes map[uint64]bool, log *slog.Logger) error {
	if len(inodes) == 0 {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processesIn(inodes)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in the lab's namespaces would not die", pids)
		}
		for _, pid := range pids {
			log.Debug("killing leftover lab process", "pid", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesIn lists the processes inside the given network namespaces and all their
// descendants: pods' containers live in namespaces of their own that no name records, but they
// descend from the node that runs them.
func processesIn(inodes map[uint64]bool) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	var roots []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ppid := parentPID(pid); ppid > 0 {
			children[ppid] = append(children[ppid], pid)
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue // gone, or a zombie already out of its namespaces
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
		if err == nil && inodes[ino] {
			roots = append(roots, pid)
		}
	}
	seen := map[int]bool{}
	var pids []int
	for len(roots) > 0 {
		pid := roots[0]
		roots = roots[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		pids = append(pids, pid)
		roots = append(roots, children[pid]...)
	}
	return pids
}

// parentPID reads a process's parent from /proc/PID/stat (the field after the parenthesized name).
func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// stopProcess sends SIGTERM and waits; after the grace period it sends SIGKILL.
func stopProcess(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// hostDirs are the directories of the machine's own /run that a lab may have to make: the
// namespace files' directory, and the mount point of each node's own /run/wireguard (the
// userspace WireGuard's control sockets, which every node must have apart). Each has a marker
// in the data directory while a lab made it.
var hostDirs = []struct{ dir, marker string }{
	{netns.Dir, "created-run-netns"},
	{"/run/wireguard", "created-run-wireguard"},
}

// noteHostDirs remembers, before the first namespace is made, which of hostDirs did not exist,
// so that the last lab to go removes them again.
func noteHostDirs(dataDir string) error {
	for _, d := range hostDirs {
		if _, err := os.Stat(d.dir); err == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dataDir, d.marker), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// removeHostDirsIfOurs removes the hostDirs a lab made, once empty (another lab may still use them).
func removeHostDirsIfOurs(dataDir string) {
	for _, d := range hostDirs {
		marker := filepath.Join(dataDir, d.marker)
		if _, err := os.Stat(marker); err != nil {
			continue
		}
		if err := os.Remove(d.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(marker)
		}
	}
}
