// Package netaddr holds what every feature needs to know about IP address families, and the
// conversions between the standard library's two address types. Every feature is dual-stack,
// so each one loops over the families and spells them for nftables, netlink and its own names
// ("service-ips-v4"); net/netip is what weft computes with, but netlink speaks net.IP and
// net.IPNet. Doing both here keeps every spelling in one place. It imports no client-go, so
// the CNI plugin can use it and stay quick to exec.
package netaddr

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Family is an IP address family. Its value is also its index in per-family arrays: IPv4 0,
// IPv6 1, the order weft lists families in everywhere.
type Family int

const (
	IPv4 Family = iota
	IPv6
)

// Families are both families, IPv4 first.
var Families = [2]Family{IPv4, IPv6}

// Of is a's family. An IPv4-mapped IPv6 address is IPv6, as the kernel sees it; unmap it first
// (AddrOf does) where it stands for IPv4.
func Of(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// OfPrefix is p's family.
func OfPrefix(p netip.Prefix) Family { return Of(p.Addr()) }

// Is6 says whether f is IPv6.
func (f Family) Is6() bool { return f == IPv6 }

// Suffix names per-family objects: "v4", "v6" (sets such as cluster-v4, devices such as weft-v6.1).
func (f Family) Suffix() string { return [...]string{"v4", "v6"}[f] }

// Match is nftables' word for the family in matches and NAT statements: "ip", "ip6".
func (f Family) Match() string { return [...]string{"ip", "ip6"}[f] }

// AddrType is nftables' type of a set of the family's addresses: "ipv4_addr", "ipv6_addr".
func (f Family) AddrType() string { return [...]string{"ipv4_addr", "ipv6_addr"}[f] }

// Netlink is the family as netlink takes it (netlink.FAMILY_V4, netlink.FAMILY_V6).
func (f Family) Netlink() int { return [...]int{unix.AF_INET, unix.AF_INET6}[f] }

// String is "IPv4" or "IPv6", for messages.
func (f Family) String() string { return [...]string{"IPv4", "IPv6"}[f] }

// IPNet is p as net.IPNet, for netlink.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// PrefixOf is n as a prefix: an IPv4 network in 16-byte form comes back as IPv4. It reports
// false for nil or a malformed n.
func PrefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false // a non-canonical mask
	}
	a = a.Unmap()
	if bits == 128 && a.Is4() {
		ones -= 96
	}
	p := netip.PrefixFrom(a, ones)
	return p, p.IsValid()
}

// AddrOf is ip as an address, IPv4 in 16-byte form as IPv4; the zero Addr for nil or a
// malformed ip.
func AddrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
