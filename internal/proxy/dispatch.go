package proxy

import (
	"fmt"

	"github.com/weftnet/weft/internal/nft"
)

// A plain port's packets reach its pick chain through sets, not a verdict map. Adding an
// element whose value is a goto makes the kernel validate every goto of every verdict map the
// packet path can reach, walking all their elements on each change: with 30k services in one
// verdict map, adding one goto element took nft 6 to 10 ms where a set element took 2.5 to
// 3.5 ms, and the map is reached from two hooks. So a plain port puts only set elements in the
// table: its address and port join the set of its pick chain ("to-pick-v4-tcp-2"), and one rule
// per pick chain in use, in the family's dispatch chain, sends what is in that set there. Set
// elements need no validation: a change costs the same at 30k services as at one. Gates lead to
// the dispatch chain: the set of cluster IPs (which the table holds anyway), a set of the plain
// services' external addresses and ports, and one of their node ports. A new connection to a
// plain service tests the gates, then the sets of the pick chains in use (a handful: one per
// protocol and endpoint count); any other new connection tests the gates alone.

// dispatchRule is the rule that sends a pick chain's set to the chain, and the dispatch chain
// it belongs in.
type dispatchRule struct {
	chain string
	rule  nft.Rule
}

// plainChain holds the family's dispatch rules for cluster IPs, plainExternalChain those for
// external addresses, plainNodePortsChain those for node ports; the gate sets lead to them.
// Three chains, so that a packet meets only the rules of its kind of address.
func plainChain(f fam) string          { return "plain-" + f.suffix }
func plainExternalChain(f fam) string  { return "plain-external-" + f.suffix }
func plainNodePortsChain(f fam) string { return "plain-nodeports-" + f.suffix }
func plainIPsSet(f fam) string         { return "plain-external-ips-" + f.suffix }
func plainNodePortsSet(f fam) string   { return "plain-nodeports-" + f.suffix }
func pickSet(chain string) string      { return "to-" + chain }

// toPick sends a service address and port to the pick chain; an external address also joins
// the gate set (a cluster IP is in cluster-ips already).
func (c *contribution) toPick(f fam, chain, proto, ip, port string, external bool) {
	dispatch := plainChain(f)
	if external {
		dispatch = plainExternalChain(f)
		c.element(plainIPsSet(f), []string{ip, proto, port})
	}
	c.dispatchSet(chain, f.addrType+" . inet_service", []string{ip, port},
		dispatchRule{dispatch, rule(whyDispatch, fmt.Sprintf("%s daddr . %s dport @%s goto %s", f.match, proto, pickSet(chain), chain))})
}

// toNodePortPick sends a node port to the nodeport-pick chain.
func (c *contribution) toNodePortPick(f fam, chain, proto, nodePort string) {
	c.dispatchSet(chain, "inet_service", []string{nodePort},
		dispatchRule{plainNodePortsChain(f), rule(whyDispatch, fmt.Sprintf("%s dport @%s goto %s", proto, pickSet(chain), chain))})
	c.element(plainNodePortsSet(f), []string{proto, nodePort})
}

func (c *contribution) dispatchSet(chain, typ string, key []string, d dispatchRule) {
	set := pickSet(chain)
	if c.dispatch == nil {
		c.dispatch = map[string]dispatchRule{}
	}
	c.AddSet(&nft.Set{Name: set, Type: typ})
	c.dispatch[set] = d
	c.element(set, key)
}
