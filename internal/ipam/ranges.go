package ipam

import "net/netip"

// span is one pod CIDR seen as the addresses a pod may get: every address of the prefix
// except the network address, the gateway (the first host address, owned by the bridge)
// and, for IPv4, the broadcast address.
type span struct {
	prefix  netip.Prefix
	network netip.Addr
	gateway netip.Addr
	last    netip.Addr
}

func newSpan(p netip.Prefix) span {
	p = p.Masked()
	network := p.Addr()
	return span{prefix: p, network: network, gateway: network.Next(), last: lastAddr(p)}
}

// usable reports whether a pod may hold a.
func (s span) usable(a netip.Addr) bool {
	if !s.prefix.Contains(a) || a == s.network || a == s.gateway {
		return false
	}
	return !(a.Is4() && a == s.last)
}

// next is the address after a, wrapping from the end of the prefix to its start.
func (s span) next(a netip.Addr) netip.Addr {
	n := a.Next()
	if !n.IsValid() || !s.prefix.Contains(n) {
		return s.network
	}
	return n
}

// scan walks the prefix once, starting just after from, and returns the first usable
// address for which free is true. The walk is bounded by the prefix size but in practice by
// the number of taken addresses, since every other address ends it.
func (s span) scan(from netip.Addr, free func(netip.Addr) bool) (netip.Addr, bool) {
	if !s.prefix.Contains(from) {
		from = s.gateway
	}
	start := s.next(from)
	for a := start; ; {
		if s.usable(a) && free(a) {
			return a, true
		}
		a = s.next(a)
		if a == start {
			return netip.Addr{}, false
		}
	}
}

// lastAddr is the highest address of p: every host bit set.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Gateway is the address the bridge holds in p: the first host address.
func Gateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
