// Package hostport keeps the table inet weft-hostport: the hostPorts of a node's pods, as the
// CNI "portMappings" capability hands them to weft-cni. It translates traffic that arrives at
// the node (prerouting) and traffic the node sends itself (output) to the pod, on every node
// address when the mapping has no hostIP, or only on its hostIP.
//
// weft-cni writes the rules on ADD and removes them on DEL, keyed by the attachment, rather
// than the agent from the Pods it watches: the mapping is in place before the pod's
// containers start (a pod Ready at once answers on its hostPort, with no window until an
// informer and a sync catch up), the runtime's capability arguments are the only source a
// real runtime (containerd) gives, and the agent being down or restarting changes nothing.
// Nothing stays stale: each attachment's entries are kept in a record of its own
// (records.go), DEL removes them whatever the runtime passes, CNI GC (which the lab's node
// runtime calls when it starts, after pods were deleted while it was down) removes the
// entries of every attachment that is no longer valid, and every change rewrites what the
// table holds beyond the records.
package hostport

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Mapping is one entry of the CNI "portMappings" runtime capability, as containerd and
// CRI-O pass it: hostPort, containerPort, protocol (tcp, udp or sctp, any case; empty means
// tcp) and hostIP (empty or unspecified means every node address).
type Mapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Entry is a mapping resolved for one of the pod's addresses: what the table holds.
type Entry struct {
	HostIP   netip.Addr `json:"hostIP,omitzero"` // invalid: every address of the node
	HostPort int        `json:"hostPort"`
	Protocol string     `json:"protocol"` // tcp, udp, sctp
	PodIP    netip.Addr `json:"podIP"`
	PodPort  int        `json:"podPort"`
}

// IPv6 reports the entry's family.
func (e Entry) IPv6() bool { return e.PodIP.Is6() }

// String is the entry as a reader would write it.
func (e Entry) String() string {
	host := fmt.Sprintf("*:%d", e.HostPort)
	if e.HostIP.IsValid() {
		host = netip.AddrPortFrom(e.HostIP, uint16(e.HostPort)).String()
	}
	return fmt.Sprintf("%s %s -> %s", e.Protocol, host, netip.AddrPortFrom(e.PodIP, uint16(e.PodPort)))
}

func mustAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a
	}
	return netip.Addr{}
}

// Validate checks every mapping; the errors name the entry and the field.
func Validate(ms []Mapping) error {
	var errs []error
	for i, m := range ms {
		at := func(field, msg string, a ...any) {
			errs = append(errs, fmt.Errorf("portMappings[%d].%s: %s", i, field, fmt.Sprintf(msg, a...)))
		}
		if m.HostPort < 1 || m.HostPort > 65535 {
			at("hostPort", "%d is not a port: use 1 to 65535", m.HostPort)
		}
		if m.ContainerPort < 1 || m.ContainerPort > 65535 {
			at("containerPort", "%d is not a port: use 1 to 65535", m.ContainerPort)
		}
		if _, err := protocol(m.Protocol); err != nil {
			at("protocol", "%v", err)
		}
		if m.HostIP != "" {
			a, err := netip.ParseAddr(m.HostIP)
			switch {
			case err != nil:
				at("hostIP", "%q is not an IP address: give one of the node's addresses, or leave it empty for all", m.HostIP)
			case a.Zone() != "":
				at("hostIP", "%q has a zone: remove it", m.HostIP)
			}
		}
	}
	return errors.Join(errs...)
}

func protocol(p string) (string, error) {
	switch s := strings.ToLower(p); s {
	case "":
		return "tcp", nil
	case "tcp", "udp", "sctp":
		return s, nil
	}
	return "", fmt.Errorf("%q is not a protocol: use TCP, UDP or SCTP", p)
}

// Entries resolves mappings (already validated) for the pod's addresses: a mapping with a
// hostIP goes to the pod address of the same family, one without goes to each of the pod's
// addresses (a dual-stack pod gets one entry per family). A hostIP of a family the pod does not
// have maps to nothing, as the kubelet would leave it. Duplicates are dropped.
func Entries(ms []Mapping, podIPs []netip.Addr) []Entry {
	var out []Entry
	for _, m := range ms {
		proto, err := protocol(m.Protocol)
		if err != nil {
			continue
		}
		host := mustAddr(m.HostIP).Unmap()
		if host.IsUnspecified() {
			host = netip.Addr{}
		}
		for _, ip := range podIPs {
			ip = ip.Unmap()
			if host.IsValid() && host.Is6() != ip.Is6() {
				continue
			}
			e := Entry{HostIP: host, HostPort: m.HostPort, Protocol: proto, PodIP: ip, PodPort: m.ContainerPort}
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}
