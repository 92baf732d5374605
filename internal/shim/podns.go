package shim

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PrepareContainer turns the calling thread into a container's world: a mount namespace of its
// own whose root is built from spec (the node's view, fresh /proc, /sys and /dev, the pod's
// files, the image's files and the volumes), and the pod's host name in a UTS namespace of its
// own (unless hostNetwork, which keeps the node's). It runs on the locked thread, already in the
// pod's network namespace, that then execs the container's program.
func PrepareContainer(spec RootSpec, hostname string, hostNetwork bool) error {
	flags := unix.CLONE_NEWNS
	if !hostNetwork {
		flags |= unix.CLONE_NEWUTS
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare the container's namespaces: %w", err)
	}
	// Nothing mounted here reaches the node; the node's later mounts still show up here.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	if !hostNetwork {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set host name %s: %w", hostname, err)
		}
	}
	return buildRoot(spec)
}
