package nfttrace

import (
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ct state established,related accept", "ct|state|established,related|accept"},
		{"ip daddr { 10.0.0.1,10.0.0.2 }", "ip|daddr|{|10.0.0.1|,|10.0.0.2|}"},
		{"vmap { 0 : goto a, 1: goto b }", "vmap|{|0|:|goto|a|,|1|:|goto|b|}"},
		{"ip6 daddr { 2001:db8:: : accept }", "ip6|daddr|{|2001:db8::|:|accept|}"},
		{"dnat ip6 to [2001:db8::1]:80", "dnat|ip6|to|[2001:db8::1]:80"},
		{`log prefix "a b # c" drop # handle 4`, `log|prefix|"a b # c"|drop`},
		{"masquerade random,persistent", "masquerade|random,persistent"},
	} {
		toks, err := lex(tc.in)
		if err != nil || strings.Join(toks, "|") != tc.want {
			t.Errorf("lex(%q) = %q, %v; want %q", tc.in, strings.Join(toks, "|"), err, tc.want)
		}
	}
	for _, bad := range []string{"ip daddr { 1.2.3.4", "accept }", `comment "open`} {
		if _, err := lex(bad); err == nil {
			t.Errorf("lex(%q): no error", bad)
		}
	}
}

func TestParseAddToSet(t *testing.T) {
	// `add @set` is nft's other spelling of update; knftables' fake cannot hold it (it takes
	// `add @x` for a flowtable), so it comes from text here.
	rs, err := Parse(`table inet t {
	set seen {
		type ipv4_addr . inet_service
		flags dynamic
	}
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		add @seen { ip saddr . th dport }
		ip saddr . th dport @seen meta mark set 0x1
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	r := trace(t, rs, tcp4(), env())
	if r.Mark != 1 || len(r.Updates) != 1 {
		t.Errorf("mark 0x%x updates %v\n%s", r.Mark, r.Updates, r)
	}
}
