package shim

import (
	"os"
	"path/filepath"

	"github.com/weftnet/weft/internal/netns"
)

// StartErrorFile, beside the root spec, holds why a container could not start (its root, its
// program), for the shim that records the container's exit.
const StartErrorFile = "start-error.txt"

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
	err := enter(o, argv)
	// Best effort: the error also goes to the container's log through stderr.
	_ = os.WriteFile(filepath.Join(filepath.Dir(o.RootSpec), StartErrorFile), []byte(err.Error()), 0o644)
	return err
}

func enter(o EnterOptions, argv []string) error {
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
