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
