package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// podFiles are the files the kubelet manages for a pod and bind-mounts into every container.
var podFiles = []string{"hosts", "hostname", "resolv.conf"}

// PreparePod turns the calling thread into a container's world: a private mount namespace with
// the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf bound in, the pod's host name in a
// UTS namespace of its own (unless hostNetwork, which keeps the node's), and the working
// directory. It runs on the locked thread that then execs the container's program.
func PreparePod(filesDir, hostname, workDir string, hostNetwork bool) error {
	flags := unix.CLONE_NEWNS
	if !hostNetwork {
		flags |= unix.CLONE_NEWUTS
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare the container's namespaces: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	if !hostNetwork {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set host name %s: %w", hostname, err)
		}
	}
	for _, f := range podFiles {
		src, dst := filepath.Join(filesDir, f), filepath.Join("/etc", f)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s onto %s: %w", src, dst, err)
		}
	}
	// Images default to "/"; the node runtime's own directory means nothing to a container.
	if workDir == "" {
		workDir = "/"
	}
	if err := os.Chdir(workDir); err != nil {
		return fmt.Errorf("workingDir %s: %w", workDir, err)
	}
	return nil
}
