package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netaddr"
)

// ensureDevice makes the family's VXLAN device as wanted and returns its index. A device whose
// identity differs (VNI, port, local address, underlay, MAC) is re-created; one that only needs
// a new MTU or address is changed in place, so an agent restart disturbs nothing.
func (o *Overlay) ensureDevice(f family, parentIndex int, src netip.Addr, mtu int, mac net.HardwareAddr, addr netip.Prefix) (int, error) {
	want := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: f.device, MTU: mtu, HardwareAddr: mac},
		VxlanId:   VNI, VtepDevIndex: parentIndex, SrcAddr: net.IP(src.AsSlice()), Port: VXLANPort,
		Learning: false,
	}
	link, err := o.k.LinkByName(f.device)
	switch {
	case err == nil && !sameVXLAN(link, want):
		if err := o.k.LinkDel(link); err != nil {
			return 0, fmt.Errorf("re-create %s: %w", f.device, err)
		}
		link = nil
	case err != nil && !isNotFound(err):
		return 0, fmt.Errorf("find %s: %w", f.device, err)
	case err != nil:
		link = nil
	}
	if link == nil {
		if err := o.k.LinkAdd(want); err != nil {
			return 0, fmt.Errorf("create VXLAN device %s (VNI %d, UDP %d): %w", f.device, VNI, VXLANPort, err)
		}
		if link, err = o.k.LinkByName(f.device); err != nil {
			return 0, fmt.Errorf("find %s after creating it: %w", f.device, err)
		}
	}
	if link.Attrs().MTU != mtu {
		if err := o.k.LinkSetMTU(link, mtu); err != nil {
			return 0, fmt.Errorf("%s: set MTU %d: %w", f.device, mtu, err)
		}
	}
	if err := o.ensureAddr(link, f, addr); err != nil {
		return 0, err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := o.k.LinkSetUp(link); err != nil {
			return 0, fmt.Errorf("%s: set up: %w", f.device, err)
		}
	}
	return link.Attrs().Index, nil
}

func sameVXLAN(have netlink.Link, want *netlink.Vxlan) bool {
	v, ok := have.(*netlink.Vxlan)
	return ok && v.VxlanId == want.VxlanId && v.Port == want.Port && v.VtepDevIndex == want.VtepDevIndex &&
		v.SrcAddr.Equal(want.SrcAddr) && !v.Learning && bytes.Equal(v.HardwareAddr, want.HardwareAddr)
}

// ensureAddr leaves the device exactly one global address: its VXLAN address. No DAD: the
// address is this node's alone and must work at once.
func (o *Overlay) ensureAddr(link netlink.Link, f family, want netip.Prefix) error {
	addrs, err := o.k.AddrList(link, f.Netlink())
	if err != nil {
		return fmt.Errorf("%s: list addresses: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range addrs {
		p, _ := netaddr.PrefixOf(a.IPNet)
		switch {
		case p == want:
			found = true
		case p.Addr().IsLinkLocalUnicast():
		default:
			if err := o.k.AddrDel(link, &a); err != nil {
				return fmt.Errorf("%s: remove old address %s: %w", link.Attrs().Name, p, err)
			}
		}
	}
	if found {
		return nil
	}
	if err := o.k.AddrReplace(link, &netlink.Addr{IPNet: netaddr.IPNet(want), Flags: unix.IFA_F_NODAD}); err != nil {
		return fmt.Errorf("%s: add address %s: %w", link.Attrs().Name, want, err)
	}
	return nil
}

// deleteDevice removes the family's VXLAN device if it exists; its routes and entries go with it.
func (o *Overlay) deleteDevice(f family) error { return o.deleteLinkNamed(f.device) }

// deleteLinkNamed removes one of weft's devices if it exists.
func (o *Overlay) deleteLinkNamed(name string) error {
	link, err := o.k.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := o.k.LinkDel(link); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

func fdbEntry(dev int, dst netip.Addr, mac net.HardwareAddr) netlink.Neigh {
	return netlink.Neigh{LinkIndex: dev, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT, Flags: netlink.NTF_SELF,
		IP: net.IP(dst.AsSlice()), HardwareAddr: mac}
}

// syncNeighbours makes the device's permanent neighbour and FDB entries exactly the wanted ones.
func (o *Overlay) syncNeighbours(dev int, want []netlink.Neigh) error {
	var errs []error
	keep := map[string]bool{}
	for _, n := range want {
		keep[neighKey(n)] = true
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6, unix.AF_BRIDGE} {
		have, err := o.k.NeighList(dev, fam)
		if err != nil {
			return fmt.Errorf("list neighbours of device %d: %w", dev, err)
		}
		for _, n := range have {
			if n.State&netlink.NUD_PERMANENT == 0 && fam != unix.AF_BRIDGE {
				continue // learned by the kernel, not ours
			}
			if keep[neighKey(n)] {
				delete(keep, neighKey(n))
				continue
			}
			if err := o.k.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("remove stale entry %s %s: %w", n.IP, n.HardwareAddr, err))
			}
		}
	}
	for _, n := range want {
		if !keep[neighKey(n)] {
			continue // already there
		}
		if err := o.k.NeighSet(&n); err != nil {
			errs = append(errs, fmt.Errorf("entry %s %s: %w", n.IP, n.HardwareAddr, err))
		}
	}
	return errors.Join(errs...)
}

func neighKey(n netlink.Neigh) string {
	fam := n.Family
	if fam != unix.AF_BRIDGE {
		fam = 0 // neighbours of both families are keyed by their address
	}
	return fmt.Sprintf("%d %s %s", fam, netaddr.AddrOf(n.IP), n.HardwareAddr)
}
