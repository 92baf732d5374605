package overlay

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/netaddr"
)

// syncRoutes makes weft's routes in the main table exactly the wanted ones: adds and replaces
// what is missing or different, removes what no peer asks for (a node that left, also while the
// agent was down, or the routes of a backend no longer in use). A next hop the kernel refuses as
// unreachable is a peer problem, reported, not a failed sync.
func (o *Overlay) syncRoutes(want []netlink.Route) ([]string, error) {
	have := map[netip.Prefix]netlink.Route{}
	for _, f := range families {
		routes, err := o.k.RouteListFiltered(f.Netlink(), &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, fmt.Errorf("list weft routes: %w", err)
		}
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if p, ok := netaddr.PrefixOf(r.Dst); ok {
				have[p] = r
			}
		}
	}
	var problems []string
	var errs []error
	wanted := map[netip.Prefix]bool{}
	for _, r := range want {
		dst, _ := netaddr.PrefixOf(r.Dst)
		wanted[dst] = true
		if cur, ok := have[dst]; ok && sameRoute(cur, r) {
			continue
		}
		if err := o.k.RouteReplace(&r); errors.Is(err, unix.ENETUNREACH) {
			problems = append(problems, fmt.Sprintf("route %s via %s: the next hop is not on a connected network", dst, r.Gw))
		} else if err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", dst, r.Gw, err))
		}
	}
	for dst, r := range have {
		if !wanted[dst] {
			if err := o.k.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("remove stale route %s: %w", dst, err))
			}
		}
	}
	return problems, errors.Join(errs...)
}

func sameRoute(have, want netlink.Route) bool {
	if !have.Gw.Equal(want.Gw) {
		return false
	}
	return want.LinkIndex == 0 || have.LinkIndex == want.LinkIndex
}
