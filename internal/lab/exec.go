package lab

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Exec replaces the current process with argv running inside a lab node: its network, mount
// and UTS namespaces, as its own processes see them (/etc/cni, /run/netns with the pods'
// namespaces, its host name). `ip netns exec` enters only the network namespace.
func Exec(dataDir, name, node string, argv []string) error {
	p, err := LoadPlan(dataDir, name)
	if err != nil {
		return err
	}
	pid := 0
	for _, pi := range loadProcesses(p.StateDir) {
		if pi.Name == node {
			pid = pi.PID
		}
	}
	if pid == 0 {
		var nodes []string
		for _, n := range p.Nodes {
			nodes = append(nodes, n.Name)
		}
		return fmt.Errorf("no running node %q in lab %q (nodes: %v)", node, name, nodes)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	runtime.LockOSThread() // namespaces belong to this thread, which execs
	for _, ns := range []struct {
		file string
		flag int
	}{{"net", unix.CLONE_NEWNET}, {"uts", unix.CLONE_NEWUTS}, {"mnt", unix.CLONE_NEWNS}} {
		if ns.flag == unix.CLONE_NEWNS {
			// A thread sharing its filesystem context may not change mount namespace.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare filesystem context: %w", err)
			}
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns.file), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("node %s: %w (is the lab running? `weft lab status`)", node, err)
		}
		if err := unix.Setns(fd, ns.flag); err != nil {
			return fmt.Errorf("enter %s's %s namespace: %w", node, ns.file, err)
		}
		unix.Close(fd)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	return unix.Exec(path, argv, os.Environ())
}
