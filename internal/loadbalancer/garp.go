package loadbalancer

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// tellNeighbours makes hosts on the link update their caches for ip to this node's MAC at
// once: a gratuitous ARP request for IPv4, an unsolicited Neighbor Advertisement with the
// override flag for IPv6. Without it a LoadBalancer address that moved keeps going to the
// old node until the neighbours' entries expire.
func tellNeighbours(ifindex int, mac net.HardwareAddr, ip netip.Addr) error {
	if len(mac) != 6 {
		return fmt.Errorf("interface %d has no Ethernet address", ifindex)
	}
	if ip.Is4() {
		return gratuitousARP(ifindex, mac, ip)
	}
	return unsolicitedNA(ifindex, mac, ip)
}

func gratuitousARP(ifindex int, mac net.HardwareAddr, ip netip.Addr) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("gratuitous ARP for %s: %w", ip, err)
	}
	defer unix.Close(fd)
	broadcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	frame := make([]byte, 0, 42)
	frame = append(frame, broadcast...)
	frame = append(frame, mac...)
	frame = binary.BigEndian.AppendUint16(frame, unix.ETH_P_ARP)
	// Ethernet, IPv4, 6-byte and 4-byte addresses, a request whose sender and target
	// address are both the announced one.
	frame = append(frame, 0, 1, 0x08, 0, 6, 4, 0, 1)
	addr := ip.As4()
	frame = append(frame, mac...)
	frame = append(frame, addr[:]...)
	frame = append(frame, 0, 0, 0, 0, 0, 0)
	frame = append(frame, addr[:]...)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], broadcast)
	if err := unix.Sendto(fd, frame, 0, to); err != nil {
		return fmt.Errorf("gratuitous ARP for %s: %w", ip, err)
	}
	return nil
}

func unsolicitedNA(ifindex int, mac net.HardwareAddr, ip netip.Addr) error {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	if err != nil {
		return fmt.Errorf("unsolicited neighbour advertisement for %s: %w", ip, err)
	}
	defer unix.Close(fd)
	// Receivers accept neighbour discovery only with hop limit 255 (RFC 4861).
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
		return err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: ip.As16(), ZoneId: uint32(ifindex)}); err != nil {
		return fmt.Errorf("unsolicited neighbour advertisement from %s: %w", ip, err)
	}
	target := ip.As16()
	msg := []byte{136, 0, 0, 0, 0x20, 0, 0, 0} // type Neighbor Advertisement, flag Override; the kernel fills the checksum
	msg = append(msg, target[:]...)
	msg = append(msg, 2, 1) // option: target link-layer address, 8 bytes
	msg = append(msg, mac...)
	to := &unix.SockaddrInet6{Addr: netip.MustParseAddr("ff02::1").As16(), ZoneId: uint32(ifindex)}
	if err := unix.Sendto(fd, msg, 0, to); err != nil {
		return fmt.Errorf("unsolicited neighbour advertisement for %s: %w", ip, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
