// Package cidr holds the small conversions between address ranges and their text that flags,
// manifests and messages share.
package cidr

import (
	"net/netip"
	"strings"
)

// Join writes ranges as Kubernetes flags take them: "10.42.0.0/16,2001:cafe:42::/56".
func Join(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Last is the highest address of p: every host bit set.
func Last(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
