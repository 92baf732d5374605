package cni

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/nlretry"
)

// LinuxKernel is the Kernel of a real node. Its netlink sockets open in the namespace of the
// calling thread, so calls made inside netns.Do act on the pod.
type LinuxKernel struct{}

var _ Kernel = LinuxKernel{}

func (LinuxKernel) EnsureBridge(b Bridge) (Link, error) {
	link, err := netlink.LinkByName(b.Name)
	if isNotFound(err) {
		br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
		br.Name = b.Name
		br.MTU = b.MTU
		br.Flags = net.FlagUp
		// A fixed MAC keeps the bridge's address from following its lowest port's, which
		// would change whenever pods come and go.
		br.HardwareAddr = randomMAC()
		err = netlink.LinkAdd(br)
		if err != nil && !errors.Is(err, unix.EEXIST) { // another ADD may have won the race
			return Link{}, fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
		if err == nil && slices.ContainsFunc(b.Gateways, func(p netip.Prefix) bool { return p.Addr().Is6() }) {
			// The node may default new links to IPv6 off.
			if err := writeSysctl("/proc/sys/net/ipv6/conf/"+b.Name+"/disable_ipv6", "0"); err != nil {
				return Link{}, err
			}
		}
		link, err = netlink.LinkByName(b.Name)
	}
	if err != nil {
		return Link{}, fmt.Errorf("bridge %s: %w", b.Name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return Link{}, fmt.Errorf("%s is a %s, not a bridge: delete it or set \"bridge\" to another name", b.Name, link.Type())
	}
	if link.Attrs().MTU != b.MTU {
		if err := netlink.LinkSetMTU(link, b.MTU); err != nil {
			return Link{}, fmt.Errorf("set MTU of bridge %s: %w", b.Name, err)
		}
	}
	for _, gw := range b.Gateways {
		addr := &netlink.Addr{IPNet: netaddr.IPNet(gw)}
		if gw.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD // usable at once: pods route through it right away
		}
		if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return Link{}, fmt.Errorf("add gateway %s to bridge %s: %w", gw, b.Name, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return Link{}, fmt.Errorf("bring bridge %s up: %w", b.Name, err)
		}
	}
	return linkOf(link), nil
}

func (LinuxKernel) PodHasLink(nsPath, ifName string) (bool, error) {
	var found bool
	err := netns.Do(nsPath, func() error {
		_, err := netlink.LinkByName(ifName)
		if isNotFound(err) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

func (LinuxKernel) SetupPod(p Pod) (host, pod Link, err error) {
	br, err := netlink.LinkByName(p.Bridge)
	if err != nil {
		return host, pod, fmt.Errorf("bridge %s: %w", p.Bridge, err)
	}
	nsFile, err := os.Open(p.Netns)
	if err != nil {
		return host, pod, fmt.Errorf("open CNI_NETNS: %w", err)
	}
	defer nsFile.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.NewLinkAttrs(),
		PeerName:      p.IfName,
		PeerNamespace: netlink.NsFd(nsFile.Fd()),
		PeerMTU:       uint32(p.MTU),
	}
	veth.Name = p.HostName
	veth.MTU = p.MTU
	veth.MasterIndex = br.Attrs().Index
	veth.Flags = net.FlagUp
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return host, pod, fmt.Errorf("create veth %s with peer %s: %w", p.HostName, p.IfName, ErrLinkExists)
		}
		return host, pod, fmt.Errorf("create veth %s with peer %s: %w", p.HostName, p.IfName, err)
	}
	hostLink, err := netlink.LinkByName(p.HostName)
	if err != nil {
		return host, pod, fmt.Errorf("find veth %s: %w", p.HostName, err)
	}
	if err := netlink.LinkSetHairpin(hostLink, p.Hairpin); err != nil {
		return host, pod, fmt.Errorf("set hairpin mode on %s: %w", p.HostName, err)
	}
	host = linkOf(hostLink)
	err = netns.Do(p.Netns, func() error {
		var err error
		pod, err = configurePod(p)
		return err
	})
	return host, pod, err
}

// configurePod runs inside the pod's namespace.
func configurePod(p Pod) (Link, error) {
	link, err := netlink.LinkByName(p.IfName)
	if err != nil {
		return Link{}, fmt.Errorf("find %s in the pod: %w", p.IfName, err)
	}
	if slices.ContainsFunc(p.Addrs, func(a netip.Prefix) bool { return a.Addr().Is6() }) {
		// A fresh namespace may start with IPv6 off, and DAD would hold the address back for a
		// second or more while the pod's first packets wait.
		for _, kv := range [][2]string{{"disable_ipv6", "0"}, {"accept_dad", "0"}} {
			if err := writeSysctl("/proc/sys/net/ipv6/conf/"+p.IfName+"/"+kv[0], kv[1]); err != nil {
				return Link{}, err
			}
		}
	}
	for _, a := range p.Addrs {
		addr := &netlink.Addr{IPNet: netaddr.IPNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return Link{}, fmt.Errorf("add %s to %s in the pod: %w", a, p.IfName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return Link{}, fmt.Errorf("bring %s up in the pod: %w", p.IfName, err)
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			return Link{}, fmt.Errorf("bring lo up in the pod: %w", err)
		}
	}
	for _, gw := range p.Gateways {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: defaultDst(gw), Gw: gw.AsSlice()}
		if err := netlink.RouteAdd(r); err != nil {
			return Link{}, fmt.Errorf("add default route via %s in the pod: %w", gw, err)
		}
	}
	return linkOf(link), nil
}

func (LinuxKernel) CheckPod(p Pod) error {
	host, err := netlink.LinkByName(p.HostName)
	if err != nil {
		return fmt.Errorf("host veth %s: %w", p.HostName, err)
	}
	br, err := netlink.LinkByName(p.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", p.Bridge, err)
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		return fmt.Errorf("host veth %s is not attached to bridge %s", p.HostName, p.Bridge)
	}
	return netns.Do(p.Netns, func() error {
		link, err := netlink.LinkByName(p.IfName)
		if err != nil {
			return fmt.Errorf("%s in the pod: %w", p.IfName, err)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s in the pod is down", p.IfName)
		}
		addrs, err := nlretry.Dump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
		if err != nil {
			return fmt.Errorf("list addresses of %s in the pod: %w", p.IfName, err)
		}
		for _, want := range p.Addrs {
			if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { p, _ := netaddr.PrefixOf(a.IPNet); return p == want }) {
				return fmt.Errorf("%s in the pod lacks address %s", p.IfName, want)
			}
		}
		routes, err := nlretry.Dump(func() ([]netlink.Route, error) { return netlink.RouteList(link, netlink.FAMILY_ALL) })
		if err != nil {
			return fmt.Errorf("list routes of %s in the pod: %w", p.IfName, err)
		}
		for _, gw := range p.Gateways {
			if !slices.ContainsFunc(routes, func(r netlink.Route) bool { return isDefault(r.Dst) && netaddr.AddrOf(r.Gw) == gw }) {
				return fmt.Errorf("the pod lacks its default route via %s on %s", gw, p.IfName)
			}
		}
		return nil
	})
}

func (LinuxKernel) DeleteLink(name string) (bool, error) {
	link, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return false, nil
	}
	if err == nil {
		err = netlink.LinkDel(link)
	}
	// The link may vanish in between, with its pod's namespace.
	if err != nil && !isNotFound(err) && !errors.Is(err, unix.ENODEV) {
		return true, fmt.Errorf("delete %s: %w", name, err)
	}
	return true, nil
}

func (LinuxKernel) DeletePodLink(nsPath, ifName string) error {
	entered := false
	err := netns.Do(nsPath, func() error {
		entered = true
		link, err := netlink.LinkByName(ifName)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if link.Type() != "veth" {
			return nil // not ours to delete
		}
		return netlink.LinkDel(link)
	})
	// A namespace that is gone (or whose path no longer holds one) took the link with it.
	if !entered && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL)) {
		return nil
	}
	return err
}

func (LinuxKernel) BridgePorts(bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	links, err := nlretry.Dump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var names []string
	for _, l := range links {
		if l.Type() == "veth" && l.Attrs().MasterIndex == br.Attrs().Index {
			names = append(names, l.Attrs().Name)
		}
	}
	return names, nil
}

func writeSysctl(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s: %w", strings.TrimPrefix(path, "/proc/sys/"), err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

func linkOf(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Name: a.Name, MAC: a.HardwareAddr.String(), MTU: a.MTU, Index: a.Index}
}

func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	rand.Read(mac)
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}
