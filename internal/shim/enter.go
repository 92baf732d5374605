package shim

import (
	"github.com/weftnet/weft/internal/netns"
)

// EnterOptions say which pod a program enters.
type EnterOptions struct {
	NetNS       string // the pod's network namespace (/proc/self/ns/net for hostNetwork)
	RootSpec    string // file with the container's RootSpec
	Hostname    string
	HostNetwork bool
}

// Enter replaces the current process with argv inside the pod, in a root of its own; argv[0]
// is looked up in PATH inside that root. It returns only on failure.
func Enter(o EnterOptions, argv []string) error {
	spec, err := ReadRootSpec(o.RootSpec)
	if err != nil {
		return err
	}
	return netns.Exec(o.NetNS, func() error {
		if err := PrepareContainer(spec, o.Hostname, o.HostNetwork); err != nil {
			return err
		}
		path, err := lookPath(argv[0])
		if err != nil {
			return err
		}
		argv[0] = path // netns.Exec execs argv[0] after this returns
		return nil
	}, argv)
}
