// Package overlay connects pods across nodes. Backends take K3s's names: host-gw routes each
// peer's podCIDRs via the peer's node address (all nodes on one L2 segment); none leaves it to
// another CNI or the fabric. vxlan comes next.
package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

// RouteProtocol marks the routes weft owns, so a sync can find and remove stale ones without
// touching routes anybody else made ("W").
const RouteProtocol netlink.RouteProtocol = 0x57

// Routes is the kernel side of host-gw: list, add and delete routes in the main table.
type Routes interface {
	RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error)
	RouteReplace(route *netlink.Route) error
	RouteDel(route *netlink.Route) error
}

// HostGW routes every peer's podCIDRs through the peer's InternalIP of the same family.
type HostGW struct {
	routes Routes
}

// NewHostGW uses the given netlink handle (the node's namespace).
func NewHostGW(routes Routes) *HostGW { return &HostGW{routes: routes} }

// Desired is the set of routes the cluster asks for: peer podCIDR -> peer address.
func Desired(self string, nodes []*corev1.Node) (map[netip.Prefix]netip.Addr, []error) {
	want := map[netip.Prefix]netip.Addr{}
	var problems []error
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		for _, c := range n.Spec.PodCIDRs {
			cidr, err := netip.ParsePrefix(c)
			if err != nil {
				problems = append(problems, fmt.Errorf("node %s: podCIDR %q: %w", n.Name, c, err))
				continue
			}
			gw, ok := internalIP(n, cidr.Addr().Is4())
			if !ok {
				problems = append(problems, fmt.Errorf("node %s has podCIDR %s but no InternalIP of that family", n.Name, cidr))
				continue
			}
			want[cidr] = gw
		}
	}
	return want, problems
}

// Sync makes the kernel's weft routes exactly the desired ones: adds and replaces what is
// missing or wrong, removes what no node asks for (a node that left, also while the agent was down).
func (h *HostGW) Sync(self string, nodes []*corev1.Node) error {
	want, errs := Desired(self, nodes)
	have := map[netip.Prefix]netlink.Route{}
	for _, family := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, err := h.routes.RouteListFiltered(family, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return fmt.Errorf("list weft routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if p, ok := prefixOf(r.Dst); ok {
				have[p] = r
			}
		}
	}
	for cidr, gw := range want {
		if r, ok := have[cidr]; ok && r.Gw.Equal(net.IP(gw.AsSlice())) {
			continue
		}
		route := &netlink.Route{Dst: ipNet(cidr), Gw: net.IP(gw.AsSlice()), Protocol: RouteProtocol}
		if err := h.routes.RouteReplace(route); err != nil {
			// host-gw needs every peer on this node's L2 segment.
			errs = append(errs, fmt.Errorf("route %s via %s: %w (host-gw needs all nodes on one L2 segment; use --backend vxlan otherwise)", cidr, gw, err))
		}
	}
	for cidr, r := range have {
		if _, ok := want[cidr]; !ok {
			if err := h.routes.RouteDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("remove stale route %s: %w", cidr, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes every route weft made, for when the backend is switched off.
func (h *HostGW) Cleanup() error { return h.Sync("", nil) }

func internalIP(n *corev1.Node, v4 bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() == v4 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
