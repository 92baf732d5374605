package nfttrace

import (
	"testing"

	"sigs.k8s.io/knftables"
)

// The seeds are in testdata/fuzz; `go test -fuzz FuzzParseRule` grows them.

// FuzzParseRule: any rule text either fails to parse or loads and traces without a panic.
func FuzzParseRule(f *testing.F) {
	f.Add("ip daddr . meta l4proto . th dport vmap @m")
	f.Fuzz(func(t *testing.T, text string) {
		tb, err := newTable(knftables.InetFamily, "f")
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			tb.addChain("pre", "nat", "prerouting", "dstnat", ""),
			tb.addChain("a", "", "", "", ""),
			tb.addSet("s", "ipv4_addr", "", false),
			tb.addSet("m", "ipv4_addr . inet_proto . inet_service : verdict", "", true),
			tb.addElement("m", []string{"10.43.0.1", "tcp", "80"}, []string{"goto a"}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if tb.addRule("pre", text) != nil || tb.addRule("a", text) != nil || tb.check() != nil {
			return
		}
		traceBoth(&Ruleset{tables: []*table{tb}})
	})
}

// FuzzParse: any text either fails to parse or traces without a panic.
func FuzzParse(f *testing.F) {
	f.Add("table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\taccept\n\t}\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse(text)
		if err != nil {
			return
		}
		traceBoth(rs)
	})
}

// traceBoth traces an IPv4 and an IPv6 packet, from outside and from the node; errors are
// fine, panics and endless loops are not.
func traceBoth(rs *Ruleset) {
	for _, p := range []Packet{tcp4(), tcp6()} {
		p.Iif = "eth0"
		_, _ = rs.TraceAll(p, env())
		p.Local = true
		_, _ = rs.TraceAll(p, env())
	}
}
