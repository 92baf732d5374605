package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"

	"github.com/weftnet/weft/internal/netaddr"
)

// Kernel is what the commands need from the kernel. The Linux implementation works on the
// namespace the plugin runs in (the node's) and, through internal/netns, on the pod's; unit
// tests use a fake.
type Kernel interface {
	// EnsureBridge creates the bridge if it is missing and makes sure it is up, has the MTU
	// and holds the gateway addresses.
	EnsureBridge(b Bridge) (Link, error)
	// PodHasLink reports whether the pod's network namespace has a link named ifName.
	PodHasLink(netns, ifName string) (bool, error)
	// SetupPod creates the veth pair of p and configures both ends. It may leave a partial
	// setup behind on error: the caller deletes the host end, which takes the pod end along.
	SetupPod(p Pod) (host, pod Link, err error)
	// CheckPod returns an error naming what differs from p in the pod and on the host.
	CheckPod(p Pod) error
	// DeleteLink deletes a link of the node's namespace; a missing link is not an error.
	DeleteLink(name string) (found bool, err error)
	// DeletePodLink deletes ifName in the pod; a missing link or namespace is not an error.
	DeletePodLink(netns, ifName string) error
	// BridgePorts lists the names of the veths attached to the bridge.
	BridgePorts(bridge string) ([]string, error)
}

// Bridge is the node side of the network.
type Bridge struct {
	Name     string
	MTU      int
	Gateways []netip.Prefix // gateway address with the pod CIDR's length, one per family
}

// Pod is one attachment.
type Pod struct {
	Netns    string
	IfName   string
	HostName string
	Bridge   string
	MTU      int
	Hairpin  bool
	Addrs    []netip.Prefix // pod address with the pod CIDR's length
	Gateways []netip.Addr   // same order as Addrs
}

// Link describes an interface for the result.
type Link struct {
	Name  string
	MAC   string
	MTU   int
	Index int
}

// ErrLinkExists is returned, wrapped, when the pod already has a link of the requested name.
var ErrLinkExists = errors.New("link exists")

// HostVethPrefix starts the name of every host-side veth weft-cni creates.
const HostVethPrefix = "wft"

// HostVethName is the host-side veth name of an attachment: derived from it, so DEL and GC
// find the link without state, and 48 bits of hash keep names of one node apart.
func HostVethName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return HostVethPrefix + hex.EncodeToString(sum[:6])
}

func defaultDst(gw netip.Addr) *net.IPNet {
	if gw.Is4() {
		return netaddr.IPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0))
	}
	return netaddr.IPNet(netip.PrefixFrom(netip.IPv6Unspecified(), 0))
}

func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}
