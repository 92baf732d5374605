package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkServeUDP is one question and its answer through a real UDP socket on loopback:
// the listener, the handler and the packing, as dnsperf sees them, with 64 in flight.
func BenchmarkServeUDP(b *testing.B) {
	h := &handler{clusterOrigin: "cluster.local.", metrics: newMetrics(nil)}
	h.cluster.Store(buildClusterZone("cluster.local", 5, bigState(10000)))
	l := newListeners(h, 0)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Skip(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ap := netip.MustParseAddrPort(addr)
	l.port = int(ap.Port())
	if err := l.set([]netip.Addr{ap.Addr()}); err != nil {
		b.Fatal(err)
	}
	defer l.close()
	time.Sleep(50 * time.Millisecond)
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q, _ := question("svc-777.ns27.svc.cluster.local.", dns.TypeA).Pack()
	buf := make([]byte, 1500)
	const window = 64
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for ; sent < window && sent < b.N; sent++ {
		_, _ = c.Write(q)
	}
	for range b.N {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Fatalf("an answer lost: %v", err)
		}
		if sent < b.N {
			_, _ = c.Write(q)
			sent++
		}
	}
}
