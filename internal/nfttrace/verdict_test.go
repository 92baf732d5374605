package nfttrace

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// TestVerdicts checks jump, goto, return, accept and policies by the mark a later rule sets.
func TestVerdicts(t *testing.T) {
	pre := func(rules ...string) []knftables.Object {
		objs := []knftables.Object{base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
			nftChain("a"), nftChain("b"), nftRule("a", "meta mark set meta mark | 0x10")}
		for _, r := range rules {
			objs = append(objs, nftRule("pre", r))
		}
		return objs
	}
	for _, tc := range []struct {
		name     string
		objs     []knftables.Object
		wantMark uint32
		want     Verdict
	}{
		{name: "jump comes back", objs: pre("jump a", "meta mark set meta mark | 0x1"), wantMark: 0x11, want: Accepted},
		{name: "goto does not", objs: pre("goto a", "meta mark set meta mark | 0x1"), wantMark: 0x10, want: Accepted},
		{name: "return in a jumped chain", objs: append(pre("jump b", "meta mark set meta mark | 0x1"),
			nftRule("b", "return"), nftRule("b", "drop")), wantMark: 0x1, want: Accepted},
		{name: "goto to a chain that returns ends the caller too", objs: append(pre("jump b", "meta mark set meta mark | 0x1"),
			nftRule("b", "goto a"), nftRule("b", "drop")), wantMark: 0x11, want: Accepted},
		{name: "accept in a jumped chain ends the base chain", objs: append(pre("jump b", "meta mark set 0x1"),
			nftRule("b", "accept")), want: Accepted},
		{name: "drop in a jumped chain", objs: append(pre("jump b", "meta mark set 0x1"), nftRule("b", "drop")), want: Dropped},
		{name: "reject", objs: pre("reject with icmpx type port-unreachable"), want: Rejected},
		{name: "reject tcp reset", objs: pre("meta l4proto tcp reject with tcp reset"), want: Rejected},
		{name: "mark set literal", objs: pre("meta mark set 0x7 counter comment \"why\""), wantMark: 7, want: Accepted},
		{name: "mark and/xor", objs: pre("meta mark set 0xff", "meta mark set meta mark & 0xf0", "meta mark set meta mark ^ 0x1"),
			wantMark: 0xf1, want: Accepted},
		{name: "mark operators in order (egressroute's own bits)", objs: pre("meta mark set 0xff00ff",
			"meta mark set meta mark & 0xffff00ff | 0x1200 accept"), wantMark: 0xff12ff, want: Accepted},
		{name: "log and counter do nothing", objs: pre(`log prefix "x: " level info counter packets 3 bytes 4 drop`), want: Dropped},
		{name: "policy drop", objs: append(pre("goto a"), &knftables.Chain{Name: "later", Type: ptr.To(knftables.FilterType),
			Hook: ptr.To(knftables.PreroutingHook), Priority: ptr.To(knftables.BaseChainPriority("filter + 10")), Policy: ptr.To(knftables.DropPolicy)}),
			wantMark: 0x10, want: Dropped},
		{name: "accept ends one base chain, not the hook", objs: append(pre("accept"),
			base("later", knftables.FilterType, knftables.PreroutingHook, "filter + 10"), nftRule("later", "drop")), want: Dropped},
		{name: "priority orders base chains", objs: append(pre("meta mark set 0x2"),
			base("earlier", knftables.FilterType, knftables.PreroutingHook, "filter - 10"), nftRule("earlier", "meta mark 0x2 drop")),
			want: Accepted, wantMark: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := trace(t, load(t, tc.objs...), tcp4(), env())
			if r.Verdict != tc.want || r.Mark != tc.wantMark {
				t.Errorf("got %s mark 0x%x, want %s mark 0x%x\n%s", r.Verdict, r.Mark, tc.want, tc.wantMark, r)
			}
		})
	}
}

func TestVerdictMaps(t *testing.T) {
	svcs := &knftables.Map{Name: "svcs", Type: "ipv4_addr . inet_proto . inet_service : verdict"}
	objs := []knftables.Object{
		base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
		nftChain("svc-a"), nftChain("ep-1"), nftChain("ep-2"), svcs,
		mapElement("svcs", []string{"goto svc-a"}, "10.43.0.1", "tcp", "80"),
		nftRule("pre", "ip daddr . meta l4proto . th dport vmap @svcs"),
		nftRule("pre", "meta mark set 0x99"),
		nftRule("svc-a", "numgen random mod 2 vmap { 0 : goto ep-1 , 1 : goto ep-2 }"),
		nftRule("ep-1", "meta mark set 0x1"),
		nftRule("ep-2", "meta mark set 0x2"),
	}
	rs := load(t, objs...)

	r := trace(t, rs, tcp4(), env())
	if r.Mark != 1 || len(r.Choices) != 1 || r.Choices[0].Mod != 2 {
		t.Errorf("default pick: mark 0x%x, choices %v\n%s", r.Mark, r.Choices, r)
	}
	e := env()
	e.Numgen = []int{1}
	if r := trace(t, rs, tcp4(), e); r.Mark != 2 {
		t.Errorf("Numgen 1: mark 0x%x, want 0x2\n%s", r.Mark, r)
	}
	e.Numgen = []int{2}
	if _, err := rs.Trace(tcp4(), e); err == nil || !strings.Contains(err.Error(), "mod 2") {
		t.Errorf("Numgen out of range: err %v", err)
	}
	all, err := rs.TraceAll(tcp4(), env())
	if err != nil || len(all) != 2 || all[0].Mark != 1 || all[1].Mark != 2 {
		t.Fatalf("TraceAll: %v, %d results", err, len(all))
	}
	// A key the map lacks: the vmap rule does not match and the next rule runs.
	p := tcp4()
	p.DPort = 443
	if r := trace(t, rs, p, env()); r.Mark != 0x99 {
		t.Errorf("vmap miss: mark 0x%x, want 0x99\n%s", r.Mark, r)
	}
}

func TestAnonymousVmapByConcatenation(t *testing.T) {
	rs := load(t,
		base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
		nftChain("x"), nftRule("x", "drop"),
		nftRule("pre", "meta l4proto . th dport vmap { udp . 53 : accept, tcp . 80 : jump x }"))
	if r := trace(t, rs, tcp4(), env()); r.Verdict != Dropped {
		t.Errorf("got %s\n%s", r.Verdict, r)
	}
}

func TestJumpLoopIsAnError(t *testing.T) {
	rs := load(t,
		base("pre", knftables.FilterType, knftables.PreroutingHook, knftables.FilterPriority),
		nftChain("a"), nftChain("b"), nftRule("a", "jump b"), nftRule("b", "jump a"), nftRule("pre", "jump a"))
	if _, err := rs.Trace(tcp4(), env()); err == nil || !strings.Contains(err.Error(), "nested jumps") {
		t.Errorf("err %v, want nested jumps", err)
	}
}
