package nfttrace

import (
	"fmt"
	"net/netip"
)

// CtState is the conntrack state the packet arrives with.
type CtState string

const (
	CtNew         CtState = "new"
	CtEstablished CtState = "established"
	CtRelated     CtState = "related"
	CtInvalid     CtState = "invalid"
	CtUntracked   CtState = "untracked"
)

// Packet is what the tracer follows. Its family is its addresses' family.
type Packet struct {
	Src, Dst     netip.Addr
	Proto        string // tcp, udp, sctp, icmp or icmpv6
	SPort, DPort uint16 // ignored for icmp
	Mark         uint32
	// CtState is new when empty. Only a new connection's first packet sees nat chains.
	CtState CtState
	// CtDNAT says an established connection was destination-NATed (`ct status dnat`); a new
	// one gets it from the trace's own dnat.
	CtDNAT bool
	// Iif is the input interface, for `iifname`; empty means unknown, and a rule that reads
	// it is an error rather than a guess. Locally generated packets have none.
	Iif string
	// Local says the node itself sent the packet: it starts at output, not prerouting.
	Local bool
}

// Env is what the packet meets besides the rules.
type Env struct {
	// LocalAddrs are the node's own addresses: `fib ... type local`, and where routing
	// delivers locally rather than forwarding. Loopback addresses are always local.
	LocalAddrs []netip.Addr
	// Numgen picks the result of each `numgen random` the trace evaluates, in order; one
	// missing is 0. TraceAll tries every combination instead.
	Numgen []int
	// Sets holds elements that dynamic sets had before this packet, such as the Updates of
	// an earlier trace, to follow a second connection of the same client.
	Sets []SetUpdate
}

// SetUpdate is an element added to a named set at run time (`update @set { ip saddr }`).
type SetUpdate struct {
	Table string // "inet weft-proxy"
	Set   string
	Key   []string
}

// Verdict is the packet's fate.
type Verdict string

const (
	Accepted Verdict = "accepted"
	Dropped  Verdict = "dropped"
	Rejected Verdict = "rejected"
)

// Step is one thing that happened: a rule that matched, a chain's policy, a routing decision.
type Step struct {
	Hook  string // prerouting, input, forward, output, postrouting
	Table string // "inet weft-proxy"; empty for routing steps
	Chain string
	Rule  string // the rule's text, without its comment; empty for a policy or a routing step
	// Comment is what the rule says it is for (its comment), "" without one.
	Comment string
	// Matched lists what the rule read from the packet, `ip daddr . th dport = 10.43.0.1 . 80`.
	Matched []string
	Action  string // "goto svc-x", "dnat to 10.42.0.5:8080", "policy drop", "route: forward"
}

// Choice is one `numgen random` the trace met and the branch it took.
type Choice struct {
	Rule   string
	Mod    int
	Picked int
}

// Result is how the packet went.
type Result struct {
	Verdict Verdict
	Steps   []Step
	// Path lists the hooks the packet went through, in order.
	Path []string
	// Local says routing delivered the packet to the node itself (input), not forwarded it.
	Local      bool
	Dst        netip.AddrPort // after any DNAT; port 0 for icmp
	DNAT       bool
	Masquerade bool
	SNAT       netip.Addr // the source `snat to` gave, if any
	Mark       uint32
	Choices    []Choice
	Updates    []SetUpdate
}

func (p Packet) validate() error {
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return fmt.Errorf("packet needs a source and a destination address")
	}
	if p.Src.Is4() != p.Dst.Is4() {
		return fmt.Errorf("packet mixes families: %s -> %s", p.Src, p.Dst)
	}
	if _, ok := protoNumbers[p.Proto]; !ok {
		return fmt.Errorf("packet protocol %q: want tcp, udp, sctp, icmp or icmpv6", p.Proto)
	}
	if p.Proto == "icmp" && !p.Dst.Is4() || p.Proto == "icmpv6" && p.Dst.Is4() {
		return fmt.Errorf("packet protocol %s does not go with %s", p.Proto, p.Dst)
	}
	if st := p.CtState; st != "" {
		if _, ok := ctStates[string(st)]; !ok {
			return fmt.Errorf("packet ct state %q is unknown", st)
		}
	}
	return nil
}

func (p Packet) hasPorts() bool { return p.Proto == "tcp" || p.Proto == "udp" || p.Proto == "sctp" }
