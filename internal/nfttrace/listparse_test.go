package nfttrace

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// testdata/list-ruleset.nft is what `nft -a list ruleset` (nftables 1.0.6) printed for a
// small service-proxy-like table and a second table, in a network namespace.
func TestParseListOutput(t *testing.T) {
	text, err := os.ReadFile("testdata/list-ruleset.nft")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(string(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// svc: mark only from outside the pods; then numgen picks ep-a (dnat 10.42.2.5:8080) or
	// ep-b (an IPv6 dnat that does not apply, so back in svc, to the map and its second draw).
	all, got := traceAll(t, rs, tcp4())
	want := "10.42.2.5:8080 10.42.2.5:8080 10.42.3.6:8080"
	if strings.Join(got, " ") != want {
		t.Errorf("destinations %q, want %q\n%s", got, want, all[0])
	}
	for _, r := range all {
		if r.Verdict != Accepted || !r.DNAT || r.Masquerade {
			t.Errorf("got %s dnat %v masquerade %v\n%s", r.Verdict, r.DNAT, r.Masquerade, r)
		}
	}

	// 10.42.1.9 is in the dynamic set (with timeout and expiry): affinity to ep-a.
	p := tcp4()
	p.Src = netip.MustParseAddr("10.42.1.9")
	if r := trace(t, rs, p, Env{Numgen: []int{1}}); r.Dst.String() != "10.42.2.5:8080" || len(r.Choices) != 0 {
		t.Errorf("affinity: to %s, choices %v\n%s", r.Dst, r.Choices, r)
	}

	// The forward filter: policy drop, established accepted, and a node address rejected.
	p = tcp4()
	p.Dst, p.CtState = netip.MustParseAddr("10.42.9.9"), CtEstablished
	if r := trace(t, rs, p, env()); r.Verdict != Accepted {
		t.Errorf("established: %s\n%s", r.Verdict, r)
	}
	p.CtState, p.Iif, p.DPort = CtNew, "eth0", 8443
	if r := trace(t, rs, p, env()); r.Verdict != Dropped || !strings.Contains(r.String(), "policy drop") {
		t.Errorf("new, not translated: %s\n%s", r.Verdict, r)
	}
	p.DPort = 80
	if r := trace(t, rs, p, env()); r.Verdict != Dropped || strings.Contains(r.String(), "policy drop") {
		t.Errorf("new, low port from eth0: %s\n%s", r.Verdict, r)
	}

	// The second table, family ip, sees the packet at input.
	p = tcp4()
	p.Dst, p.DPort = nodeIP, 22
	if r := trace(t, rs, p, env()); r.Verdict != Dropped || r.Steps[len(r.Steps)-1].Table != "ip other" {
		t.Errorf("ssh to the node: %s\n%s", r.Verdict, r)
	}
	p = tcp6()
	p.Dst, p.DPort = netip.MustParseAddr("::1"), 22
	if r := trace(t, rs, p, env()); r.Verdict != Accepted {
		t.Errorf("IPv6 ssh to the node: table ip applied\n%s", r)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"not a table", "chain x {\n}\n", "expected `table"},
		{"unbalanced", "table inet t {\n chain c {\n", "missing"},
		{"flowtable", "table inet t {\n flowtable f {\n hook ingress priority 0\n }\n}\n", "flowtable objects"},
		{"bridge family", "table bridge t {\n}\n", "not simulated"},
		{"bad rule", "table inet t {\n chain c {\n  ip daddr 1.2.3.4 queue num 1\n }\n}\n", `rule "ip daddr 1.2.3.4 queue num 1"`},
		{"bad base chain", "table inet t {\n chain c {\n  type filter hook ingress priority 0;\n }\n}\n", "hook"},
		{"bad set line", "table inet t {\n set s {\n  type ipv4_addr\n  frobnicate\n }\n}\n", "frobnicate"},
		{"bad element", "table inet t {\n set s {\n  type ipv4_addr\n  elements = { 10.0.0.1, nope }\n }\n}\n", "nope"},
		{"jump to nothing", "table inet t {\n chain c {\n  jump d\n }\n}\n", "no chain d"},
		{"dormant table", "table inet t {\n flags dormant\n chain c {\n }\n}\n", "flags dormant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one with %q", err, tc.want)
			}
		})
	}
}

// Comments come first in a table's body and in a chain's, before its type line (weft's
// tables all have one).
func TestParseComments(t *testing.T) {
	text := "table inet t {\n\tcomment \"weft: a {braced} # comment\"\n\tchain c {\n\t\tcomment \"why\"\n" +
		"\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n"
	rs, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	p := tcp4()
	p.Dst = nodeIP
	if r := trace(t, rs, p, env()); r.Verdict != Dropped {
		t.Errorf("the chain after the comment did not apply:\n%s", r)
	}
}
