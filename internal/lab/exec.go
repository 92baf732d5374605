package lab

import (
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netns"
)

// Exec replaces the current process with argv running inside a lab node: its network, mount
// and UTS namespaces, as its own processes see them (/etc/cni, /run/netns with the pods'
// namespaces, its host name). `ip netns exec` enters only the network namespace. The routers and
// hosts outside the cluster have only a network namespace, which is entered.
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
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	if pid == 0 {
		// The lab's other hosts (routers, the external and site hosts) are network namespaces only.
		names := []string{}
		for _, h := range p.hosts() {
			if h.Name == node {
				return netns.Exec(netns.Path(h.NetNS), nil, append([]string{path}, argv[1:]...))
			}
			names = append(names, h.Name)
		}
		for _, n := range p.Nodes {
			names = append(names, n.Name)
		}
		return fmt.Errorf("no running node or host %q in lab %q (try one of %v)", node, name, names)
	}
	proc := fmt.Sprintf("/proc/%d/ns/", pid)
	return netns.Exec(proc+"net", func() error {
		mnt, err := unix.Open(proc+"mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("node %s: %w (is the lab running? `weft lab status`)", node, err)
		}
		uts, err := unix.Open(proc+"uts", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(mnt)
			return fmt.Errorf("node %s: %w", node, err)
		}
		return joinNode(mnt, uts)
	}, append([]string{path}, argv[1:]...))
}
