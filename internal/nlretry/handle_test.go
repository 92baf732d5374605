package nlretry

import (
	"testing"

	"github.com/vishvananda/netlink"
)

// TestHandle lists through a real handle (reading only): each dump reaches the kernel, and the
// loopback link and its address are there in every network namespace.
func TestHandle(t *testing.T) {
	nh, err := netlink.NewHandle()
	if err != nil {
		t.Skipf("no netlink here: %v", err)
	}
	defer nh.Close()
	h := Handle{Handle: nh}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	lo := -1
	for _, l := range links {
		if l.Attrs().Name == "lo" {
			lo = l.Attrs().Index
		}
	}
	if lo < 0 {
		t.Fatalf("no lo among %d links", len(links))
	}
	if addrs, err := h.AddrList(nil, netlink.FAMILY_V4); err != nil || len(addrs) == 0 {
		t.Errorf("AddrList: %d addresses, %v", len(addrs), err)
	}
	if _, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{}, 0); err != nil {
		t.Errorf("RouteListFiltered: %v", err)
	}
	if _, err := h.RuleListFiltered(netlink.FAMILY_V4, nil, 0); err != nil {
		t.Errorf("RuleListFiltered: %v", err)
	}
	if _, err := h.NeighList(lo, netlink.FAMILY_ALL); err != nil {
		t.Errorf("NeighList: %v", err)
	}
}
