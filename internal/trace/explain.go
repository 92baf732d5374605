package trace

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/weftnet/weft/internal/nfttrace"
	"github.com/weftnet/weft/internal/proxy"
)

// A rule of the proxy says what it is for in its comment (internal/proxy/purpose.go): a
// purpose, and for a rule of one service's own chains the service port. The glosses below go
// by that purpose, and by what the rule matched and did; never by the rule's text, so a rule
// the proxy rewrites keeps its gloss. A rule without a known purpose still shows its text and
// action, only no gloss.

// gloss says in words what a step did; refusal is set when the step is why the packet was
// dropped or rejected.
func gloss(s nfttrace.Step) (words, refusal string) {
	act := s.Action
	target := strings.TrimPrefix(strings.TrimPrefix(act, "goto "), "jump ")
	value := func() string {
		matched := strings.Join(s.Matched, ", ")
		if i := strings.LastIndex(matched, " = "); i >= 0 {
			return matched[i+3:]
		}
		return matched
	}
	switch {
	case s.Chain == "" && s.Hook == "route":
		return "", ""
	case strings.HasPrefix(act, "skipped"):
		return "", ""
	case act == "policy drop":
		return "no rule accepted it and the chain's policy is drop", "dropped by the policy of chain " + s.Chain
	case s.Table == ProxyTable:
		return proxyGloss(s, value, target)
	case strings.HasSuffix(s.Table, " weft-egressroute") && strings.HasPrefix(act, "mark"):
		return "to a destination of EgressRoute " + named(s.Comment) + ": marked, so that the route's own routing table picks the next hop (not simulated here)", ""
	case strings.HasSuffix(s.Table, " weft-egressroute") && strings.HasPrefix(act, "masquerade"):
		return "EgressRoute " + named(s.Comment) + ": masqueraded to the node's address", ""
	case strings.HasSuffix(s.Table, " weft-egress") && strings.HasPrefix(act, "masquerade"):
		return "a pod's packet leaving the cluster: masqueraded to the node's address", ""
	}
	return refused(s)
}

// proxyGloss explains a step in the proxy's table by the purpose its rule's comment states.
func proxyGloss(s nfttrace.Step, value func() string, target string) (words, refusal string) {
	svc, purpose := proxy.ParseComment(s.Comment)
	act := s.Action
	switch purpose {
	case proxy.PurposeServiceIPs:
		return fmt.Sprintf("%s is a service address and port: %s", value(), service(target, svc)), ""
	case proxy.PurposePlainClusterIP:
		return fmt.Sprintf("%s is a service's cluster IP: to the chain that finds a plain service (no affinity, no Local policy) by its endpoint count", value()), ""
	case proxy.PurposePlainExternal:
		return fmt.Sprintf("%s is an external address and port of a plain service (no affinity, no Local policy): to the chain that finds it by its endpoint count", value()), ""
	case proxy.PurposePlainNodePorts:
		return fmt.Sprintf("%s is a node port of a plain service: to the chain that finds its endpoint count", value()), ""
	case proxy.PurposeDispatch:
		// The pick chain's name ends in the endpoint count: pick-v4-tcp-2.
		n := target[strings.LastIndex(target, "-")+1:]
		return fmt.Sprintf("%s is a service with %s endpoint(s): %s", value(), n, service(target, svc)), ""
	case proxy.PurposeNodePorts:
		return fmt.Sprintf("%s is a node port on this node's address: %s", value(), service(target, svc)), ""
	case proxy.PurposeNoEndpoints:
		return fmt.Sprintf("%s is a service port without endpoints: rejected", value()), "the service has no endpoints: rejected"
	case proxy.PurposeNoEndpointNodePorts:
		return fmt.Sprintf("%s is a node port whose service has no endpoints: rejected", value()), "the node port's service has no endpoints: rejected"
	case proxy.PurposeNoSuchPort:
		return "the address is a service's, but the service has no such port: rejected", "the service has no such port: rejected"
	case proxy.PurposeUnallocated:
		return "the address is in a ServiceCIDR, but no service holds it: dropped", "address in a ServiceCIDR but no service: dropped"
	case proxy.PurposeNoLocalEndpoint:
		return "externalTrafficPolicy Local and no endpoint of the service on this node: dropped", "externalTrafficPolicy Local, no endpoint on this node: dropped"
	case proxy.PurposeNoInternalEndpoint:
		return "internalTrafficPolicy Local and no endpoint of the service on this node: dropped", "internalTrafficPolicy Local, no endpoint on this node: dropped"
	case proxy.PurposeSourceRanges:
		return "the source is outside the service's loadBalancerSourceRanges: dropped", "the source is outside loadBalancerSourceRanges: dropped"
	case proxy.PurposeAffinityHit:
		return "the client was seen before (ClientIP session affinity): the same endpoint again", ""
	case proxy.PurposeAffinityRemember:
		return "the client is remembered for session affinity", ""
	case proxy.PurposeMarkOutsiders:
		return "the source is outside the pod network: marked to be masqueraded", ""
	case proxy.PurposeMarkNodeOther:
		return "the node sends it from an address other than its node address: marked to be masqueraded", ""
	case proxy.PurposeFromNode:
		return "the node itself sends it: cluster traffic, to every endpoint, " + service(target, svc), ""
	case proxy.PurposeFromPod:
		return "the source is a pod: cluster traffic, to every endpoint, " + service(target, svc), ""
	case proxy.PurposePickRandom, proxy.PurposeRandomEndpoint:
		return pick(s), ""
	case proxy.PurposeMarkExternal:
		return "an external or LoadBalancer address: marked to be masqueraded", ""
	case proxy.PurposeMarkNodePort:
		return "a node port: marked to be masqueraded", ""
	case proxy.PurposeMarkFromOutside:
		return "from outside the cluster: marked to be masqueraded", ""
	case proxy.PurposeEndpoint:
		return "DNAT to endpoint " + strings.TrimPrefix(act, "dnat to "), ""
	case proxy.PurposeHairpin:
		return "hairpin: a pod reaching itself through its service is masqueraded", ""
	case proxy.PurposeMasquerade:
		return "marked earlier: masqueraded, the endpoint sees this node's address", ""
	case proxy.PurposeFirewall:
		return "a new connection: checked against LoadBalancer source ranges", ""
	case proxy.PurposeRefusals:
		return "a new connection: checked for refusals", ""
	}
	return refused(s)
}

// refused names what dropped or rejected the packet when no purpose says more.
func refused(s nfttrace.Step) (words, refusal string) {
	switch s.Action {
	case "reject":
		return "", "rejected by chain " + s.Chain
	case "drop":
		return "", "dropped by chain " + s.Chain
	}
	return "", ""
}

// named is the name a rule's comment gives what made it.
func named(comment string) string {
	if comment == "" {
		return "(unnamed)"
	}
	return comment
}

// pick glosses a random choice: numgen picked slot k of n.
func pick(s nfttrace.Step) string {
	if strings.HasPrefix(s.Action, "dnat to ") {
		return "DNAT to endpoint " + strings.TrimPrefix(s.Action, "dnat to ") + ", one picked at random"
	}
	for _, m := range s.Matched {
		if strings.HasPrefix(m, "numgen random mod ") {
			var n, k int
			if _, err := fmt.Sscanf(m, "numgen random mod %d = %d", &n, &k); err == nil {
				return fmt.Sprintf("endpoint %d of %d, picked at random: %s", k+1, n, s.Action)
			}
		}
	}
	return "picked at random: " + s.Action
}

// service names the service a lookup went to: the comment of a service's own rule names it,
// and so does the name of its own chain.
func service(chain, fromComment string) string {
	if m := ownChain.FindStringSubmatch(chain); m != nil {
		what := "service"
		if m[1] == "ext" {
			what = "external traffic of service"
		}
		return fmt.Sprintf("%s %s/%s port %s/%s", what, m[2], m[3], m[4], m[5])
	}
	switch {
	case fromComment != "":
		return "service " + fromComment
	case strings.HasPrefix(chain, "pick-"):
		return "a plain service, to one of its endpoints"
	case strings.HasPrefix(chain, "ext-pick-"):
		return "a plain service's external address, to one of its endpoints"
	case strings.HasPrefix(chain, "nodeport-pick-"):
		return "a plain service's node port, to one of its endpoints"
	}
	return "chain " + chain
}

// ownChain reads the service out of the name of a chain of its own, "svc-<hash>-v4-ns/name/tcp/80".
var ownChain = regexp.MustCompile(`^(svc|ext)-[a-z0-9]+-v[46]-([^/]+)/([^/]+)/([^/]+)/([^/]+)$`)

// Outcome is a trace's result in words, and the facts a test or a script checks.
type Outcome struct {
	*nfttrace.Result
	// Why says why the packet was dropped or rejected, empty when accepted.
	Why string
	// Hairpin says the masquerade was for a pod reaching itself.
	Hairpin bool
}

func outcome(r *nfttrace.Result) Outcome {
	o := Outcome{Result: r}
	for _, s := range r.Steps {
		if _, why := gloss(s); why != "" && o.Why == "" {
			o.Why = why
		}
		if _, purpose := proxy.ParseComment(s.Comment); s.Table == ProxyTable && purpose == proxy.PurposeHairpin && strings.HasPrefix(s.Action, "masquerade") {
			o.Hairpin = true
		}
	}
	if r.Verdict != nfttrace.Accepted && o.Why == "" {
		o.Why = string(r.Verdict)
	}
	return o
}

// String is the one line that ends a trace: "accepted: DNAT to endpoint ..., masqueraded ...".
func (o Outcome) String() string {
	r := o.Result
	if r.Verdict != nfttrace.Accepted {
		return o.Why
	}
	var parts []string
	dst := r.Dst.String()
	if r.Dst.Port() == 0 {
		dst = r.Dst.Addr().String()
	}
	switch {
	case r.DNAT:
		parts = append(parts, "accepted: DNAT to endpoint "+dst)
	default:
		parts = append(parts, "accepted: weft's rules leave the destination as it is (no service at "+dst+")")
	}
	switch {
	case o.Hairpin:
		parts = append(parts, "masqueraded (hairpin: the pod reaches itself)")
	case r.Masquerade:
		parts = append(parts, "masqueraded (the destination sees this node's address)")
	case r.SNAT.IsValid():
		parts = append(parts, "source NATed to "+r.SNAT.String())
	default:
		parts = append(parts, "source kept")
	}
	switch {
	case r.Local:
		parts = append(parts, "delivered to this node")
	case slices.Contains(r.Path, "forward"):
		parts = append(parts, "forwarded")
	default:
		parts = append(parts, "sent out")
	}
	return strings.Join(parts, ", ")
}
