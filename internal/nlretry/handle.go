package nlretry

import "github.com/vishvananda/netlink"

// Handle is a netlink handle whose dumps are retried with Dump; everything else is the
// handle's own. Features put it behind their small Kernel interfaces, so each of them talks to
// the real kernel the same way and none acts on half a listing.
type Handle struct{ *netlink.Handle }

// LinkList lists links.
func (h Handle) LinkList() ([]netlink.Link, error) { return Dump(h.Handle.LinkList) }

// AddrList lists link's addresses of family (every link's for nil).
func (h Handle) AddrList(link netlink.Link, family int) ([]netlink.Addr, error) {
	return Dump(func() ([]netlink.Addr, error) { return h.Handle.AddrList(link, family) })
}

// RouteListFiltered lists the routes of family that match filter in the fields mask names.
func (h Handle) RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error) {
	return Dump(func() ([]netlink.Route, error) { return h.Handle.RouteListFiltered(family, filter, mask) })
}

// RuleListFiltered lists the policy rules of family that match filter in the fields mask names.
func (h Handle) RuleListFiltered(family int, filter *netlink.Rule, mask uint64) ([]netlink.Rule, error) {
	return Dump(func() ([]netlink.Rule, error) { return h.Handle.RuleListFiltered(family, filter, mask) })
}

// NeighList lists the neighbours of family on linkIndex (every link's for 0).
func (h Handle) NeighList(linkIndex, family int) ([]netlink.Neigh, error) {
	return Dump(func() ([]netlink.Neigh, error) { return h.Handle.NeighList(linkIndex, family) })
}
