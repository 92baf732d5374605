package dns

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream runs a resolver on 127.0.0.1 (UDP and TCP, one port) that answers every A question
// with n addresses and counts what it was asked over each transport.
type upstream struct {
	addr     string
	udp, tcp atomic.Int32
}

func startUpstream(t *testing.T, n int, rcode int) *upstream {
	t.Helper()
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback UDP:", err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skip("no loopback TCP on the same port:", err)
	}
	u.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
			u.udp.Add(1)
		} else {
			u.tcp.Add(1)
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Rcode = rcode
		if rcode == dns.RcodeNameError {
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60}, Ns: "ns.example.", Mbox: "h.example.", Minttl: 30}}
		}
		for i := range n {
			m.Answer = append(m.Answer, addressRR(r.Question[0].Name, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 60))
		}
		if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
			m.Truncate(dns.MinMsgSize)
		}
		_ = w.WriteMsg(m)
	})
	servers := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}
	for _, s := range servers {
		go func() { _ = s.ActivateAndServe() }()
	}
	t.Cleanup(func() { shutdown(&served{servers: servers}) })
	time.Sleep(20 * time.Millisecond)
	return u
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	return m
}

func TestForwardCachesAndCountsDown(t *testing.T) {
	u := startUpstream(t, 1, dns.RcodeSuccess)
	now := time.Unix(1000, 0)
	f := newForwarder(func(string) []string { return []string{u.addr} }, newCache(10, time.Minute), nil)
	f.now = func() time.Time { return now }
	for range 3 {
		m, err := f.forward(question("Example.org.", dns.TypeA))
		if err != nil || m.Id != 4242 || len(m.Answer) != 1 {
			t.Fatalf("forward: %v %v", m, err)
		}
	}
	if got := u.udp.Load(); got != 1 {
		t.Fatalf("upstream asked %d times, want once (the cache answers the rest)", got)
	}
	now = now.Add(20 * time.Second)
	m, _ := f.forward(question("example.org.", dns.TypeA))
	if ttl := m.Answer[0].Header().Ttl; ttl != 40 {
		t.Fatalf("cached TTL %d after 20 s, want 40", ttl)
	}
	now = now.Add(41 * time.Second) // past the minute's cap and the TTL
	_, _ = f.forward(question("example.org.", dns.TypeA))
	if got := u.udp.Load(); got != 2 {
		t.Fatalf("upstream asked %d times after expiry, want 2", got)
	}
}

func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	u := startUpstream(t, 80, dns.RcodeSuccess)
	f := newForwarder(func(string) []string { return []string{u.addr} }, nil, nil)
	m, err := f.forward(question("big.example.", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	if m.Truncated || len(m.Answer) != 80 || u.tcp.Load() != 1 {
		t.Fatalf("TC=%v answers=%d tcp=%d, want the whole answer over TCP", m.Truncated, len(m.Answer), u.tcp.Load())
	}
}

func TestForwardNegativeCachedBySOA(t *testing.T) {
	u := startUpstream(t, 0, dns.RcodeNameError)
	f := newForwarder(func(string) []string { return []string{u.addr} }, newCache(10, time.Hour), nil)
	for range 2 {
		m, err := f.forward(question("nope.example.", dns.TypeA))
		if err != nil || m.Rcode != dns.RcodeNameError {
			t.Fatalf("%v %v", m, err)
		}
	}
	if got := u.udp.Load(); got != 1 {
		t.Fatalf("upstream asked %d times, want once", got)
	}
}

func TestForwardFailsOverAndReportsServfail(t *testing.T) {
	bad := startUpstream(t, 0, dns.RcodeServerFailure)
	good := startUpstream(t, 1, dns.RcodeSuccess)
	m := newMetrics(nil)
	f := newForwarder(func(string) []string { return []string{bad.addr, good.addr} }, nil, m)
	if r, err := f.forward(question("x.example.", dns.TypeA)); err != nil || len(r.Answer) != 1 {
		t.Fatalf("second upstream not tried: %v %v", r, err)
	}
	h := &handler{fwd: newForwarder(func(string) []string { return []string{bad.addr} }, nil, nil)}
	if r, _ := h.respond(question("x.example.", dns.TypeA)); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s with only a failing upstream, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestExternalNameFollowedUpstream(t *testing.T) {
	u := startUpstream(t, 1, dns.RcodeSuccess)
	h := testHandler(t, fixture())
	h.fwd = newForwarder(func(string) []string { return []string{u.addr} }, nil, nil)
	m := ask(h, "ext.default.svc.cluster.local.", dns.TypeA)
	if got := rdata(m.Answer); !slices.Equal(got, []string{"A 192.0.2.1", "CNAME external.lab.example."}) {
		t.Fatalf("answer %q", got)
	}
}

func TestCacheSizeBounded(t *testing.T) {
	c := newCache(2, time.Minute)
	now := time.Unix(0, 0)
	for _, n := range []string{"a.", "b.", "c."} {
		m := question(n, dns.TypeA)
		m.Answer = []dns.RR{addressRR(n, netip.MustParseAddr("192.0.2.1"), 30)}
		c.put(keyOf(m), m, now)
	}
	if c.len() != 2 {
		t.Fatalf("%d entries, want at most 2", c.len())
	}
}

func TestUpstreamsLeaveOutOwnAddresses(t *testing.T) {
	s := New(Defaults(), nil, nil, nil, nil)
	s.upstreams = []string{"10.43.0.10:53", "192.168.1.1:53"}
	s.held = []netip.Addr{netip.MustParseAddr("10.43.0.10")}
	if got := s.currentUpstreams("example.org."); !slices.Equal(got, []string{"192.168.1.1:53"}) {
		t.Fatalf("upstreams %v", got)
	}
}

// TestPartialNames: kubernetes.default. (what busybox nslookup asks) is an alias of the
// Service's name once the upstream says the name does not exist; a real name is never shadowed.
func TestPartialNames(t *testing.T) {
	nx := startUpstream(t, 0, dns.RcodeNameError)
	h := testHandler(t, fixture())
	h.fwd = newForwarder(func(string) []string { return []string{nx.addr} }, nil, nil)
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"kubernetes.default.", []string{"A 10.43.0.1", "CNAME kubernetes.default.svc.cluster.local."}},
		{"Web.Default.svc.", []string{"A 10.43.0.20", "CNAME web.default.svc.cluster.local."}},
		{"nope.default.", nil},
		{"kubernetes.default.example.", nil},
	} {
		m := ask(h, c.q, dns.TypeA)
		if got := rdata(m.Answer); !slices.Equal(got, c.want) {
			t.Errorf("%s: answer %q, want %q", c.q, got, c.want)
		}
		if c.want == nil && m.Rcode != dns.RcodeNameError {
			t.Errorf("%s: %s, want NXDOMAIN", c.q, dns.RcodeToString[m.Rcode])
		}
	}
	real := startUpstream(t, 1, dns.RcodeSuccess)
	h.fwd = newForwarder(func(string) []string { return []string{real.addr} }, nil, nil)
	if got := rdata(ask(h, "kubernetes.default.", dns.TypeA).Answer); !slices.Equal(got, []string{"A 192.0.2.1"}) {
		t.Errorf("a name that exists upstream was shadowed: %q", got)
	}
}

func TestStubZones(t *testing.T) {
	o := Defaults()
	o.StubZones = []string{"corp.example=10.0.0.53", "lab.corp.example=[fd00::53]:5353", "corp.example=10.0.0.54"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	s := New(o, nil, nil, nil, nil)
	s.upstreams = []string{"192.168.1.1:53"}
	for name, want := range map[string][]string{
		"www.corp.example.":     {"10.0.0.53:53", "10.0.0.54:53"},
		"a.lab.corp.example.":   {"[fd00::53]:5353"},
		"corp.example.":         {"10.0.0.53:53", "10.0.0.54:53"},
		"notcorp.example.":      {"192.168.1.1:53"},
		"external.lab.example.": {"192.168.1.1:53"},
	} {
		if got := s.currentUpstreams(name); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	o.StubZones = []string{"corp.example", "corp.example=somewhere"}
	if err := o.Validate(); err == nil {
		t.Error("bad stub zones accepted")
	}
}

// TestUpstreamsFromResolvConf reads both families' nameservers, each with port 53.
func TestUpstreamsFromResolvConf(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(path, []byte("search lab\nnameserver fd00:c0a8:1::1\nnameserver 192.168.1.1\noptions ndots:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.ResolvConf = path
	s := New(o, nil, nil, nil, nil)
	if got := s.readUpstreams(); !slices.Equal(got, []string{"[fd00:c0a8:1::1]:53", "192.168.1.1:53"}) {
		t.Fatalf("upstreams %v", got)
	}
}

// TestForwardSendsALostQuestionAgain: an upstream that drops the first copy of every question
// (a datagram lost under load) still answers the client, from the second copy.
func TestForwardSendsALostQuestionAgain(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback UDP:", err)
	}
	defer pc.Close()
	var seen atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if seen.Add(1)%2 == 1 {
				continue // the first copy is lost
			}
			var req dns.Msg
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			m := new(dns.Msg)
			m.SetReply(&req)
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
			b, _ := m.Pack()
			_, _ = pc.WriteTo(b, from)
		}
	}()
	f := newForwarder(func(string) []string { return []string{pc.LocalAddr().String()} }, newCache(10, time.Minute), newMetrics(nil))
	m, err := f.forward(question("lost.example.", dns.TypeA))
	if err != nil || len(m.Answer) != 1 {
		t.Fatalf("answer %v, err %v: want the address from the second copy", m, err)
	}
	if n := seen.Load(); n != 2 {
		t.Fatalf("upstream saw %d copies, want 2", n)
	}
}
