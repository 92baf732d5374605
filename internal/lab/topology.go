package lab

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/netns"
)

// buildTopology creates the lab's namespaces and wires them: a LAN bridge in a namespace of its
// own, the router, the control plane and the nodes on it, and with an external subnet, a host
// behind the router. Nothing is created in the host's own namespace: veth pairs are made inside
// the LAN namespace with their peer placed straight into the other namespace.
func buildTopology(p Plan, record func(netnsName string) error) error {
	for _, name := range p.NetNSNames() {
		if err := record(name); err != nil {
			return err
		}
		if err := netns.Create(name); err != nil {
			return err
		}
	}
	lan, err := openNS(p.LAN.NetNS)
	if err != nil {
		return err
	}
	defer lan.close()
	if err := lan.up("lo"); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
	if err := lan.h.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge br0 in %s: %w (the kernel needs bridge support)", p.LAN.NetNS, err)
	}
	if err := lan.up("br0"); err != nil {
		return err
	}
	// LinkAdd does not report the new index; read the bridge back to enslave ports to it.
	brLink, err := lan.h.LinkByName("br0")
	if err != nil {
		return fmt.Errorf("%s: find br0: %w", p.LAN.NetNS, err)
	}

	hosts := []Host{p.Router, p.ControlPlane}
	if p.Router2 != nil {
		hosts = append(hosts, *p.Router2)
	}
	for _, n := range p.Nodes {
		hosts = append(hosts, n.Host)
	}
	for _, h := range hosts {
		if err := attachToLAN(lan, brLink.Attrs().Index, h); err != nil {
			return err
		}
		gw := p.Router
		if h.Name == p.Router.Name || (p.Router2 != nil && h.Name == p.Router2.Name) {
			gw = Host{} // routers route; they need no default route
		}
		if err := configureHost(h, "eth0", LANv4, LANv6, gw); err != nil {
			return err
		}
	}
	for _, n := range p.Nodes {
		if err := addExternalIPs(n); err != nil {
			return err
		}
	}
	if err := enableForwarding(p.Router.NetNS); err != nil {
		return err
	}
	if p.External != nil {
		if err := buildBehind(p, p.Router, *p.External, ExternalV4, ExternalV6); err != nil {
			return err
		}
	}
	if p.Router2 != nil {
		if err := enableForwarding(p.Router2.NetNS); err != nil {
			return err
		}
		if err := buildBehind(p, *p.Router2, *p.Site, SiteV4, SiteV6); err != nil {
			return err
		}
	}
	return nil
}

// attachToLAN connects a host namespace to the LAN bridge; the LAN-side port is named after the host.
func attachToLAN(lan *nsHandle, bridgeIndex int, h Host) error {
	peer, err := vnetns.GetFromPath(netns.Path(h.NetNS))
	if err != nil {
		return fmt.Errorf("open %s: %w", h.NetNS, err)
	}
	defer peer.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: h.Name, MasterIndex: bridgeIndex},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(peer)),
	}
	if err := lan.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s <-> %s/eth0: %w (the kernel needs veth support)", h.Name, h.NetNS, err)
	}
	return lan.up(h.Name)
}

// buildBehind puts a host on a subnet of its own behind a router's second interface (eth1,
// the subnet's first address): 192.168.2.10 behind the router, 192.168.3.10 behind router2.
func buildBehind(p Plan, router, host Host, v4, v6 netip.Prefix) error {
	r, err := openNS(router.NetNS)
	if err != nil {
		return err
	}
	defer r.close()
	h, err := vnetns.GetFromPath(netns.Path(host.NetNS))
	if err != nil {
		return fmt.Errorf("open %s: %w", host.NetNS, err)
	}
	defer h.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "eth1"},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(h)),
	}
	if err := r.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s/eth1 <-> %s/eth0: %w", router.NetNS, host.NetNS, err)
	}
	routerSide := Host{Name: router.Name, NetNS: router.NetNS, IPv4: hostAddr(v4, 1)}
	if p.HasIPv6() {
		routerSide.IPv6 = hostAddr(v6, 1)
	}
	if err := configureHost(routerSide, "eth1", v4, v6, Host{}); err != nil {
		return err
	}
	return configureHost(host, "eth0", v4, v6, routerSide)
}

// addExternalIPs puts a node's ExternalIPs on its eth0, on the LAN's second subnet.
func addExternalIPs(n Node) error {
	if len(n.ExternalIPs) == 0 {
		return nil
	}
	ns, err := openNS(n.NetNS)
	if err != nil {
		return err
	}
	defer ns.close()
	link, err := ns.link("eth0")
	if err != nil {
		return err
	}
	for _, a := range n.ExternalIPs {
		pub := PublicV4
		if a.Is6() {
			pub = PublicV6
		}
		addr := &netlink.Addr{IPNet: netaddr.IPNet(netip.PrefixFrom(a, pub.Bits())), Flags: unix.IFA_F_NODAD}
		if err := ns.h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("%s: add ExternalIP %s: %w", n.NetNS, addr.IPNet, err)
		}
	}
	return nil
}

// configureHost brings up lo and the interface, assigns the host's addresses and, when gw is
// set, default routes through it. IPv6 addresses skip duplicate address detection so they are
// usable at once.
func configureHost(h Host, ifname string, v4, v6 netip.Prefix, gw Host) error {
	ns, err := openNS(h.NetNS)
	if err != nil {
		return err
	}
	defer ns.close()
	if err := ns.up("lo"); err != nil {
		return err
	}
	if err := ns.up(ifname); err != nil {
		return err
	}
	link, err := ns.link(ifname)
	if err != nil {
		return err
	}
	for _, a := range []struct {
		ip, gw netip.Addr
		net    netip.Prefix
	}{{h.IPv4, gw.IPv4, v4}, {h.IPv6, gw.IPv6, v6}} {
		if !a.ip.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: netaddr.IPNet(netip.PrefixFrom(a.ip, a.net.Bits()))}
		if a.ip.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := ns.h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("%s: add %s to %s: %w", h.NetNS, addr.IPNet, ifname, err)
		}
		if a.gw.IsValid() {
			route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(a.gw.AsSlice())}
			if err := ns.h.RouteAdd(route); err != nil {
				return fmt.Errorf("%s: default route via %s: %w", h.NetNS, a.gw, err)
			}
		}
	}
	return nil
}

// addStaticRoute adds the route to a subnet only the nodes route to: the external subnet via the router, on eth0.
func addStaticRoute(nsName string, dst netip.Prefix, via netip.Addr) error {
	ns, err := openNS(nsName)
	if err != nil {
		return err
	}
	defer ns.close()
	link, err := ns.link("eth0")
	if err != nil {
		return err
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: netaddr.IPNet(dst), Gw: net.IP(via.AsSlice())}
	if err := ns.h.RouteAdd(route); err != nil {
		return fmt.Errorf("%s: route %s via %s: %w", nsName, dst, via, err)
	}
	return nil
}

// enableForwarding turns on IPv4 and IPv6 forwarding inside one lab namespace.
func enableForwarding(nsName string) error {
	return netns.Do(netns.Path(nsName), func() error {
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
				return fmt.Errorf("%s: set %s: %w", nsName, filepath.Base(f), err)
			}
		}
		return nil
	})
}

// nsHandle is a netlink socket opened inside one namespace.
type nsHandle struct {
	name string
	h    *netlink.Handle
}

func openNS(name string) (*nsHandle, error) {
	ns, err := vnetns.GetFromPath(netns.Path(name))
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return &nsHandle{name: name, h: h}, nil
}

func (n *nsHandle) close() { n.h.Close() }

// link finds a device of the namespace by name.
func (n *nsHandle) link(ifname string) (netlink.Link, error) {
	link, err := n.h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%s: find %s: %w", n.name, ifname, err)
	}
	return link, nil
}

func (n *nsHandle) up(ifname string) error {
	link, err := n.link(ifname)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("%s: set %s up: %w", n.name, ifname, err)
	}
	return nil
}
