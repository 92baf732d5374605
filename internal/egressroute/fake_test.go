package egressroute

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeNetlink is a node's routing as far as this package sees it: links, what `ip route get`
// answers, routes in every table and the policy rules.
type fakeNetlink struct {
	links    []netlink.Link
	routeGet map[string]netlink.Route // by next-hop address
	routes   []netlink.Route
	rules    []netlink.Rule
	failAdd  error // RouteReplace and RuleAdd fail with it
	changes  []string
}

func newFakeNetlink() *fakeNetlink {
	f := &fakeNetlink{routeGet: map[string]netlink.Route{}}
	f.addLink(1, "lo", true)
	f.addLink(2, "eth0", true)
	f.addLink(3, "eth1", true)
	f.addLink(4, "eth2", false)
	f.routeGet["192.168.1.1"] = netlink.Route{LinkIndex: 2, Type: unix.RTN_UNICAST}
	f.routeGet["192.168.4.1"] = netlink.Route{LinkIndex: 3, Type: unix.RTN_UNICAST}
	f.routeGet["192.168.9.1"] = netlink.Route{LinkIndex: 2, Gw: net.ParseIP("192.168.1.1"), Type: unix.RTN_UNICAST}
	f.routeGet["192.168.1.11"] = netlink.Route{LinkIndex: 1, Type: unix.RTN_LOCAL}
	f.routeGet["fd00:4::1"] = netlink.Route{LinkIndex: 3, Type: unix.RTN_UNICAST}
	return f
}

func (f *fakeNetlink) addLink(index int, name string, up bool) {
	attrs := netlink.NewLinkAttrs()
	attrs.Index, attrs.Name = index, name
	if up {
		attrs.Flags = net.FlagUp
	}
	f.links = append(f.links, &netlink.Device{LinkAttrs: attrs})
}

func (f *fakeNetlink) LinkByName(name string) (netlink.Link, error) {
	for _, l := range f.links {
		if l.Attrs().Name == name {
			return l, nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (f *fakeNetlink) LinkByIndex(index int) (netlink.Link, error) {
	for _, l := range f.links {
		if l.Attrs().Index == index {
			return l, nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (f *fakeNetlink) RouteGet(dst net.IP) ([]netlink.Route, error) {
	if r, ok := f.routeGet[dst.String()]; ok {
		return []netlink.Route{r}, nil
	}
	return nil, unix.ENETUNREACH
}

// RouteListFiltered follows the real handle: without RT_FILTER_TABLE only the main table,
// with table 0 every table.
func (f *fakeNetlink) RouteListFiltered(family int, filter *netlink.Route, mask uint64) ([]netlink.Route, error) {
	var out []netlink.Route
	for _, r := range f.routes {
		switch {
		case r.Family != family,
			mask&netlink.RT_FILTER_TABLE == 0 && r.Table != unix.RT_TABLE_MAIN,
			mask&netlink.RT_FILTER_TABLE != 0 && filter.Table != 0 && r.Table != filter.Table,
			mask&netlink.RT_FILTER_PROTOCOL != 0 && r.Protocol != filter.Protocol:
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func sameDst(a, b netlink.Route) bool {
	return a.Family == b.Family && a.Table == b.Table && a.Dst.String() == b.Dst.String()
}

func (f *fakeNetlink) RouteReplace(route *netlink.Route) error {
	if f.failAdd != nil {
		return f.failAdd
	}
	f.changes = append(f.changes, "replace "+routeString(*route))
	f.routes = slices.DeleteFunc(f.routes, func(r netlink.Route) bool { return sameDst(r, *route) })
	f.routes = append(f.routes, *route)
	return nil
}

func (f *fakeNetlink) RouteDel(route *netlink.Route) error {
	n := len(f.routes)
	f.routes = slices.DeleteFunc(f.routes, func(r netlink.Route) bool { return sameDst(r, *route) })
	if len(f.routes) == n {
		return unix.ESRCH
	}
	f.changes = append(f.changes, "del "+routeString(*route))
	return nil
}

func (f *fakeNetlink) RuleListFiltered(family int, filter *netlink.Rule, mask uint64) ([]netlink.Rule, error) {
	var out []netlink.Rule
	for _, r := range f.rules {
		if r.Family == family && (mask&netlink.RT_FILTER_PRIORITY == 0 || r.Priority == filter.Priority) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeNetlink) RuleAdd(rule *netlink.Rule) error {
	if f.failAdd != nil {
		return f.failAdd
	}
	for _, r := range f.rules {
		if ruleString(r) == ruleString(*rule) {
			return unix.EEXIST
		}
	}
	f.changes = append(f.changes, "add "+ruleString(*rule))
	f.rules = append(f.rules, *rule)
	return nil
}

func (f *fakeNetlink) RuleDel(rule *netlink.Rule) error {
	n := len(f.rules)
	f.rules = slices.DeleteFunc(f.rules, func(r netlink.Rule) bool { return ruleString(r) == ruleString(*rule) })
	if len(f.rules) == n {
		return unix.ENOENT
	}
	f.changes = append(f.changes, "del "+ruleString(*rule))
	return nil
}

func routeString(r netlink.Route) string {
	s := fmt.Sprintf("table %d %s", r.Table, r.Dst)
	if r.Gw != nil {
		s += " via " + r.Gw.String()
	}
	return fmt.Sprintf("%s link %d proto %d", s, r.LinkIndex, r.Protocol)
}

func ruleString(r netlink.Rule) string {
	mask := "none"
	if r.Mask != nil {
		mask = fmt.Sprintf("0x%x", *r.Mask)
	}
	return fmt.Sprintf("family %d prio %d fwmark 0x%x/%s lookup %d proto %d", r.Family, r.Priority, r.Mark, mask, r.Table, r.Protocol)
}

// state is the fake's routes and rules as sorted lines, for comparing.
func (f *fakeNetlink) state() string {
	var lines []string
	for _, r := range f.routes {
		lines = append(lines, "route "+routeString(r))
	}
	for _, r := range f.rules {
		lines = append(lines, "rule "+ruleString(r))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// fakeSysctl is /proc/sys/net as a map.
type fakeSysctl map[string]string

func (f fakeSysctl) Get(name string) (string, error) {
	v, ok := f[name]
	if !ok {
		return "", fmt.Errorf("no sysctl %s", name)
	}
	return v, nil
}

func (f fakeSysctl) Set(name, value string) error {
	if _, ok := f[name]; !ok {
		return fmt.Errorf("no sysctl %s", name)
	}
	f[name] = value
	return nil
}
