package egressroute

import (
	"errors"
	"fmt"
	"net"
	"path"

	"github.com/vishvananda/netlink"
	"k8s.io/utils/ptr"

	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
)

type routeKey struct{ table, family int }

// wantRoute is a ready plan's route for one family: the default route of the slot's table,
// through the next hop or straight out of the link.
func wantRoute(p *plan, fi int) *netlink.Route {
	bits := 32
	if fi == 1 {
		bits = 128
	}
	r := &netlink.Route{
		Family: netaddr.Family(fi).Netlink(), Table: tableOf(p.slot), LinkIndex: p.hop.link, Protocol: RouteProtocol,
		Dst: &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)},
	}
	if p.hop.gw.IsValid() {
		r.Gw = net.IP(p.hop.gw.AsSlice())
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}

// wantRule sends packets with the slot's mark to the slot's table. It matches the slot bits
// only, whatever the keep-source bit says.
func wantRule(p *plan, fi int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family, r.Priority, r.Table = netaddr.Family(fi).Netlink(), RulePriority, tableOf(p.slot)
	r.Mark, r.Mask, r.Protocol = markOf(p.slot, false), ptr.To(fwmark.RouteSlotMask), uint8(RouteProtocol)
	return r
}

// routed are the (plan, family) pairs that need a table and a rule: ready plans whose next hop
// is not this node itself.
func routed(plans []*plan, f func(p *plan, fi int)) {
	for _, p := range plans {
		for fi := range netaddr.Families {
			if p.entry.Ready && !p.hop.local && len(p.dsts[fi]) > 0 {
				f(p, fi)
			}
		}
	}
}

// ours lists the routes and rules this package made: protocol and priority narrow the dump,
// the table range decides (the overlay's routes carry the same protocol in the main table).
func ours(nl Netlink) (map[routeKey]netlink.Route, []netlink.Rule, error) {
	routes := map[routeKey]netlink.Route{}
	var rules []netlink.Rule
	for _, f := range netaddr.Families {
		fam := f.Netlink()
		rs, err := nl.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, nil, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range rs {
			if slotOfTable(r.Table) != 0 {
				routes[routeKey{r.Table, fam}] = r
			}
		}
		rls, err := nl.RuleListFiltered(fam, &netlink.Rule{Priority: RulePriority}, netlink.RT_FILTER_PRIORITY)
		if err != nil {
			return nil, nil, fmt.Errorf("list rules: %w", err)
		}
		for _, r := range rls {
			if slotOfTable(r.Table) != 0 {
				r.Family = fam
				rules = append(rules, r)
			}
		}
	}
	return routes, rules, nil
}

func sameRule(a, b *netlink.Rule) bool {
	return a.Family == b.Family && a.Table == b.Table && a.Mark == b.Mark && a.Mask != nil && b.Mask != nil && *a.Mask == *b.Mask
}

// addRoutes puts the ready plans' routes and rules in place, before any packet is marked for
// them. A plan the kernel refuses stops being ready, so it is neither marked nor reported ready.
func addRoutes(nl Netlink, plans []*plan) error {
	routes, rules, err := ours(nl)
	if err != nil {
		return err
	}
	routed(plans, func(p *plan, fi int) {
		if !p.entry.Ready {
			return // failed on the other family
		}
		want := wantRoute(p, fi)
		have, ok := routes[routeKey{want.Table, want.Family}]
		if !ok || !have.Gw.Equal(want.Gw) || have.LinkIndex != want.LinkIndex {
			if err := nl.RouteReplace(want); err != nil {
				p.fail(fmt.Errorf("route in table %d: %w", want.Table, err))
				return
			}
		}
		rule := wantRule(p, fi)
		for i := range rules {
			if sameRule(&rules[i], rule) {
				return
			}
		}
		if err := nl.RuleAdd(rule); err != nil {
			p.fail(fmt.Errorf("rule fwmark 0x%x/0x%x lookup %d: %w", rule.Mark, *rule.Mask, rule.Table, err))
		}
	})
	return nil
}

// removeStale deletes routes and rules no ready plan wants (routes deleted, also while the
// agent was down, or no longer ready), once packets are no longer marked for them.
func removeStale(nl Netlink, plans []*plan) error {
	routes, rules, err := ours(nl)
	if err != nil {
		return err
	}
	wantRoutes := map[routeKey]bool{}
	var wantRules []*netlink.Rule
	routed(plans, func(p *plan, fi int) {
		wantRoutes[routeKey{tableOf(p.slot), netaddr.Family(fi).Netlink()}] = true
		wantRules = append(wantRules, wantRule(p, fi))
	})
	var errs []error
next:
	for i := range rules {
		for _, w := range wantRules {
			if sameRule(&rules[i], w) {
				continue next
			}
		}
		if err := nl.RuleDel(&rules[i]); err != nil {
			errs = append(errs, fmt.Errorf("remove stale rule to table %d: %w", rules[i].Table, err))
		}
	}
	for key, r := range routes {
		if !wantRoutes[key] {
			if err := nl.RouteDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("remove stale route in table %d: %w", key.table, err))
			}
		}
	}
	return errors.Join(errs...)
}

// looseRPFilter turns strict reverse-path filtering into loose on the links IPv4 routes leave
// by. Replies come back on that link while the main table may route their source elsewhere
// (the declared route is exactly what it lacks), and strict filtering would drop them; loose
// still drops sources the node has no route to at all. The kernel applies the larger of
// conf/all and conf/<link>, so raising the link's value is enough.
func looseRPFilter(sys Sysctl, plans []*plan) error {
	all, err := sys.Get("net/ipv4/conf/all/rp_filter")
	if err != nil {
		return fmt.Errorf("rp_filter: %w", err)
	}
	done := map[string]bool{}
	var errs []error
	routed(plans, func(p *plan, fi int) {
		name := p.hop.linkName
		if fi != 0 || done[name] {
			return
		}
		done[name] = true
		key := path.Join("net/ipv4/conf", name, "rp_filter")
		cur, err := sys.Get(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("rp_filter of %s: %w", name, err))
			return
		}
		if max(all, cur) == "1" { // values are 0, 1 (strict) or 2 (loose)
			if err := sys.Set(key, "2"); err != nil {
				errs = append(errs, fmt.Errorf("loose rp_filter on %s: %w", name, err))
			}
		}
	})
	return errors.Join(errs...)
}
