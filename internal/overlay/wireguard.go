package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/weftnet/weft/internal/netaddr"
)

// WireGuard is the node's WireGuard device as the overlay drives it; *wireguard.Device has it,
// and the unit tests use a fake.
type WireGuard interface {
	// Ensure makes the device if it is missing and returns its link index.
	Ensure(mtu int) (int, error)
	Peers() ([]wgtypes.Peer, error)
	// ConfigurePeers changes only the peers it names.
	ConfigurePeers([]wgtypes.PeerConfig) error
	Delete() error
}

// syncWireGuard makes the WireGuard device, its peers and weft's routes match the Nodes: each
// peer's podCIDRs are its allowed IPs and are routed into the device, so every packet to a pod
// on another node leaves this node encrypted. Peers are changed one by one, never replaced
// wholesale: a peer whose entry is unchanged keeps its session.
func (o *Overlay) syncWireGuard(l Local, peers []Peer) (Result, error) {
	var res Result
	var errs []error
	for _, f := range families {
		errs = append(errs, o.deleteDevice(f)) // VXLAN devices of a backend used before
	}
	ef, ok := endpointFamily(l)
	if !ok {
		return res, errors.Join(append(errs, errors.New("the Node has no InternalIP: WireGuard has no address to send from"))...)
	}
	parent, err := o.linkHolding(l.Underlay[int(ef.Family)], ef)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	res.MTU = parent.Attrs().MTU - wireGuardOverhead(ef)
	if l.MTU != 0 {
		res.MTU = l.MTU
	}
	index, err := o.ensureWireGuard(l, res.MTU)
	if err != nil {
		// Said on the Node too: without its device this node reaches no peer at all.
		res.Unreachable = append(res.Unreachable, err.Error())
		return res, errors.Join(append(errs, err)...)
	}
	want, routes, unreachable := planWireGuard(l, peers, ef, index)
	res.Unreachable = unreachable
	res.Peers = len(want)
	have, err := o.wg.Peers()
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	if err := o.wg.ConfigurePeers(peerChanges(have, want)); err != nil {
		errs = append(errs, err)
	}
	problems, err := o.syncRoutes(routes)
	res.Unreachable = append(res.Unreachable, problems...)
	return res, errors.Join(append(errs, err)...)
}

// ensureWireGuard makes the device and gives it the MTU, this node's address in each family
// (the first of its podCIDR, as on the VXLAN devices: traffic the node itself sends to a pod
// elsewhere leaves from it) and the up state.
func (o *Overlay) ensureWireGuard(l Local, mtu int) (int, error) {
	index, err := o.wg.Ensure(mtu)
	if err != nil {
		return 0, err
	}
	link, err := o.k.LinkByIndex(index)
	if err != nil {
		return 0, fmt.Errorf("find %s: %w", WireGuardDevice, err)
	}
	if link.Attrs().MTU != mtu {
		if err := o.k.LinkSetMTU(link, mtu); err != nil {
			return 0, fmt.Errorf("%s: set MTU %d: %w", WireGuardDevice, mtu, err)
		}
	}
	for _, f := range families {
		if cidr, ok := l.podCIDR(f); ok {
			if err := o.ensureAddr(link, f, vtepAddr(cidr)); err != nil {
				return 0, err
			}
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := o.k.LinkSetUp(link); err != nil {
			return 0, fmt.Errorf("%s: set up: %w", WireGuardDevice, err)
		}
	}
	return index, nil
}

// endpointFamily is the family WireGuard's own datagrams travel in: IPv4 when the node has an
// IPv4 address, as the path is then the same one vxlan and host-gw use.
func endpointFamily(l Local) (family, bool) {
	for _, f := range families {
		if l.Underlay[int(f.Family)].IsValid() {
			return f, true
		}
	}
	return family{}, false
}

func wireGuardOverhead(f family) int {
	if f.Is6() {
		return WireGuardOverheadV6
	}
	return WireGuardOverheadV4
}

// planWireGuard is the wanted peer entry and routes of every peer that runs WireGuard and
// publishes its key, with a sentence for each one that cannot be reached. The cluster's ranges
// are blackholed behind the peers' routes: a pod packet for a peer whose route is gone (the
// userspace device restarting with its agent) is dropped, never sent unencrypted to the router.
func planWireGuard(l Local, peers []Peer, ef family, index int) (map[wgtypes.Key]wgtypes.PeerConfig, []netlink.Route, []string) {
	want := map[wgtypes.Key]wgtypes.PeerConfig{}
	var routes []netlink.Route
	var problems []string
	for _, peer := range peers {
		switch {
		case peer.Backend == "":
			continue // its agent has not published yet; the Node update will bring it
		case peer.Backend != BackendWireGuard:
			problems = append(problems, fmt.Sprintf("node %s uses backend %s; every node must use wireguard", peer.Name, peer.Backend))
			continue
		case peer.WireGuardKey == (wgtypes.Key{}):
			problems = append(problems, fmt.Sprintf("node %s publishes no valid WireGuard public key (%s)", peer.Name, AnnotationWireGuardKey))
			continue
		case peer.WireGuardPort == 0:
			problems = append(problems, fmt.Sprintf("node %s publishes no valid WireGuard port (%s)", peer.Name, AnnotationWireGuardPort))
			continue
		}
		dst := peer.Public[int(ef.Family)]
		if !dst.IsValid() {
			problems = append(problems, fmt.Sprintf("node %s has no IPv%s address for WireGuard to send to", peer.Name, ipv(ef)))
			continue
		}
		if _, dup := want[peer.WireGuardKey]; dup {
			problems = append(problems, fmt.Sprintf("node %s publishes a WireGuard key another node has: give each node its own key", peer.Name))
			continue
		}
		pc := wgtypes.PeerConfig{PublicKey: peer.WireGuardKey, ReplaceAllowedIPs: true,
			Endpoint: net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(peer.WireGuardPort)))}
		for _, cidr := range peer.PodCIDRs {
			if _, ok := l.podCIDR(familyOf(cidr.Addr())); !ok {
				continue // this node has no pods of the family: nothing to send there
			}
			pc.AllowedIPs = append(pc.AllowedIPs, *netaddr.IPNet(cidr))
			routes = append(routes, netlink.Route{Dst: netaddr.IPNet(cidr), LinkIndex: index, Scope: netlink.SCOPE_LINK, Protocol: RouteProtocol})
		}
		if len(pc.AllowedIPs) > 0 {
			want[peer.WireGuardKey] = pc
		}
	}
	for _, cidr := range l.ClusterCIDRs {
		if _, ok := l.podCIDR(familyOf(cidr.Addr())); ok {
			routes = append(routes, netlink.Route{Dst: netaddr.IPNet(cidr.Masked()), Type: unix.RTN_BLACKHOLE, Protocol: RouteProtocol})
		}
	}
	return want, routes, problems
}

// peerChanges are the device changes that turn have into want: peers that left (or whose
// key was rotated away) are removed first, so their allowed IPs are free for the new entries;
// peers already as wanted are not touched, so their sessions go on.
func peerChanges(have []wgtypes.Peer, want map[wgtypes.Key]wgtypes.PeerConfig) []wgtypes.PeerConfig {
	var out []wgtypes.PeerConfig
	current := map[wgtypes.Key]wgtypes.Peer{}
	for _, p := range have {
		current[p.PublicKey] = p
		if _, ok := want[p.PublicKey]; !ok {
			out = append(out, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
		}
	}
	var changed []wgtypes.PeerConfig
	for k, pc := range want {
		if cur, ok := current[k]; ok && samePeer(cur, pc) {
			continue
		}
		changed = append(changed, pc)
	}
	slices.SortFunc(changed, func(a, b wgtypes.PeerConfig) int { return slices.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return append(out, changed...)
}

func samePeer(have wgtypes.Peer, want wgtypes.PeerConfig) bool {
	// The kernel may hand back an IPv4 endpoint as IPv4-mapped IPv6.
	if have.Endpoint == nil || unmapped(have.Endpoint.AddrPort()) != unmapped(want.Endpoint.AddrPort()) {
		return false
	}
	return slices.EqualFunc(prefixes(have.AllowedIPs), prefixes(want.AllowedIPs), func(a, b netip.Prefix) bool { return a == b })
}

func prefixes(nets []net.IPNet) []netip.Prefix {
	var out []netip.Prefix
	for i := range nets {
		if p, ok := netaddr.PrefixOf(&nets[i]); ok {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
