package shim

import (
	"github.com/weftnet/weft/internal/netns"
)

// EnterOptions say which pod a program enters.
type EnterOptions struct {
	NetNS       string // the pod's network namespace (/proc/self/ns/net for hostNetwork)
	PodFiles    string // directory with the pod's hosts, hostname and resolv.conf
	Hostname    string
	WorkDir     string
	HostNetwork bool
}

// Enter replaces the current process with argv inside the pod; it returns only on failure.
func Enter(o EnterOptions, argv []string) error {
	return netns.Exec(o.NetNS, func() error {
		return PreparePod(o.PodFiles, o.Hostname, o.WorkDir, o.HostNetwork)
	}, argv)
}
