package nfttrace

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// miniProxy is a service proxy in small: a ClusterIP with two endpoints picked at random
// through a map, a NodePort, masquerading by mark, and a filter that sees translated packets.
func miniProxy() []knftables.Object {
	return []knftables.Object{
		base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		base("nat-output", knftables.NATType, knftables.OutputHook, knftables.DNATPriority),
		base("nat-postrouting", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority),
		base("filter-forward", knftables.FilterType, knftables.ForwardHook, "filter - 10"),
		base("filter-input", knftables.FilterType, knftables.InputHook, "filter - 10"),
		nftChain("services"), nftChain("svc"), nftChain("ext"),
		&knftables.Set{Name: "pods", Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}},
		elem("pods", "10.42.0.0/16"),
		&knftables.Map{Name: "backends-v4",
			TypeOf: "ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport"},
		mapElement("backends-v4", []string{"10.42.2.5", "8080"}, "10.43.0.1", "tcp", "80", "0"),
		mapElement("backends-v4", []string{"10.42.3.6", "8080"}, "10.43.0.1", "tcp", "80", "1"),
		mapElement("backends-v4", []string{"10.42.2.5", "8080"}, "192.168.1.11", "tcp", "30080", "0"),
		mapElement("backends-v4", []string{"10.42.3.6", "8080"}, "192.168.1.11", "tcp", "30080", "1"),
		&knftables.Map{Name: "nodeports", Type: "inet_proto . inet_service : verdict"},
		mapElement("nodeports", []string{"goto ext"}, "tcp", "30080"),
		nftRule("nat-prerouting", "jump services"),
		nftRule("nat-output", "jump services"),
		nftRule("services", "ip daddr 10.43.0.1 tcp dport 80 goto svc"),
		nftRule("services", "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @nodeports"),
		nftRule("ext", "meta mark set meta mark | 0x20000000"),
		nftRule("ext", "goto svc"),
		nftRule("svc", "ip saddr != @pods meta mark set meta mark | 0x20000000"),
		nftRule("svc", "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends-v4"),
		nftRule("nat-postrouting", "meta mark & 0x20000000 != 0 masquerade fully-random"),
		nftRule("filter-forward", "ip daddr 10.42.9.9 drop"),
		nftRule("filter-input", "ct state new tcp dport 22 reject"),
	}
}

func TestDNATAndMasquerade(t *testing.T) {
	rs := load(t, miniProxy()...)
	fromOutside := netip.MustParseAddr("192.168.1.50")
	for _, tc := range []struct {
		name      string
		pkt       Packet
		numgen    []int
		wantDst   string
		wantMasq  bool
		wantPath  string
		wantLocal bool
	}{
		{name: "pod to ClusterIP", pkt: tcp4(), wantDst: "10.42.2.5:8080", wantPath: "prerouting forward postrouting"},
		{name: "pod to ClusterIP, second endpoint", pkt: tcp4(), numgen: []int{1}, wantDst: "10.42.3.6:8080",
			wantPath: "prerouting forward postrouting"},
		{name: "outside to ClusterIP is masqueraded", pkt: with(tcp4(), func(p *Packet) { p.Src = fromOutside }),
			wantDst: "10.42.2.5:8080", wantMasq: true, wantPath: "prerouting forward postrouting"},
		{name: "NodePort", pkt: with(tcp4(), func(p *Packet) { p.Src, p.Dst, p.DPort = fromOutside, nodeIP, 30080 }),
			wantDst: "10.42.2.5:8080", wantMasq: true, wantPath: "prerouting forward postrouting"},
		{name: "node to ClusterIP: output, and the node's source is masqueraded",
			pkt:     with(tcp4(), func(p *Packet) { p.Src, p.Local = nodeIP, true }),
			wantDst: "10.42.2.5:8080", wantMasq: true, wantPath: "output postrouting"},
		{name: "node to its own NodePort", pkt: with(tcp4(), func(p *Packet) { p.Src, p.Dst, p.DPort, p.Local = nodeIP, nodeIP, 30080, true }),
			wantDst: "10.42.2.5:8080", wantMasq: true, wantPath: "output postrouting"},
		{name: "node to itself, no service: looped back, nat chains skipped", pkt: with(tcp4(), func(p *Packet) { p.Src, p.Dst, p.DPort, p.Local = nodeIP, nodeIP, 9000, true }),
			wantDst: "192.168.1.11:9000", wantPath: "output postrouting prerouting input", wantLocal: true},
		{name: "not a service", pkt: with(tcp4(), func(p *Packet) { p.DPort = 443 }), wantDst: "10.43.0.1:443",
			wantPath: "prerouting forward postrouting"},
		{name: "established: nat chains skipped", pkt: with(tcp4(), established), wantDst: "10.43.0.1:80",
			wantPath: "prerouting forward postrouting"},
		{name: "to the node itself", pkt: with(tcp4(), func(p *Packet) { p.Dst, p.DPort = nodeIP, 10250 }),
			wantDst: "192.168.1.11:10250", wantPath: "prerouting input", wantLocal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env()
			e.Numgen = tc.numgen
			r := trace(t, rs, tc.pkt, e)
			if r.Verdict != Accepted || r.Dst.String() != tc.wantDst || r.Masquerade != tc.wantMasq ||
				strings.Join(r.Path, " ") != tc.wantPath || r.Local != tc.wantLocal || r.DNAT != (tc.wantDst != netip.AddrPortFrom(tc.pkt.Dst, tc.pkt.DPort).String()) {
				t.Errorf("got %s to %s masq %v path %q local %v, want to %s masq %v path %q local %v\n%s",
					r.Verdict, r.Dst, r.Masquerade, strings.Join(r.Path, " "), r.Local, tc.wantDst, tc.wantMasq, tc.wantPath, tc.wantLocal, r)
			}
		})
	}
}

func with(p Packet, f func(*Packet)) Packet {
	f(&p)
	return p
}

func TestLaterHooksSeeTheNewDestination(t *testing.T) {
	objs := append(miniProxy(), &knftables.Map{Name: "more", Type: "ipv4_addr : verdict"})
	objs = append(objs,
		// Ahead of everything else: 10.43.0.2 goes where the forward filter drops.
		nftRule("nat-prerouting", "ip daddr 10.43.0.2 dnat ip to 10.42.9.9"),
		// DNAT to the node itself: routing now delivers it locally, where port 22 is refused.
		nftRule("nat-prerouting", "ip daddr 10.43.0.3 dnat ip to 192.168.1.11:22"))
	rs := load(t, objs...)
	// The rules above come after `jump services`, which does not match these addresses.
	r := trace(t, rs, with(tcp4(), func(p *Packet) { p.Dst = netip.MustParseAddr("10.43.0.2") }), env())
	if r.Verdict != Dropped || r.Dst.String() != "10.42.9.9:80" || !slices.Equal(r.Path, []string{"prerouting", "forward"}) {
		t.Errorf("dnat then forward filter: got %s to %s via %v\n%s", r.Verdict, r.Dst, r.Path, r)
	}
	r = trace(t, rs, with(tcp4(), func(p *Packet) { p.Dst = netip.MustParseAddr("10.43.0.3") }), env())
	if r.Verdict != Rejected || !r.Local || r.Dst.String() != "192.168.1.11:22" {
		t.Errorf("dnat to the node: got %s to %s local %v\n%s", r.Verdict, r.Dst, r.Local, r)
	}
}

func TestTraceAllEnumeratesEndpoints(t *testing.T) {
	_, got := traceAll(t, load(t, miniProxy()...), tcp4())
	if !slices.Equal(got, []string{"10.42.2.5:8080", "10.42.3.6:8080"}) {
		t.Errorf("destinations %v", got)
	}
}

func TestDNATv6AndSNAT(t *testing.T) {
	rs := load(t,
		base("pre", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		base("post", knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority),
		// The IPv4 rule does not apply to an IPv6 packet: nft makes it depend on the family.
		nftRule("pre", "dnat ip to 10.42.2.5:8080"),
		nftRule("pre", "meta l4proto tcp dnat ip6 to [2001:cafe:42:2::5]:8080"),
		nftRule("post", "ip6 daddr 2001:cafe:42::/56 snat ip6 to 2001:db8::1"))
	r := trace(t, rs, tcp6(), env())
	if r.Dst.String() != "[2001:cafe:42:2::5]:8080" || !r.DNAT || r.SNAT.String() != "2001:db8::1" {
		t.Errorf("got to %s snat %s\n%s", r.Dst, r.SNAT, r)
	}
	// Only one destination translation per connection: the first nat rule that applies.
	r = trace(t, rs, tcp4(), env())
	if r.Dst.String() != "10.42.2.5:8080" || r.SNAT.IsValid() {
		t.Errorf("IPv4: got to %s snat %s\n%s", r.Dst, r.SNAT, r)
	}
}

func TestNATChainsRunOncePerTranslation(t *testing.T) {
	rs := load(t,
		base("a", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		base("b", knftables.NATType, knftables.PreroutingHook, "dstnat + 1"),
		nftRule("a", "dnat ip to 10.42.2.5"),
		nftRule("b", "dnat ip to 10.42.3.6"))
	r := trace(t, rs, tcp4(), env())
	if r.Dst.String() != "10.42.2.5:80" || !strings.Contains(r.String(), "already set up") {
		t.Errorf("got to %s\n%s", r.Dst, r)
	}
}
