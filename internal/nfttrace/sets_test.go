package nfttrace

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// affinity is session affinity as a proxy writes it: a client seen by an endpoint goes back
// to it; others are spread at random.
func affinity() []knftables.Object {
	dyn := func(name string) *knftables.Set {
		return &knftables.Set{Name: name, Type: "ipv4_addr", Timeout: ptr.To(3 * time.Hour),
			Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag}}
	}
	return []knftables.Object{
		base("nat-prerouting", knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		nftChain("ep-a"), nftChain("ep-b"), dyn("aff-a"), dyn("aff-b"),
		nftRule("nat-prerouting", "ip saddr @aff-a goto ep-a"),
		nftRule("nat-prerouting", "ip saddr @aff-b goto ep-b"),
		nftRule("nat-prerouting", "numgen random mod 2 vmap { 0 : goto ep-a , 1 : goto ep-b }"),
		nftRule("ep-a", "update @aff-a { ip saddr }"),
		nftRule("ep-a", "meta l4proto tcp dnat ip to 10.42.2.5:8080"),
		nftRule("ep-b", "update @aff-b { ip saddr }"),
		nftRule("ep-b", "meta l4proto tcp dnat ip to 10.42.3.6:8080"),
	}
}

func TestSetUpdatesCarryOver(t *testing.T) {
	rs := load(t, affinity()...)
	e := env()
	e.Numgen = []int{1}
	first := trace(t, rs, tcp4(), e)
	want := []SetUpdate{{Table: "inet t", Set: "aff-b", Key: []string{"10.42.1.7"}}}
	if first.Dst.String() != "10.42.3.6:8080" || !slices.EqualFunc(first.Updates, want, func(a, b SetUpdate) bool {
		return a.Table == b.Table && a.Set == b.Set && slices.Equal(a.Key, b.Key)
	}) {
		t.Fatalf("first: to %s, updates %v\n%s", first.Dst, first.Updates, first)
	}
	// The second connection of the same client draws 0 but affinity wins.
	e.Numgen, e.Sets = []int{0}, first.Updates
	second := trace(t, rs, with(tcp4(), func(p *Packet) { p.SPort++ }), e)
	if second.Dst.String() != "10.42.3.6:8080" || len(second.Choices) != 0 || len(second.Updates) != 0 {
		t.Errorf("second: to %s, choices %v, updates %v\n%s", second.Dst, second.Choices, second.Updates, second)
	}
	// Another client is not affected.
	other := trace(t, rs, with(tcp4(), func(p *Packet) { p.Src = netip.MustParseAddr("10.42.1.8") }), e)
	if other.Dst.String() != "10.42.2.5:8080" {
		t.Errorf("other client: to %s\n%s", other.Dst, other)
	}
}

func TestSetUpdateSeenWithinTrace(t *testing.T) {
	rs := load(t,
		base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
		base("fwd", knftables.FilterType, knftables.ForwardHook, knftables.FilterPriority),
		&knftables.Set{Name: "seen", Type: "ipv4_addr . inet_service", Flags: []knftables.SetFlag{knftables.DynamicFlag}},
		nftRule("pre", "update @seen { ip saddr . th dport timeout 10s }"),
		nftRule("fwd", "ip saddr . th dport @seen meta mark set 0x5"))
	r := trace(t, rs, tcp4(), env())
	if r.Mark != 5 || len(r.Updates) != 1 || strings.Join(r.Updates[0].Key, " ") != "10.42.1.7 80" {
		t.Errorf("mark 0x%x updates %v\n%s", r.Mark, r.Updates, r)
	}
}

func TestEnvSetsMustName(t *testing.T) {
	rs := load(t, affinity()...)
	e := env()
	e.Sets = []SetUpdate{{Set: "nope", Key: []string{"10.0.0.1"}}}
	if _, err := rs.Trace(tcp4(), e); err == nil {
		t.Error("a missing set: no error")
	}
	e.Sets = []SetUpdate{{Set: "aff-a", Key: []string{"not-an-address"}}}
	if _, err := rs.Trace(tcp4(), e); err == nil || !strings.Contains(err.Error(), "aff-a") {
		t.Errorf("a bad key: %v", err)
	}
}
