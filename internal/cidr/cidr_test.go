package cidr

import (
	"net/netip"
	"testing"
)

func TestJoin(t *testing.T) {
	ps := []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	if got := Join(ps); got != "10.42.0.0/16,2001:cafe:42::/56" {
		t.Errorf("Join = %q", got)
	}
	if got := Join(nil); got != "" {
		t.Errorf("Join(nil) = %q, want empty", got)
	}
}
