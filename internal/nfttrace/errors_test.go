package nfttrace

import (
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// TestUnsupportedIsAnError: whatever the tracer cannot simulate fails loudly, naming the
// rule, when the ruleset is loaded.
func TestUnsupportedIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name string
		objs []knftables.Object
		want string // in the error, besides the rule
	}{
		{name: "unknown statement", objs: []knftables.Object{nftRule("pre", "limit rate 10/second accept")}, want: `at "limit"`},
		{name: "unknown selector", objs: []knftables.Object{nftRule("pre", "ip dscp cs1 drop")}, want: `"ip dscp"`},
		{name: "unknown field of ct", objs: []knftables.Object{nftRule("pre", "ct mark 0x1 drop")}, want: `"ct mark"`},
		{name: "bad literal", objs: []knftables.Object{nftRule("pre", "ip daddr 10.0.0.300 drop")}, want: "10.0.0.300"},
		{name: "literal of the other family", objs: []knftables.Object{nftRule("pre", "ip daddr 2001:db8::1 drop")}, want: "IPv4"},
		{name: "anonymous dnat map", objs: []knftables.Object{nftRule("pre", "dnat ip to ip daddr map { 10.0.0.1 : 10.0.0.2 }")}, want: "named map"},
		{name: "masquerade to a port", objs: []knftables.Object{nftRule("pre", "masquerade to :1000")}, want: "masquerade to"},
		{name: "numgen offset", objs: []knftables.Object{nftRule("pre", "numgen random mod 2 offset 1 vmap { 1 : accept }")}, want: "offset"},
		{name: "set key of another type", objs: []knftables.Object{&knftables.Set{Name: "s", Type: "ipv4_addr"},
			nftRule("pre", "th dport @s drop")}, want: "does not fit"},
		{name: "verdict map that is no verdict map", objs: []knftables.Object{&knftables.Map{Name: "m", Type: "ipv4_addr : ipv4_addr"},
			nftRule("pre", "ip daddr vmap @m")}, want: "data type"},
		{name: "set type not simulated", objs: []knftables.Object{&knftables.Set{Name: "s", Type: "ether_addr"}}, want: "ether_addr"},
		{name: "element not of the set's type", objs: []knftables.Object{&knftables.Set{Name: "s", Type: "ipv4_addr . inet_service"},
			elem("s", "10.0.0.1")}, want: "element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := append([]knftables.Object{base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority)}, tc.objs...)
			_, err := FromFake(fakeWith(t, objs...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one with %q", err, tc.want)
			}
			for _, o := range tc.objs {
				if r, ok := o.(*knftables.Rule); ok && !strings.Contains(err.Error(), r.Rule) {
					t.Errorf("error %q does not name the rule %q", err, r.Rule)
				}
			}
		})
	}
}

// TestTraceErrors: what only the packet's way shows, the trace reports, naming the rule.
func TestTraceErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		objs []knftables.Object
		want string
	}{
		{name: "dnat in a filter chain", objs: []knftables.Object{nftRule("pre", "dnat ip to 10.0.0.1")}, want: "from a filter chain"},
		{name: "masquerade at prerouting", objs: []knftables.Object{
			base("nat", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority), nftRule("nat", "masquerade")},
			want: "masquerade at prerouting"},
		{name: "iifname of a packet without one", objs: []knftables.Object{nftRule("pre", `iifname "eth0" accept`)}, want: "Iif"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := append([]knftables.Object{base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority)}, tc.objs...)
			_, err := load(t, objs...).Trace(tcp4(), env())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rule") {
				t.Fatalf("err %v, want one naming the rule with %q", err, tc.want)
			}
		})
	}
}

func TestBadPacket(t *testing.T) {
	rs := load(t)
	for _, p := range []Packet{
		{},
		with(tcp4(), func(p *Packet) { p.Dst = tcp6().Dst }),
		with(tcp4(), func(p *Packet) { p.Proto = "gre" }),
		with(tcp4(), func(p *Packet) { p.CtState = "old" }),
		with(tcp6(), func(p *Packet) { p.Proto = "icmp" }),
	} {
		if _, err := rs.Trace(p, env()); err == nil {
			t.Errorf("packet %+v: no error", p)
		}
	}
}
