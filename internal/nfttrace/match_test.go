package nfttrace

import (
	"testing"

	"sigs.k8s.io/knftables"
)

// TestMatches puts one match in front of `drop` and says whether the packet meets it.
func TestMatches(t *testing.T) {
	svcSet := &knftables.Set{Name: "svc", Type: "ipv4_addr . inet_proto . inet_service"}
	cidrs := &knftables.Set{Name: "cidrs", Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}}
	cidrs6 := &knftables.Set{Name: "cidrs6", TypeOf: "ip6 saddr", Flags: []knftables.SetFlag{knftables.IntervalFlag}}
	marks := &knftables.Set{Name: "marks", Type: "mark"}
	for _, tc := range []struct {
		name  string
		match string
		objs  []knftables.Object
		pkt   func(*Packet)
		hit   bool
	}{
		{name: "ip saddr", match: "ip saddr 10.42.1.7", hit: true},
		{name: "ip saddr other", match: "ip saddr 10.42.1.8"},
		{name: "ip daddr prefix", match: "ip daddr 10.43.0.0/16", hit: true},
		{name: "ip daddr == prefix", match: "ip daddr == 10.43.0.0/16", hit: true},
		{name: "ip daddr != prefix", match: "ip daddr != 10.43.0.0/16"},
		{name: "ip daddr != other", match: "ip daddr != 127.0.0.0/8", hit: true},
		{name: "ip daddr range", match: "ip daddr 10.43.0.0-10.43.0.9", hit: true},
		{name: "ip saddr of an IPv6 packet", match: "ip saddr != 10.0.0.1", pkt: v6},
		{name: "ip6 daddr", match: "ip6 daddr 2001:cafe:43::/112", pkt: v6, hit: true},
		{name: "ip6 daddr of an IPv4 packet", match: "ip6 daddr != ::1"},
		{name: "anonymous set", match: "ip daddr { 10.43.0.9, 10.43.0.1 }", hit: true},
		{name: "anonymous set with prefix", match: "ip daddr { 10.0.0.0/8, 192.168.0.0/16 }", hit: true},
		{name: "not in anonymous set", match: "ip daddr != { 10.43.0.1, 10.43.0.2 }"},
		{name: "named set", match: "ip saddr @cidrs", objs: []knftables.Object{cidrs, elem("cidrs", "10.42.0.0/16")}, hit: true},
		{name: "named set miss", match: "ip saddr @cidrs", objs: []knftables.Object{cidrs, elem("cidrs", "10.44.0.0/16")}},
		{name: "not in named set", match: "ip saddr != @cidrs", objs: []knftables.Object{cidrs, elem("cidrs", "10.44.0.0/16")}, hit: true},
		{name: "empty named set", match: "ip saddr @cidrs", objs: []knftables.Object{cidrs}},
		{name: "typeof set", match: "ip6 saddr @cidrs6", objs: []knftables.Object{cidrs6, elem("cidrs6", "2001:cafe:42::/56")}, pkt: v6, hit: true},
		{name: "concatenated set", match: "ip daddr . meta l4proto . th dport @svc",
			objs: []knftables.Object{svcSet, elem("svc", "10.43.0.1", "tcp", "80")}, hit: true},
		{name: "concatenated set, other protocol", match: "ip daddr . meta l4proto . th dport @svc",
			objs: []knftables.Object{svcSet, elem("svc", "10.43.0.1", "udp", "80")}},
		{name: "concatenated set, key in one string", match: "ip daddr . meta l4proto . th dport @svc",
			objs: []knftables.Object{svcSet, elem("svc", "10.43.0.1 . tcp . 80")}, hit: true},
		{name: "concatenated anonymous set", match: "ip daddr . th dport { 10.43.0.1 . 443, 10.43.0.1 . 80 }", hit: true},
		{name: "meta l4proto", match: "meta l4proto tcp", hit: true},
		{name: "meta l4proto other", match: "meta l4proto udp"},
		{name: "meta l4proto set", match: "meta l4proto { udp, tcp }", hit: true},
		{name: "meta l4proto number", match: "meta l4proto 6", hit: true},
		{name: "ip protocol", match: "ip protocol tcp", hit: true},
		{name: "meta nfproto", match: "meta nfproto ipv6", pkt: v6, hit: true},
		{name: "th dport", match: "th dport 80", hit: true},
		{name: "th sport", match: "th sport 40000", hit: true},
		{name: "th dport range", match: "th dport 1-1024", hit: true},
		{name: "th dport of icmp", match: "th dport != 1", pkt: icmp},
		{name: "tcp dport", match: "tcp dport 80", hit: true},
		{name: "udp dport of tcp", match: "udp dport 80"},
		{name: "sctp dport", match: "sctp dport 80", pkt: func(p *Packet) { p.Proto = "sctp" }, hit: true},
		{name: "mark masked set", match: "meta mark & 0x20000000 != 0", pkt: mark(0x20000001), hit: true},
		{name: "mark masked clear", match: "meta mark & 0x20000000 != 0", pkt: mark(0x1)},
		{name: "mark masked == 0", match: "meta mark & 0x4000 == 0", hit: true},
		{name: "mark equal", match: "meta mark 0x1", pkt: mark(1), hit: true},
		{name: "bare mark", match: "mark != 0x1", pkt: mark(2), hit: true},
		{name: "mark named set", match: "meta mark @marks", objs: []knftables.Object{marks, elem("marks", "0x10")}, pkt: mark(16), hit: true},
		{name: "ct state new", match: "ct state new", hit: true},
		{name: "ct state established,related", match: "ct state established,related"},
		{name: "ct state established,related of established", match: "ct state established,related", pkt: established, hit: true},
		{name: "ct state set", match: "ct state { established, related }", pkt: established, hit: true},
		{name: "ct state !=", match: "ct state != new", pkt: established, hit: true},
		{name: "ct status dnat", match: "ct status dnat", pkt: func(p *Packet) { p.CtState, p.CtDNAT = CtEstablished, true }, hit: true},
		{name: "ct status dnat, not translated", match: "ct status dnat"},
		{name: "fib daddr type local", match: "fib daddr type local", pkt: toNode, hit: true},
		{name: "fib daddr type local, remote", match: "fib daddr type local"},
		{name: "fib daddr type != local", match: "fib daddr type != local", hit: true},
		{name: "fib saddr type local", match: "fib saddr type local", pkt: func(p *Packet) { p.Src = nodeIP }, hit: true},
		{name: "iifname", match: `iifname "eth0"`, pkt: func(p *Packet) { p.Iif = "eth0" }, hit: true},
		{name: "meta iifname other", match: `meta iifname != "lo"`, pkt: func(p *Packet) { p.Iif = "eth0" }, hit: true},
		{name: "two matches, second fails", match: "ip daddr 10.43.0.1 th dport 443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := append([]knftables.Object{
				base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
				nftRule("pre", tc.match+" drop"),
			}, tc.objs...)
			// Sets must exist before the rule that names them.
			objs = append(objs[2:], objs[:2]...)
			rs := load(t, objs...)
			p := tcp4()
			if tc.pkt != nil {
				tc.pkt(&p)
			}
			r := trace(t, rs, p, env())
			if got := r.Verdict == Dropped; got != tc.hit {
				t.Errorf("%q matched = %v, want %v\n%s", tc.match, got, tc.hit, r)
			}
		})
	}
}

func v6(p *Packet)          { *p = tcp6() }
func icmp(p *Packet)        { p.Proto = "icmp" }
func established(p *Packet) { p.CtState = CtEstablished }
func toNode(p *Packet)      { p.Dst = nodeIP }
func mark(m uint32) func(*Packet) {
	return func(p *Packet) { p.Mark = m }
}

func TestMatchDescribesValues(t *testing.T) {
	rs := load(t,
		base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
		nftRule("pre", "ip daddr . meta l4proto . th dport { 10.43.0.1 . tcp . 80 } meta mark & 0x2 == 0x2 counter accept"))
	p := tcp4()
	p.Mark = 3
	r := trace(t, rs, p, env())
	want := []string{"ip daddr . meta l4proto . th dport = 10.43.0.1 . tcp . 80", "meta mark & 0x2 = 0x2"}
	if len(r.Steps) != 2 || len(r.Steps[0].Matched) != 2 || r.Steps[0].Matched[0] != want[0] || r.Steps[0].Matched[1] != want[1] {
		t.Fatalf("steps:\n%s\nwant matched %q", r, want)
	}
	if r.Steps[0].Action != "accept" {
		t.Errorf("action %q, want accept", r.Steps[0].Action)
	}
}
