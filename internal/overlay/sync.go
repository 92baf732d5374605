package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/weftnet/weft/internal/netaddr"
)

// Overlay keeps the kernel's cross-node state (devices, routes, FDB, neighbours) equal to what
// the Node objects ask for under one backend. It owns the weft VXLAN devices and every route of
// protocol RouteProtocol in the main table; it touches nothing else.
type Overlay struct {
	k       Kernel
	backend string
	wg      WireGuard // the wireguard backend's device; nil under the others
}

// New makes an overlay for the backend (one of Backends) over the node's kernel; the wireguard
// backend also needs the node's WireGuard device.
func New(backend string, k Kernel, wg WireGuard) *Overlay {
	return &Overlay{k: k, backend: backend, wg: wg}
}

// Result is what a sync found out for the agent to report.
type Result struct {
	// MTU is the largest pod MTU every family's path carries: the node interface's MTU less
	// the backend's overhead, or the configured MTU.
	MTU int
	// Unreachable lists peers this backend cannot reach, one sentence each.
	Unreachable []string
	// Peers counts the peers with at least one route.
	Peers int
}

// plan is the desired kernel state for one sync.
type plan struct {
	peers  map[string]bool // peers with at least one route
	routes []netlink.Route
	neighs map[int][]netlink.Neigh // by VXLAN device index: neighbour and FDB entries
}

// Sync makes the kernel match the peers. Problems with single peers go into Result.Unreachable;
// the error reports what failed in the kernel and asks for a retry.
func (o *Overlay) Sync(l Local, peers []Peer) (Result, error) {
	if o.backend == BackendWireGuard {
		return o.syncWireGuard(l, peers)
	}
	var res Result
	// A WireGuard device left by the backend used before goes, so no stale peer stays reachable.
	errs := []error{o.deleteLinkNamed(WireGuardDevice)}
	devices := map[bool]int{} // family (v6?) -> VXLAN device index
	mtu := map[bool]int{}
	for _, f := range families {
		cidr, hasCIDR := l.podCIDR(f)
		under := l.Underlay[int(f.Family)]
		if !hasCIDR || !under.IsValid() {
			if err := o.deleteDevice(f); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		parent, err := o.linkHolding(under, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m := parent.Attrs().MTU
		if o.backend == BackendVXLAN {
			m -= f.overhead
		}
		if l.MTU != 0 {
			m = l.MTU
		}
		mtu[f.Is6()] = m
		if o.backend != BackendVXLAN {
			if err := o.deleteDevice(f); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		dev, err := o.ensureDevice(f, parent.Attrs().Index, under, m, VtepMAC(l.Name, f.Is6()), vtepAddr(cidr))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		devices[f.Is6()] = dev
	}
	for _, m := range mtu {
		if res.MTU == 0 || m < res.MTU {
			res.MTU = m
		}
	}

	p := plan{peers: map[string]bool{}, neighs: map[int][]netlink.Neigh{}}
	var connected []netip.Prefix
	if o.backend == BackendHostGW {
		// One dump per sync, not one per peer: every peer is checked against the same networks.
		var err error
		if connected, err = o.connectedNetworks(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, peer := range peers {
		switch o.backend {
		case BackendVXLAN:
			res.Unreachable = append(res.Unreachable, o.planVXLAN(&p, devices, peer)...)
		case BackendHostGW:
			res.Unreachable = append(res.Unreachable, o.planHostGW(&p, l, peer, connected)...)
		}
	}
	for _, dev := range devices {
		if err := o.syncNeighbours(dev, p.neighs[dev]); err != nil {
			errs = append(errs, err)
		}
	}
	unreachable, err := o.syncRoutes(p.routes)
	res.Unreachable = append(res.Unreachable, unreachable...)
	res.Peers = len(p.peers)
	return res, errors.Join(append(errs, err)...)
}

// Cleanup removes every device and route weft made, for when the backend is switched to none
// or weft is removed from the node.
func (o *Overlay) Cleanup() error {
	var errs []error
	for _, f := range families {
		errs = append(errs, o.deleteDevice(f))
	}
	if o.wg != nil {
		errs = append(errs, o.wg.Delete())
	} else {
		errs = append(errs, o.deleteLinkNamed(WireGuardDevice))
	}
	_, err := o.syncRoutes(nil)
	return errors.Join(append(errs, err)...)
}

// planHostGW routes the peer's podCIDRs via its address, which must be on one of this node's
// connected networks: a gateway further away cannot be a next hop.
func (o *Overlay) planHostGW(p *plan, l Local, peer Peer, connected []netip.Prefix) []string {
	var problems []string
	for _, cidr := range peer.PodCIDRs {
		f := familyOf(cidr.Addr())
		gw := peer.Public[int(f.Family)]
		if !gw.IsValid() {
			problems = append(problems, fmt.Sprintf("node %s has podCIDR %s but no IPv%s address", peer.Name, cidr, ipv(f)))
			continue
		}
		if !l.Underlay[int(f.Family)].IsValid() {
			continue // this node has no address of the family: nothing can be routed in it
		}
		if connected != nil && !slices.ContainsFunc(connected, func(n netip.Prefix) bool { return n.Contains(gw) }) {
			problems = append(problems, fmt.Sprintf("node %s at %s is not on this node's L2 segment: host-gw needs every node on one; use --backend vxlan", peer.Name, gw))
			continue
		}
		p.routes = append(p.routes, netlink.Route{Dst: netaddr.IPNet(cidr), Gw: net.IP(gw.AsSlice()), Protocol: RouteProtocol})
		p.peers[peer.Name] = true
	}
	return problems
}

// planVXLAN routes the peer's podCIDRs through this node's VXLAN device to the peer's VXLAN
// address, with the neighbour entry that names its MAC and the FDB entry that sends that MAC to
// the peer's address, so nothing is learned or flooded.
func (o *Overlay) planVXLAN(p *plan, devices map[bool]int, peer Peer) []string {
	if peer.Backend != BackendVXLAN {
		if peer.Backend == "" {
			return nil // its agent has not published yet; the Node update will bring it
		}
		return []string{fmt.Sprintf("node %s uses backend %s; every node must use vxlan", peer.Name, peer.Backend)}
	}
	var problems []string
	for _, cidr := range peer.PodCIDRs {
		f := familyOf(cidr.Addr())
		dev, ok := devices[f.Is6()]
		if !ok {
			continue
		}
		mac, dst := peer.VtepMAC[int(f.Family)], peer.Public[int(f.Family)]
		if mac == nil || !dst.IsValid() {
			problems = append(problems, fmt.Sprintf("node %s has podCIDR %s but publishes no IPv%s VXLAN endpoint", peer.Name, cidr, ipv(f)))
			continue
		}
		gw := net.IP(vtepAddr(cidr).Addr().AsSlice())
		p.routes = append(p.routes, netlink.Route{Dst: netaddr.IPNet(cidr), Gw: gw, LinkIndex: dev, Flags: int(netlink.FLAG_ONLINK), Protocol: RouteProtocol})
		p.peers[peer.Name] = true
		p.neighs[dev] = append(p.neighs[dev],
			netlink.Neigh{LinkIndex: dev, Family: f.Netlink(), State: netlink.NUD_PERMANENT, IP: gw, HardwareAddr: mac},
			fdbEntry(dev, dst, mac))
	}
	return problems
}

// connectedNetworks are the networks of this node's addresses, both families: a host-gw next
// hop must be inside one of them.
func (o *Overlay) connectedNetworks() ([]netip.Prefix, error) {
	addrs, err := o.k.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := []netip.Prefix{}
	for _, ad := range addrs {
		if p, ok := netaddr.PrefixOf(ad.IPNet); ok && p.Bits() < p.Addr().BitLen() {
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// linkHolding finds the interface that carries the node's address: the overlay's underlay.
func (o *Overlay) linkHolding(a netip.Addr, f family) (netlink.Link, error) {
	addrs, err := o.k.AddrList(nil, f.Netlink())
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, ad := range addrs {
		if netaddr.AddrOf(ad.IP) == a {
			return o.k.LinkByIndex(ad.LinkIndex)
		}
	}
	return nil, fmt.Errorf("the node's address %s is on none of its interfaces: give the Node the address this node really has", a)
}

// vtepAddr is the node's address on its VXLAN device: the first address of its podCIDR, which
// no pod gets, so peers can name it as the next hop without any extra allocation.
func vtepAddr(cidr netip.Prefix) netip.Prefix {
	a := cidr.Masked().Addr()
	return netip.PrefixFrom(a, a.BitLen())
}

func ipv(f family) string {
	if f.Is6() {
		return "6"
	}
	return "4"
}
