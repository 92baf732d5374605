package loadbalancer

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Addresses is the part of netlink the announcer uses; *netlink.Handle has it.
type Addresses interface {
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	LinkByIndex(index int) (netlink.Link, error)
}

// announce puts exactly the given pool addresses on the interface that holds the node's
// address, so the node answers ARP and NDP for them, and takes off the pool addresses it no
// longer owns. Addresses outside the pools are never touched.
func (c *Controller) announce(nodeIP netip.Addr, mine []netip.Addr) error {
	if c.addrs == nil || !nodeIP.IsValid() {
		return nil
	}
	have, index, err := c.poolAddresses(nodeIP)
	if err != nil {
		return err
	}
	if index == 0 {
		return fmt.Errorf("the node's address %s is on none of its interfaces", nodeIP)
	}
	link, err := c.addrs.LinkByIndex(index)
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range mine {
		if _, ok := have[ip]; ok {
			delete(have, ip)
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}, Flags: unix.IFA_F_NODAD}
		if err := c.addrs.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("announce %s: %w", ip, err))
			continue
		}
		if c.tell != nil {
			errs = append(errs, c.tell(link.Attrs().Index, link.Attrs().HardwareAddr, ip))
		}
	}
	errs = append(errs, c.withdraw(have))
	return errors.Join(errs...)
}

// poolAddresses lists the pool addresses on the node's interfaces, and the index of the
// interface that holds nodeIP (0 if none does).
func (c *Controller) poolAddresses(nodeIP netip.Addr) (map[netip.Addr]netlink.Addr, int, error) {
	all, err := c.addrs.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, 0, fmt.Errorf("list addresses: %w", err)
	}
	index := 0
	have := map[netip.Addr]netlink.Addr{}
	for _, a := range all {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		if ip == nodeIP {
			index = a.LinkIndex
		}
		if inPools(ip, c.opts.Pools) {
			have[ip] = a
		}
	}
	return have, index, nil
}

// withdraw takes addresses off their interfaces.
func (c *Controller) withdraw(addrs map[netip.Addr]netlink.Addr) error {
	var errs []error
	for ip, a := range addrs {
		l, err := c.addrs.LinkByIndex(a.LinkIndex)
		if err == nil {
			err = c.addrs.AddrDel(l, &a)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stop announcing %s: %w", ip, err))
		}
	}
	return errors.Join(errs...)
}
