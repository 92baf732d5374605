package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMalformedGetsFormerr sends bytes that do not parse to a real listener: the answer is
// FORMERR and the server keeps answering.
func TestMalformedGetsFormerr(t *testing.T) {
	l := newListeners(testHandler(t, fixture()), 0)
	if err := l.set([]netip.Addr{netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Skip("no loopback here:", err)
	}
	defer l.close()
	addr := l.byAddr[netip.MustParseAddr("127.0.0.1")].udp.LocalAddr().String()
	time.Sleep(20 * time.Millisecond)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A header that says one question, then a label that runs past the end.
	_, _ = conn.Write([]byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 'a', 'b'})
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a malformed query: %v", err)
	}
	var m dns.Msg
	if err := m.Unpack(buf[:n]); err != nil || m.Rcode != dns.RcodeFormatError || m.Id != 0x1234 {
		t.Fatalf("answer %v (%v), want FORMERR for id 0x1234", m.String(), err)
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(question("kubernetes.default.svc.cluster.local.", dns.TypeA), addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("after the malformed query: %v %v", r, err)
	}
}
