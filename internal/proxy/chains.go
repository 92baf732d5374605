package proxy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weftnet/weft/internal/nft"
)

// ownChains serves a port that needs per-service state: ClientIP affinity (a set per endpoint
// remembers its clients) or externalTrafficPolicy Local (external clients see a different
// endpoint list than pods). It gets a chain "svc-" for cluster traffic, "ext-" for external
// addresses and the node port, and one "ep-" chain per endpoint.
func ownChains(c *contribution, sp *servicePort, f fam, port string, haveClusterCIDRs bool) {
	svc, ext := "svc-"+sp.id(), "ext-"+sp.id()
	c.element("service-ips-"+f.suffix, []string{sp.clusterIP.String(), sp.protocol, port}, "goto "+svc)
	if haveClusterCIDRs {
		// Only traffic to the ClusterIP itself: what comes through "ext-" was judged there.
		c.chain(svc, nft.Rule{Text: fmt.Sprintf("%s daddr %s %s saddr != @cluster-cidrs-%s %s", f.match, sp.clusterIP, f.match, f.suffix, setMark()),
			Comment: serviceComment(sp, whyMarkOutsiders)})
	}
	// Local endpoints of an externalTrafficPolicy Local service may be ones the cluster-wide
	// choice left out (serving while terminating): every endpoint any path reaches gets a chain.
	for _, ep := range sp.everyEndpoint() {
		name := endpointChain(sp, ep)
		if _, made := c.Chains[name]; made {
			continue
		}
		if sp.affinitySeconds > 0 {
			// The set's name carries its timeout: a changed timeout is a new set, never an
			// in-place change nftables cannot make.
			set := fmt.Sprintf("affinity-%s-%d", strings.TrimPrefix(name, "ep-"), sp.affinitySeconds)
			c.AddSet(&nft.Set{Name: set, Type: f.addrType, Flags: []string{"dynamic", "timeout"}, Timeout: time.Duration(sp.affinitySeconds) * time.Second})
			if slices.Contains(sp.endpoints, ep) {
				c.chain(svc, nft.Rule{Text: fmt.Sprintf("%s saddr @%s goto %s", f.match, set, name), Comment: serviceComment(sp, whyAffinityHit)})
			}
			c.chain(name, nft.Rule{Text: fmt.Sprintf("update @%s { %s saddr }", set, f.match), Comment: serviceComment(sp, whyAffinityRemember)})
		}
		c.chain(name, nft.Rule{Text: fmt.Sprintf("meta l4proto %s dnat %s to %s", sp.protocol, f.dnat, dnatTarget(ep)), Comment: serviceComment(sp, whyEndpoint)})
	}
	if len(sp.endpoints) > 0 {
		c.chain(svc, randomChoice(sp, sp.endpoints))
	} else {
		// internalTrafficPolicy Local on a node without an endpoint: the service has endpoints,
		// none for this node's clients; dropped, as kube-proxy does.
		c.chain(svc, nft.Rule{Text: "drop", Comment: serviceComment(sp, whyNoInternalEndpoint)})
	}
	if len(sp.external) == 0 && sp.nodePort == 0 {
		return
	}
	if sp.externalLocal {
		externalLocal(c, sp, f, svc, ext, haveClusterCIDRs)
	} else if sp.internalLocal {
		// Clients outside the cluster reach every endpoint, masqueraded.
		c.chain(ext, nft.Rule{Text: setMark(), Comment: serviceComment(sp, whyMarkFromOutside)}, randomChoice(sp, sp.allEndpoints))
	} else {
		// Clients outside the cluster: masqueraded, so replies come back this way.
		c.chain(ext, nft.Rule{Text: setMark(), Comment: serviceComment(sp, whyMarkFromOutside)},
			nft.Rule{Text: "goto " + svc, Comment: serviceComment(sp, whyToService)})
	}
	for _, ip := range sp.external {
		c.element("service-ips-"+f.suffix, []string{ip.String(), sp.protocol, port}, "goto "+ext)
	}
	if sp.nodePort != 0 {
		c.element("service-nodeports-"+f.suffix, []string{sp.protocol, fmt.Sprint(sp.nodePort)}, "goto "+ext)
	}
}

// externalLocal serves externalTrafficPolicy Local: pods and the node itself are cluster
// traffic and reach every endpoint (kube-proxy's short-circuit); clients from outside reach
// only this node's endpoints, unmasqueraded so the endpoint sees them, and nothing at all on a
// node without one (their load balancer's health check, healthCheckNodePort, steers them
// elsewhere).
func externalLocal(c *contribution, sp *servicePort, f fam, svc, ext string, haveClusterCIDRs bool) {
	if haveClusterCIDRs {
		c.chain(ext, nft.Rule{Text: fmt.Sprintf("%s saddr @cluster-cidrs-%s goto %s", f.match, f.suffix, svc), Comment: serviceComment(sp, whyFromPod)})
	}
	// The node itself: from its own node address unmasqueraded, so the endpoint sees the node
	// (replies route back to that address); from any other (loopback, an external IP held
	// here) masqueraded, since replies to it would not come back.
	c.chain(ext, nft.Rule{Text: fmt.Sprintf("fib saddr type local %s saddr != @node-ips-%s %s", f.match, f.suffix, setMark()), Comment: serviceComment(sp, whyMarkNodeOther)},
		nft.Rule{Text: "fib saddr type local goto " + svc, Comment: serviceComment(sp, whyFromNode)})
	if len(sp.localEndpoints) == 0 {
		c.chain(ext, nft.Rule{Text: "drop", Comment: serviceComment(sp, whyNoLocalEndpoint)})
		return
	}
	c.chain(ext, randomChoice(sp, sp.localEndpoints))
}

// randomChoice sends a packet to one of eps' chains, at random (an empty rule when there are
// none).
func randomChoice(sp *servicePort, eps []endpoint) nft.Rule {
	if len(eps) == 0 {
		return nft.Rule{}
	}
	var targets []string
	for i, ep := range eps {
		targets = append(targets, fmt.Sprintf("%d : goto %s", i, endpointChain(sp, ep)))
	}
	// " , " not ", ": a comma must not stick to a chain name.
	return nft.Rule{Text: fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(targets, " , ")), Comment: serviceComment(sp, whyRandomEndpoint)}
}
