package dns

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzMessage feeds raw packets through the path a query takes: whatever unpacks is answered
// without a panic, and every answer packs again. Seeds: testdata/fuzz/FuzzMessage.
func FuzzMessage(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"kubernetes.default.svc.cluster.local.", dns.TypeA}, {"_http._tcp.db.default.svc.cluster.local.", dns.TypeSRV},
		{"5.1.42.10.in-addr.arpa.", dns.TypePTR}, {"2001-cafe-42-1--5.default.pod.cluster.local.", dns.TypeAAAA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(4096, true)
		b, _ := m.Pack()
		f.Add(b)
	}
	h := testHandler(&testing.T{}, fixture())
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return // the server answers these FORMERR itself, or not at all
		}
		w := &fakeWriter{local: &net.UDPAddr{}}
		h.ServeDNS(w, req)
		if w.msg == nil {
			t.Fatal("no answer")
		}
		if _, err := w.msg.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, w.msg)
		}
	})
}

// FuzzName checks the name parsing: a dashed label reads back to an address that dashes to an
// equal label, and a pod lookup of any name never panics. Seeds: testdata/fuzz/FuzzName.
func FuzzName(f *testing.F) {
	for _, s := range []string{"10-42-1-5", "2001-cafe-42-1--5", "--1", "fe80--1-2", "1-2-3", "a.b.pod.cluster.local."} {
		f.Add(s)
	}
	idx := &podIndex{byNamespace: map[string]map[netip.Addr]int32{"default": {netip.MustParseAddr("10.42.1.5"): 1}}}
	f.Fuzz(func(t *testing.T, s string) {
		if a, ok := undashed(s); ok {
			back, ok := undashed(dashed(a))
			if !ok || back != a {
				t.Fatalf("%q -> %s -> %q -> %s", s, a, dashed(a), back)
			}
		}
		name := dns.CanonicalName(s + ".default.pod.cluster.local.")
		_ = idx.lookup(name, "cluster.local.", 5)
		_ = idx.exists(strings.ToLower(s)+".cluster.local.", "cluster.local.")
	})
}
