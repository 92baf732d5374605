package proxy

import (
	"fmt"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
)

// Table is the proxy's nftables table; it touches no other.
const Table = "weft-proxy"

// fam is one address family as nftables spells it.
type fam struct {
	suffix, match, addrType, dnat, loopback string
	v6                                      bool
}

var fams = []fam{famFrom(netaddr.IPv4, "127.0.0.0/8"), famFrom(netaddr.IPv6, "::1")}

// famFrom spells f as internal/netaddr does; fam's fields stay for the rule builders' sake.
func famFrom(f netaddr.Family, loopback string) fam {
	return fam{suffix: f.Suffix(), match: f.Match(), addrType: f.AddrType(), dnat: f.Match(), loopback: loopback, v6: f.Is6()}
}

func famOf(v6 bool) fam {
	if v6 {
		return fams[1]
	}
	return fams[0]
}

const (
	rejectChain    = "reject-chain"
	endpointsCheck = "endpoints-check"
	servicesChain  = "services"
	firewallCheck  = "firewall-check"
)

// mark is the proxy's masquerade bit (see internal/fwmark).
func mark() string { return fwmark.Hex(fwmark.ProxyMasquerade) }

func setMark() string { return "meta mark set meta mark | " + mark() }

// skeleton is the fixed part of the table: the base chains, and per family the maps that send
// a packet to its service and the refusals. Services only ever add elements to its maps and
// chains of their own.
type skeleton struct {
	chains []*knftables.Chain
	sets   []*knftables.Set
	maps   []*knftables.Map
	rules  []*knftables.Rule
}

func newSkeleton() *skeleton {
	sk := &skeleton{}
	base := func(name string, t knftables.BaseChainType, h knftables.BaseChainHook, p knftables.BaseChainPriority) {
		sk.chains = append(sk.chains, &knftables.Chain{Name: name, Type: ptr.To(t), Hook: ptr.To(h), Priority: ptr.To(p)})
	}
	base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority)
	base("nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority)
	base("nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority)
	for _, h := range []knftables.BaseChainHook{knftables.InputHook, knftables.ForwardHook, knftables.OutputHook} {
		base("filter-"+string(h), knftables.FilterType, h, knftables.BaseChainPriority("filter - 10"))
	}
	// Before DNAT (dstnat - 10): loadBalancerSourceRanges are checked on the address the
	// client used.
	base("firewall-prerouting", knftables.FilterType, knftables.PreroutingHook, knftables.BaseChainPriority("-110"))
	base("firewall-output", knftables.FilterType, knftables.OutputHook, knftables.BaseChainPriority("-110"))
	for _, c := range []string{servicesChain, endpointsCheck, rejectChain, firewallCheck} {
		sk.chains = append(sk.chains, &knftables.Chain{Name: c})
	}
	rule := func(chain string, parts ...string) {
		sk.rules = append(sk.rules, &knftables.Rule{Chain: chain, Rule: knftables.Concat(parts)})
	}
	for _, f := range fams {
		sk.family(rule, f)
	}
	// New connections only, as kube-proxy does: one that was let in stays in when the ranges
	// change, and a packet of an established flow pays no lookup here.
	rule("firewall-prerouting", "ct state new jump", firewallCheck)
	rule("firewall-output", "ct state new jump", firewallCheck)
	rule("nat-prerouting", "jump", servicesChain)
	rule("nat-output", "jump", servicesChain)
	for _, f := range fams {
		// Hairpin: a pod that reaches itself through its service must see another source, or
		// its reply would go straight back to itself, untranslated.
		rule("nat-postrouting", "ct status dnat", f.match, "saddr .", f.match, "daddr @hairpin-"+f.suffix, "masquerade fully-random")
	}
	rule("nat-postrouting", "meta mark &", mark(), "!= 0", "masquerade fully-random")
	// A packet conntrack finds out of window (a late retransmission, say) would skip the DNAT
	// and reach the pod with the service's address, whose RST then kills the real connection:
	// kube-proxy drops them too.
	rule("filter-forward", "ct state invalid drop")
	for _, h := range []string{"input", "forward", "output"} {
		rule("filter-"+h, "ct state new jump", endpointsCheck)
	}
	rule(rejectChain, "reject")
	return sk
}

// typeOf is a skeleton set's or map's type, as SetTypes gives it.
func (sk *skeleton) typeOf(name string) (typ, typeOf string, ok bool) {
	for _, m := range sk.maps {
		if m.Name == name {
			return m.Type, m.TypeOf, len(m.Flags) == 0
		}
	}
	for _, s := range sk.sets {
		if s.Name == name {
			return s.Type, s.TypeOf, len(s.Flags) == 0
		}
	}
	return "", "", false
}

// family makes one family's lookups: service addresses and node ports to their chains, the
// endpoints of plain services, and the refusals for what has no endpoint, no such port, or no
// service at all.
func (sk *skeleton) family(rule func(string, ...string), f fam) {
	key := f.addrType + " . inet_proto . inet_service"
	for _, m := range []struct{ name, typ string }{
		{"service-ips-", key + " : verdict"},
		{"service-nodeports-", "inet_proto . inet_service : verdict"},
		{"no-endpoints-", key + " : verdict"},
		{"no-endpoint-nodeports-", "inet_proto . inet_service : verdict"},
		{"firewall-ips-", key + " : verdict"},
	} {
		sk.maps = append(sk.maps, &knftables.Map{Name: m.name + f.suffix, Type: m.typ})
	}
	// The endpoints of plain services, by service address, port and slot: the slot is what
	// "numgen random mod N" picks, so one shared chain per endpoint count serves them all. One
	// map per protocol: nftables 1.0.6 cannot read back a "th dport" typeof from the kernel,
	// and a protocol's own port expression brings the match a port DNAT needs.
	for _, proto := range protocols {
		sk.maps = append(sk.maps,
			&knftables.Map{Name: backendsMap(f, proto),
				TypeOf: fmt.Sprintf("%s daddr . %s dport . numgen random mod 1 : %s daddr . %s dport", f.match, proto, f.match, proto)},
			&knftables.Map{Name: nodePortBackendsMap(f, proto),
				TypeOf: fmt.Sprintf("%s dport . numgen random mod 1 : %s daddr . %s dport", proto, f.match, proto)})
	}
	sk.sets = append(sk.sets,
		&knftables.Set{Name: "cluster-ips-" + f.suffix, Type: f.addrType},
		&knftables.Set{Name: "hairpin-" + f.suffix, Type: f.addrType + " . " + f.addrType},
		// With cluster-ips, the gates to the dispatch chains (see dispatch.go).
		&knftables.Set{Name: plainIPsSet(f), Type: key},
		&knftables.Set{Name: plainNodePortsSet(f), Type: "inet_proto . inet_service"})
	for _, name := range []string{"service-cidrs-", "cluster-cidrs-"} {
		sk.sets = append(sk.sets, &knftables.Set{Name: name + f.suffix, Type: f.addrType, Flags: []knftables.SetFlag{knftables.IntervalFlag}})
	}
	sk.sets = append(sk.sets, &knftables.Set{Name: "node-ips-" + f.suffix, Type: f.addrType})
	local := []string{"fib daddr type local", f.match, "daddr !=", f.loopback}
	rule(firewallCheck, f.match, "daddr . meta l4proto . th dport vmap", "@firewall-ips-"+f.suffix)
	rule(servicesChain, f.match, "daddr . meta l4proto . th dport vmap", "@service-ips-"+f.suffix)
	rule(servicesChain, f.match, "daddr", "@cluster-ips-"+f.suffix, "goto", plainChain(f))
	rule(servicesChain, f.match, "daddr . meta l4proto . th dport", "@"+plainIPsSet(f), "goto", plainExternalChain(f))
	rule(servicesChain, append(local, "meta l4proto . th dport vmap", "@service-nodeports-"+f.suffix)...)
	rule(servicesChain, append(local, "meta l4proto . th dport", "@"+plainNodePortsSet(f), "goto", plainNodePortsChain(f))...)
	rule(endpointsCheck, f.match, "daddr . meta l4proto . th dport vmap", "@no-endpoints-"+f.suffix)
	rule(endpointsCheck, append(local, "meta l4proto . th dport vmap", "@no-endpoint-nodeports-"+f.suffix)...)
	// An address a service holds, on a port it does not have: refused like a closed port.
	rule(endpointsCheck, f.match, "daddr", "@cluster-ips-"+f.suffix, "goto", rejectChain)
	// An address inside a ServiceCIDR that no service holds: nothing there, not even a refusal.
	rule(endpointsCheck, f.match, "daddr", "@service-cidrs-"+f.suffix, "drop")
}

// protocols are the transport protocols a Service port can have, as nftables spells them.
var protocols = []string{"tcp", "udp", "sctp"}

func backendsMap(f fam, proto string) string { return fmt.Sprintf("backends-%s-%s", proto, f.suffix) }
func nodePortBackendsMap(f fam, proto string) string {
	return fmt.Sprintf("nodeport-backends-%s-%s", proto, f.suffix)
}

// Shared chains pick one of N endpoints of a plain service from the backends maps: "pick" for
// traffic to a cluster IP (masqueraded only when it comes from outside the pod network),
// "ext-pick" for external and LoadBalancer IPs and "nodeport-pick" for node ports (masqueraded,
// so replies come back through this node). Their names carry the family, protocol and N.

func pickChain(f fam, proto string, n int) string {
	return fmt.Sprintf("pick-%s-%s-%d", f.suffix, proto, n)
}
func extPickChain(f fam, proto string, n int) string {
	return fmt.Sprintf("ext-pick-%s-%s-%d", f.suffix, proto, n)
}
func nodePickChain(f fam, proto string, n int) string {
	return fmt.Sprintf("nodeport-pick-%s-%s-%d", f.suffix, proto, n)
}

func pickRules(f fam, proto string, n int, haveClusterCIDRs bool) []string {
	var rules []string
	if haveClusterCIDRs {
		// From outside the pod network (a node, a hostNetwork pod): masquerade, so the
		// endpoint's reply comes back through this node to be translated back.
		rules = append(rules, fmt.Sprintf("%s saddr != @cluster-cidrs-%s %s", f.match, f.suffix, setMark()))
	}
	return append(rules, dnatByAddress(f, proto, n))
}

func extPickRules(f fam, proto string, n int) []string {
	return []string{setMark(), dnatByAddress(f, proto, n)}
}

func nodePickRules(f fam, proto string, n int) []string {
	return []string{setMark(), fmt.Sprintf("dnat %s to %s dport . numgen random mod %d map @%s", f.dnat, proto, n, nodePortBackendsMap(f, proto))}
}

func dnatByAddress(f fam, proto string, n int) string {
	return fmt.Sprintf("dnat %s to %s daddr . %s dport . numgen random mod %d map @%s", f.dnat, f.match, proto, n, backendsMap(f, proto))
}
