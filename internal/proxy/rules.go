package proxy

import (
	"fmt"
	"strings"

	"github.com/weftnet/weft/internal/fwmark"
	"github.com/weftnet/weft/internal/netaddr"
	"github.com/weftnet/weft/internal/nft"
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

// skeletonOwner owns the fixed part of the table; Service keys always hold a '/'.
const skeletonOwner = "skeleton"

// skeleton is the fixed part of the table: the base chains, and per family the maps that send
// a packet to its service and the refusals. Services only ever add elements to its maps and
// chains of their own.
func skeleton() *nft.Contents {
	sk := nft.NewContents()
	base := func(name, typ, hook, priority, why string) {
		sk.AddChain(&nft.Chain{Name: name, Hook: &nft.Hook{Type: typ, Hook: hook, Priority: priority}, Comment: why})
	}
	base("nat-prerouting", "nat", "prerouting", "dstnat", "service DNAT of packets arriving")
	base("nat-output", "nat", "output", "dstnat", "service DNAT of packets this node sends")
	base("nat-postrouting", "nat", "postrouting", "srcnat", "masquerade of marked and hairpin packets")
	for _, h := range []string{"input", "forward", "output"} {
		base("filter-"+h, "filter", h, "filter - 10", "refusals for services without endpoints")
	}
	// Before DNAT (dstnat - 10): loadBalancerSourceRanges are checked on the address the
	// client used.
	base("firewall-prerouting", "filter", "prerouting", "-110", "loadBalancerSourceRanges, before DNAT")
	base("firewall-output", "filter", "output", "-110", "loadBalancerSourceRanges, before DNAT")
	for _, c := range []string{servicesChain, endpointsCheck, rejectChain, firewallCheck} {
		sk.AddChain(&nft.Chain{Name: c})
	}
	for _, f := range fams {
		family(sk, f)
	}
	// New connections only, as kube-proxy does: one that was let in stays in when the ranges
	// change, and a packet of an established flow pays no lookup here.
	sk.AddRules("firewall-prerouting", rule(whyFirewall, "ct state new jump", firewallCheck))
	sk.AddRules("firewall-output", rule(whyFirewall, "ct state new jump", firewallCheck))
	sk.AddRules("nat-prerouting", rule(whyServices, "jump", servicesChain))
	sk.AddRules("nat-output", rule(whyServices, "jump", servicesChain))
	for _, f := range fams {
		// Hairpin: a pod that reaches itself through its service must see another source, or
		// its reply would go straight back to itself, untranslated.
		sk.AddRules("nat-postrouting", rule(whyHairpin, "ct status dnat", f.match, "saddr .", f.match, "daddr @hairpin-"+f.suffix, "masquerade fully-random"))
	}
	sk.AddRules("nat-postrouting", rule(whyMasquerade, "meta mark &", mark(), "!= 0", "masquerade fully-random"))
	// A packet conntrack finds out of window (a late retransmission, say) would skip the DNAT
	// and reach the pod with the service's address, whose RST then kills the real connection:
	// kube-proxy drops them too.
	sk.AddRules("filter-forward", rule(whyInvalid, "ct state invalid drop"))
	for _, h := range []string{"input", "forward", "output"} {
		sk.AddRules("filter-"+h, rule(whyRefusals, "ct state new jump", endpointsCheck))
	}
	sk.AddRules(rejectChain, rule(whyReject, "reject"))
	return sk
}

// family makes one family's lookups: service addresses and node ports to their chains, the
// endpoints of plain services, and the refusals for what has no endpoint, no such port, or no
// service at all.
func family(sk *nft.Contents, f fam) {
	key := f.addrType + " . inet_proto . inet_service"
	for _, m := range []struct{ name, typ string }{
		{"service-ips-", key + " : verdict"},
		{"service-nodeports-", "inet_proto . inet_service : verdict"},
		{"no-endpoints-", key + " : verdict"},
		{"no-endpoint-nodeports-", "inet_proto . inet_service : verdict"},
		{"firewall-ips-", key + " : verdict"},
	} {
		sk.AddSet(&nft.Set{Name: m.name + f.suffix, Type: m.typ})
	}
	// The endpoints of plain services, by service address, port and slot: the slot is what
	// "numgen random mod N" picks, so one shared chain per endpoint count serves them all. One
	// map per protocol: nftables 1.0.6 cannot read back a "th dport" typeof from the kernel,
	// and a protocol's own port expression brings the match a port DNAT needs.
	for _, proto := range protocols {
		sk.AddSet(&nft.Set{Name: backendsMap(f, proto),
			TypeOf: fmt.Sprintf("%s daddr . %s dport . numgen random mod 1 : %s daddr . %s dport", f.match, proto, f.match, proto)})
		sk.AddSet(&nft.Set{Name: nodePortBackendsMap(f, proto),
			TypeOf: fmt.Sprintf("%s dport . numgen random mod 1 : %s daddr . %s dport", proto, f.match, proto)})
	}
	sk.AddSet(&nft.Set{Name: "cluster-ips-" + f.suffix, Type: f.addrType})
	sk.AddSet(&nft.Set{Name: "hairpin-" + f.suffix, Type: f.addrType + " . " + f.addrType})
	// With cluster-ips, the gates to the dispatch chains (see dispatch.go).
	sk.AddSet(&nft.Set{Name: plainIPsSet(f), Type: key})
	sk.AddSet(&nft.Set{Name: plainNodePortsSet(f), Type: "inet_proto . inet_service"})
	for _, name := range []string{"service-cidrs-", "cluster-cidrs-"} {
		sk.AddSet(&nft.Set{Name: name + f.suffix, Type: f.addrType, Flags: []string{"interval"}})
	}
	sk.AddSet(&nft.Set{Name: "node-ips-" + f.suffix, Type: f.addrType})
	local := []string{"fib daddr type local", f.match, "daddr !=", f.loopback}
	sk.AddRules(firewallCheck, rule(whyFirewallIPs, f.match, "daddr . meta l4proto . th dport vmap", "@firewall-ips-"+f.suffix))
	sk.AddRules(servicesChain,
		rule(whyServiceIPs, f.match, "daddr . meta l4proto . th dport vmap", "@service-ips-"+f.suffix),
		rule(whyPlainClusterIP, f.match, "daddr", "@cluster-ips-"+f.suffix, "goto", plainChain(f)),
		rule(whyPlainExternal, f.match, "daddr . meta l4proto . th dport", "@"+plainIPsSet(f), "goto", plainExternalChain(f)),
		rule(whyNodePorts, append(local, "meta l4proto . th dport vmap", "@service-nodeports-"+f.suffix)...),
		rule(whyPlainNodePorts, append(local, "meta l4proto . th dport", "@"+plainNodePortsSet(f), "goto", plainNodePortsChain(f))...))
	sk.AddRules(endpointsCheck,
		rule(whyNoEndpoints, f.match, "daddr . meta l4proto . th dport vmap", "@no-endpoints-"+f.suffix),
		rule(whyNoEndpointNodePorts, append(local, "meta l4proto . th dport vmap", "@no-endpoint-nodeports-"+f.suffix)...),
		// An address a service holds, on a port it does not have: refused like a closed port.
		rule(whyNoSuchPort, f.match, "daddr", "@cluster-ips-"+f.suffix, "goto", rejectChain),
		// An address inside a ServiceCIDR that no service holds: nothing there, not even a refusal.
		rule(whyUnallocated, f.match, "daddr", "@service-cidrs-"+f.suffix, "drop"))
}

// rule is a rule of words joined by spaces, with its purpose as comment.
func rule(why string, parts ...string) nft.Rule {
	return nft.Rule{Text: strings.Join(parts, " "), Comment: why}
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

func pickRules(f fam, proto string, n int, haveClusterCIDRs bool) []nft.Rule {
	var rules []nft.Rule
	if haveClusterCIDRs {
		// From outside the pod network (a node, a hostNetwork pod): masquerade, so the
		// endpoint's reply comes back through this node to be translated back.
		rules = append(rules, rule(whyMarkOutsiders, f.match, "saddr != @cluster-cidrs-"+f.suffix, setMark()))
	}
	return append(rules, rule(whyPickRandom, dnatByAddress(f, proto, n)))
}

func extPickRules(f fam, proto string, n int) []nft.Rule {
	return []nft.Rule{rule(whyMarkExternal, setMark()), rule(whyPickRandom, dnatByAddress(f, proto, n))}
}

func nodePickRules(f fam, proto string, n int) []nft.Rule {
	return []nft.Rule{rule(whyMarkNodePort, setMark()),
		rule(whyPickRandom, fmt.Sprintf("dnat %s to %s dport . numgen random mod %d map @%s", f.dnat, proto, n, nodePortBackendsMap(f, proto)))}
}

func dnatByAddress(f fam, proto string, n int) string {
	return fmt.Sprintf("dnat %s to %s daddr . %s dport . numgen random mod %d map @%s", f.dnat, f.match, proto, n, backendsMap(f, proto))
}
