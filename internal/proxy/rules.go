package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// Table is the proxy's nftables table; it touches no other.
const Table = "weft-proxy"

// MasqueradeMark marks packets the proxy wants masqueraded on their way out: traffic from
// outside the cluster network (so replies come back through this node) and hairpin traffic (a
// pod reaching itself through its service). kube-proxy uses 0x4000; weft keeps out of its way.
const MasqueradeMark uint32 = 0x20000000

// fam is one address family as nftables spells it.
type fam struct {
	suffix, match, addrType, dnat, loopback string
	v6                                      bool
}

var fams = []fam{
	{suffix: "v4", match: "ip", addrType: "ipv4_addr", dnat: "ip", loopback: "127.0.0.0/8"},
	{suffix: "v6", match: "ip6", addrType: "ipv6_addr", dnat: "ip6", loopback: "::1", v6: true},
}

// state is everything one sync writes.
type state struct {
	// services are the Services the ports were read from (LoadBalancer allocation reads them too).
	services []*corev1.Service
	ports    []*servicePort
	// endpointNodes lists, per Service (namespace/name), the nodes with a ready endpoint.
	endpointNodes map[string][]string
	serviceCIDRs  []netip.Prefix
	clusterCIDRs  []netip.Prefix
}

const (
	rejectChain    = "reject-chain"
	endpointsCheck = "endpoints-check"
	servicesChain  = "services"
)

func mark() string { return fmt.Sprintf("0x%08x", MasqueradeMark) }

// writeRules puts the whole table into tx: created afresh in the same transaction, so no
// packet ever sees half of it, and no chain of a service that went away survives. Connections
// already set up keep their translation in conntrack.
func writeRules(tx *knftables.Transaction, st state) {
	tx.Add(&knftables.Table{Comment: ptr.To("weft: the service proxy")})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: ptr.To("weft: the service proxy")})

	base := func(name string, t knftables.BaseChainType, h knftables.BaseChainHook, p knftables.BaseChainPriority) {
		tx.Add(&knftables.Chain{Name: name, Type: ptr.To(t), Hook: ptr.To(h), Priority: ptr.To(p)})
	}
	base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority)
	base("nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority)
	base("nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority)
	for _, h := range []knftables.BaseChainHook{knftables.InputHook, knftables.ForwardHook, knftables.OutputHook} {
		base("filter-"+string(h), knftables.FilterType, h, knftables.BaseChainPriority("filter - 10"))
	}
	for _, c := range []string{servicesChain, endpointsCheck, rejectChain} {
		tx.Add(&knftables.Chain{Name: c})
	}
	rule := func(chain string, parts ...string) {
		tx.Add(&knftables.Rule{Chain: chain, Rule: knftables.Concat(parts)})
	}
	rule("nat-prerouting", "jump", servicesChain)
	rule("nat-output", "jump", servicesChain)
	rule("nat-postrouting", "meta mark &", mark(), "!= 0", "masquerade fully-random")
	for _, h := range []string{"input", "forward", "output"} {
		rule("filter-"+h, "ct state new jump", endpointsCheck)
	}
	rule(rejectChain, "reject")

	for _, f := range fams {
		writeFamily(tx, rule, f, st)
	}
	for _, sp := range st.ports {
		writeServicePort(tx, rule, sp, st)
	}
}

// writeFamily makes one family's lookups: service addresses and node ports to their chains,
// and the refusals for what has no endpoint, no such port, or no service at all.
func writeFamily(tx *knftables.Transaction, rule func(string, ...string), f fam, st state) {
	key := f.addrType + " . inet_proto . inet_service"
	maps := map[string]string{
		"service-ips-" + f.suffix:           key + " : verdict",
		"service-nodeports-" + f.suffix:     "inet_proto . inet_service : verdict",
		"no-endpoints-" + f.suffix:          key + " : verdict",
		"no-endpoint-nodeports-" + f.suffix: "inet_proto . inet_service : verdict",
	}
	for name, typ := range maps {
		tx.Add(&knftables.Map{Name: name, Type: typ})
	}
	for _, name := range []string{"cluster-ips-" + f.suffix, "service-cidrs-" + f.suffix, "cluster-cidrs-" + f.suffix} {
		s := &knftables.Set{Name: name, Type: f.addrType}
		if name != "cluster-ips-"+f.suffix {
			s.Flags = []knftables.SetFlag{knftables.IntervalFlag}
		}
		tx.Add(s)
	}
	for _, p := range st.serviceCIDRs {
		if p.Addr().Is6() == f.v6 {
			tx.Add(&knftables.Element{Set: "service-cidrs-" + f.suffix, Key: []string{p.String()}})
		}
	}
	for _, p := range st.clusterCIDRs {
		if p.Addr().Is6() == f.v6 {
			tx.Add(&knftables.Element{Set: "cluster-cidrs-" + f.suffix, Key: []string{p.String()}})
		}
	}
	local := []string{"fib daddr type local", f.match, "daddr !=", f.loopback}
	rule(servicesChain, f.match, "daddr . meta l4proto . th dport vmap", "@service-ips-"+f.suffix)
	rule(servicesChain, append(local, "meta l4proto . th dport vmap", "@service-nodeports-"+f.suffix)...)
	rule(endpointsCheck, f.match, "daddr . meta l4proto . th dport vmap", "@no-endpoints-"+f.suffix)
	rule(endpointsCheck, append(local, "meta l4proto . th dport vmap", "@no-endpoint-nodeports-"+f.suffix)...)
	// An address a service holds, on a port it does not have: refused like a closed port.
	rule(endpointsCheck, f.match, "daddr", "@cluster-ips-"+f.suffix, "goto", rejectChain)
	// An address inside a ServiceCIDR that no service holds: nothing there, not even a refusal.
	rule(endpointsCheck, f.match, "daddr", "@service-cidrs-"+f.suffix, "drop")
}

// writeServicePort makes a service port's chains and its entries in the family's maps.
func writeServicePort(tx *knftables.Transaction, rule func(string, ...string), sp *servicePort, st state) {
	f := fams[0]
	if sp.v6 {
		f = fams[1]
	}
	port := fmt.Sprint(sp.port)
	tx.Add(&knftables.Element{Set: "cluster-ips-" + f.suffix, Key: []string{sp.clusterIP.String()}})
	if len(sp.endpoints) == 0 {
		refuse := []string{"goto " + rejectChain}
		tx.Add(&knftables.Element{Map: "no-endpoints-" + f.suffix, Key: []string{sp.clusterIP.String(), sp.protocol, port}, Value: refuse})
		for _, ip := range sp.external {
			tx.Add(&knftables.Element{Map: "no-endpoints-" + f.suffix, Key: []string{ip.String(), sp.protocol, port}, Value: refuse})
		}
		if sp.nodePort != 0 {
			tx.Add(&knftables.Element{Map: "no-endpoint-nodeports-" + f.suffix, Key: []string{sp.protocol, fmt.Sprint(sp.nodePort)}, Value: refuse})
		}
		return
	}
	svc, ext := "svc-"+sp.id(), "ext-"+sp.id()
	tx.Add(&knftables.Chain{Name: svc})
	tx.Add(&knftables.Element{Map: "service-ips-" + f.suffix, Key: []string{sp.clusterIP.String(), sp.protocol, port}, Value: []string{"goto " + svc}})
	if len(st.clusterCIDRs) > 0 {
		// From outside the pod network (a node, a hostNetwork pod): masquerade, so the
		// endpoint's reply comes back through this node to be translated back.
		rule(svc, f.match, "saddr != @cluster-cidrs-"+f.suffix, "meta mark set meta mark |", mark())
	}
	if len(sp.external) > 0 || sp.nodePort != 0 {
		tx.Add(&knftables.Chain{Name: ext})
		if sp.externalLocal {
			writeExternalLocal(tx, rule, sp, f, svc, ext, st)
		} else {
			// Clients outside the cluster: masqueraded, so replies come back this way.
			rule(ext, "meta mark set meta mark |", mark())
			rule(ext, "goto", svc)
		}
		for _, ip := range sp.external {
			tx.Add(&knftables.Element{Map: "service-ips-" + f.suffix, Key: []string{ip.String(), sp.protocol, port}, Value: []string{"goto " + ext}})
		}
		if sp.nodePort != 0 {
			tx.Add(&knftables.Element{Map: "service-nodeports-" + f.suffix, Key: []string{sp.protocol, fmt.Sprint(sp.nodePort)}, Value: []string{"goto " + ext}})
		}
	}
	var targets []string
	for i, ep := range sp.endpoints {
		targets = append(targets, fmt.Sprintf("%d : goto %s", i, endpointChain(sp, ep)))
	}
	// Local endpoints of an externalTrafficPolicy Local service may be ones the cluster-wide
	// choice left out (serving while terminating): they need their chain too.
	all := append(append([]endpoint{}, sp.endpoints...), sp.localEndpoints...)
	made := map[string]bool{}
	for _, ep := range all {
		name := endpointChain(sp, ep)
		if made[name] {
			continue
		}
		made[name] = true
		tx.Add(&knftables.Chain{Name: name})
		// Hairpin: a pod reaching itself through its service must see another source.
		rule(name, f.match, "saddr", ep.ip.String(), "meta mark set meta mark |", mark())
		if sp.affinitySeconds > 0 {
			set := "affinity-" + strings.TrimPrefix(name, "ep-")
			tx.Add(&knftables.Set{Name: set, Type: f.addrType, Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
				Timeout: ptr.To(secondsDuration(sp.affinitySeconds))})
			rule(svc, f.match, "saddr", "@"+set, "goto", name)
			rule(name, "update", "@"+set, "{", f.match, "saddr", "}")
		}
		rule(name, "meta l4proto", sp.protocol, "dnat", f.dnat, "to", dnatTarget(ep))
	}
	// " , " not ", ": a comma must not stick to a chain name.
	rule(svc, fmt.Sprintf("numgen random mod %d vmap { %s }", len(targets), strings.Join(targets, " , ")))
}

// writeExternalLocal serves externalTrafficPolicy Local: pods and the node itself are cluster
// traffic and reach every endpoint; clients from outside reach only this node's endpoints,
// unmasqueraded so the endpoint sees them, and nothing at all on a node without one (their
// load balancer's health check, healthCheckNodePort, steers them elsewhere).
func writeExternalLocal(tx *knftables.Transaction, rule func(string, ...string), sp *servicePort, f fam, svc, ext string, st state) {
	if len(st.clusterCIDRs) > 0 {
		rule(ext, f.match, "saddr", "@cluster-cidrs-"+f.suffix, "goto", svc)
	}
	rule(ext, "fib saddr type local meta mark set meta mark |", mark(), "goto", svc)
	if len(sp.localEndpoints) == 0 {
		rule(ext, "drop")
		return
	}
	var targets []string
	for i, ep := range sp.localEndpoints {
		// Declared here too: nftables refuses a jump to a chain the transaction has not made yet.
		tx.Add(&knftables.Chain{Name: endpointChain(sp, ep)})
		targets = append(targets, fmt.Sprintf("%d : goto %s", i, endpointChain(sp, ep)))
	}
	rule(ext, fmt.Sprintf("numgen random mod %d vmap { %s }", len(targets), strings.Join(targets, " , ")))
}

// endpointChain names an endpoint's chain after its service port and address; nftables
// names cannot hold ':', so IPv6 addresses are written with '.'.
func endpointChain(sp *servicePort, ep endpoint) string {
	return fmt.Sprintf("ep-%s-%s/%d", shortHash(sp.id()), strings.ReplaceAll(ep.ip.String(), ":", "."), ep.port)
}

func dnatTarget(ep endpoint) string {
	if ep.ip.Is6() {
		return fmt.Sprintf("[%s]:%d", ep.ip, ep.port)
	}
	return fmt.Sprintf("%s:%d", ep.ip, ep.port)
}
