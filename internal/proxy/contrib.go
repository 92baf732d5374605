package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/nft"
)

// serviceContribution is what one Service's ports put in the table. A plain port (no ClientIP
// affinity, no externalTrafficPolicy Local) is only map elements pointing at the shared pick
// chains: its cost in the kernel and in a sync is a handful of elements, and a packet's path is
// the same few lookups whatever the number of services. The others get chains of their own.
func serviceContribution(ports []*servicePort, haveClusterCIDRs bool) *contribution {
	if len(ports) == 0 {
		return nil
	}
	c := newContribution()
	for _, sp := range ports {
		f := famOf(sp.v6)
		port := fmt.Sprint(sp.port)
		c.element("cluster-ips-"+f.suffix, []string{sp.clusterIP.String()})
		firewall(c, sp, f, port)
		switch {
		case len(sp.allEndpoints) == 0:
			refuse := "goto " + rejectChain
			for _, ip := range append([]netip.Addr{sp.clusterIP}, sp.external...) {
				c.element("no-endpoints-"+f.suffix, []string{ip.String(), sp.protocol, port}, refuse)
			}
			if sp.nodePort != 0 {
				c.element("no-endpoint-nodeports-"+f.suffix, []string{sp.protocol, fmt.Sprint(sp.nodePort)}, refuse)
			}
		case sp.affinitySeconds == 0 && !sp.externalLocal && !sp.internalLocal:
			plainPort(c, sp, f, port, haveClusterCIDRs)
		default:
			ownChains(c, sp, f, port, haveClusterCIDRs)
		}
		for _, ep := range sp.everyEndpoint() {
			c.element("hairpin-"+f.suffix, []string{ep.ip.String(), ep.ip.String()})
		}
	}
	return c
}

// firewall lets only the loadBalancerSourceRanges reach the port on its LoadBalancer
// addresses; everyone else is dropped before any translation, as a cloud load balancer would.
func firewall(c *contribution, sp *servicePort, f fam, port string) {
	if len(sp.sourceRanges) == 0 || len(sp.lbIPs) == 0 {
		return
	}
	chain := "firewall-" + sp.id()
	ranges := make([]string, len(sp.sourceRanges))
	for i, r := range sp.sourceRanges {
		ranges[i] = r.String()
	}
	c.chain(chain, nft.Rule{Text: fmt.Sprintf("%s saddr != { %s } drop", f.match, strings.Join(ranges, ", ")), Comment: serviceComment(sp, whySourceRanges)})
	for _, ip := range sp.lbIPs {
		c.element("firewall-ips-"+f.suffix, []string{ip.String(), sp.protocol, port}, "goto "+chain)
	}
}

// plainPort sends the port's addresses to the shared pick chain for its endpoint count (through
// sets, see dispatch.go), with the endpoints as backends elements under each address.
func plainPort(c *contribution, sp *servicePort, f fam, port string, haveClusterCIDRs bool) {
	n, proto := len(sp.endpoints), sp.protocol
	pick := pickChain(f, proto, n)
	c.sharedChain(pick, pickRules(f, proto, n, haveClusterCIDRs)...)
	c.toPick(f, pick, proto, sp.clusterIP.String(), port, false)
	backends := func(addr netip.Addr) {
		for i, ep := range sp.endpoints {
			c.element(backendsMap(f, proto), []string{addr.String(), port, fmt.Sprint(i)}, ep.ip.String(), fmt.Sprint(ep.port))
		}
	}
	backends(sp.clusterIP)
	if len(sp.external) > 0 {
		ext := extPickChain(f, proto, n)
		c.sharedChain(ext, extPickRules(f, proto, n)...)
		for _, ip := range sp.external {
			c.toPick(f, ext, proto, ip.String(), port, true)
			backends(ip)
		}
	}
	if sp.nodePort != 0 {
		np, pick := fmt.Sprint(sp.nodePort), nodePickChain(f, proto, n)
		c.sharedChain(pick, nodePickRules(f, proto, n)...)
		c.toNodePortPick(f, pick, proto, np)
		for i, ep := range sp.endpoints {
			c.element(nodePortBackendsMap(f, proto), []string{np, fmt.Sprint(i)}, ep.ip.String(), fmt.Sprint(ep.port))
		}
	}
}

// cidrContribution is the cluster's own ranges: the ServiceCIDRs (whose unallocated addresses
// are dropped) and the pod ranges (whose traffic to a service is not masqueraded), and this
// node's own addresses (from which it reaches externalTrafficPolicy Local services
// unmasqueraded). ServiceCIDRs may overlap (a wider range added over a full one) and the sets refuse overlapping elements,
// so each set gets the merged ranges. The contribution is rebuilt whole on every change: a
// range that goes gives way to the narrower ones it covered, in the same transaction.
func cidrContribution(serviceCIDRs, clusterCIDRs []netip.Prefix, nodeIPs []netip.Addr) *contribution {
	c := newContribution()
	for _, ip := range nodeIPs {
		c.element("node-ips-"+famOf(ip.Is6()).suffix, []string{ip.String()})
	}
	for name, ps := range map[string][]netip.Prefix{"service-cidrs-": serviceCIDRs, "cluster-cidrs-": clusterCIDRs} {
		for _, p := range cidr.Merge(ps) {
			c.element(name+famOf(p.Addr().Is6()).suffix, []string{p.String()})
		}
	}
	return c
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
