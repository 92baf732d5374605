// Package overlay connects pods across nodes. Backends take K3s's names: vxlan (the default)
// tunnels pod traffic between nodes in VXLAN, so nodes need only reach each other by IP; host-gw
// routes each peer's podCIDRs via the peer's node address (all nodes on one L2 segment);
// wireguard tunnels and encrypts it in WireGuard; none leaves it to another CNI or the fabric.
//
// Each agent publishes what its peers need on its own Node as annotations (as flannel does):
// the backend, the address peers send to, and the VXLAN MAC per family. Peers learn from the
// Node objects only, so a node that joins is reachable as soon as its Node carries podCIDRs and
// annotations, and one that leaves takes its routes, FDB and neighbour entries with it.
package overlay

import (
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/netaddr"
)

// Backend names, as K3s spells them.
const (
	BackendVXLAN  = "vxlan"
	BackendHostGW = "host-gw"
	BackendNone   = "none"
)

// Backends lists every backend, the default first.
var Backends = []string{BackendVXLAN, BackendHostGW, BackendWireGuard, BackendNone}

// RouteProtocol marks the routes weft owns, so a sync can find and remove stale ones without
// touching routes anybody else made ("W").
const RouteProtocol netlink.RouteProtocol = 0x57

// Annotations weft's agent writes on its own Node for its peers.
const (
	AnnotationBackend    = "weft.dev/backend-type"
	AnnotationPublicIPv4 = "weft.dev/public-ip"
	AnnotationPublicIPv6 = "weft.dev/public-ipv6"
	AnnotationVtepMACv4  = "weft.dev/vtep-mac"
	AnnotationVtepMACv6  = "weft.dev/vtep-mac-v6"
)

// VXLAN parameters every weft node shares; 8472 is the Linux and flannel port, not IANA's 4789.
const (
	VNI       = 1
	VXLANPort = 8472
	// Overhead is what VXLAN adds to each packet: outer IP header + UDP 8 + VXLAN 8 + inner Ethernet 14.
	OverheadV4 = 20 + 8 + 8 + 14
	OverheadV6 = 40 + 8 + 8 + 14
)

// family is an address family with the overlay's own values for it.
type family struct {
	netaddr.Family
	device     string
	overhead   int
	publicKey  string
	vtepMACKey string
}

var families = []family{
	{Family: netaddr.IPv4, device: "weft.1", overhead: OverheadV4, publicKey: AnnotationPublicIPv4, vtepMACKey: AnnotationVtepMACv4},
	{Family: netaddr.IPv6, device: "weft-v6.1", overhead: OverheadV6, publicKey: AnnotationPublicIPv6, vtepMACKey: AnnotationVtepMACv6},
}

func familyOf(a netip.Addr) family { return families[netaddr.Of(a)] }

// Local is this node as the overlay sees it, per family (index 0 IPv4, 1 IPv6).
type Local struct {
	Name     string
	PodCIDRs []netip.Prefix
	// Underlay is the address on this node's interface that carries node traffic (its InternalIP).
	Underlay [2]netip.Addr
	// Public is what peers send to: the Underlay unless an external address was chosen.
	Public [2]netip.Addr
	// MTU, when not zero, overrides the detected MTU of the overlay devices.
	MTU int
	// WireGuard is what this node publishes of its WireGuard device (wireguard backend only).
	WireGuard LocalWireGuard
	// ClusterCIDRs, when known, are blackholed under wireguard (below every podCIDR route), so
	// pod traffic never leaves in the clear by the default route while the device is missing.
	ClusterCIDRs []netip.Prefix
}

// LocalWireGuard is the public side of this node's WireGuard device.
type LocalWireGuard struct {
	PublicKey wgtypes.Key
	Port      int
	Mode      string // kernel or userspace
}

func (l Local) podCIDR(f family) (netip.Prefix, bool) {
	for _, p := range l.PodCIDRs {
		if p.Addr().Is6() == f.Is6() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
