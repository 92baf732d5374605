package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestHandoverLosesNoQuestion streams questions at a real UDP socket while it passes from
// the serving process to a bridge and from the bridge, over the abstract unix socket, to a
// successor, as an agent restart does (here the three are listener sets in one process, the
// sockets and the handover are real): every question is answered.
func TestHandoverLosesNoQuestion(t *testing.T) {
	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback here:", err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	agent := newListeners(testHandler(t, fixture()), port)
	if err := agent.set([]netip.Addr{lo}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", netip.AddrPortFrom(lo, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	answered := map[uint16]bool{}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) == nil && len(m.Answer) == 1 {
				mu.Lock()
				answered[m.Id] = true
				mu.Unlock()
			}
		}
	}()
	const sent = 3000
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		for i := range sent {
			q := question("kubernetes.default.svc.cluster.local.", dns.TypeA)
			q.Id = uint16(i)
			b, _ := q.Pack()
			_, _ = conn.Write(b)
			time.Sleep(time.Millisecond)
		}
	}()

	time.Sleep(300 * time.Millisecond)
	// The agent exits: it offers its sockets at a name of its own, a bridge takes them and
	// says when it answers; then the agent stops reading.
	files, err := agent.files()
	if err != nil {
		t.Fatal(err)
	}
	private, err := listenHandover(fmt.Sprintf("weft-dns-handover-test-agent-%d", port))
	if err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- offerSockets(context.Background(), private, files) }()
	fromAgent, got := takeOver(fmt.Sprintf("weft-dns-handover-test-agent-%d", port))
	bridge := newListeners(testHandler(t, fixture()), port)
	if err := bridge.adopt(got); err != nil {
		t.Fatal(err)
	}
	release(fromAgent)
	if err := <-agentDone; err != nil {
		t.Fatal(err)
	}
	closeAll(files)
	offered, err := bridge.files()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("weft-dns-handover-test-%d", port)
	ln, err := listenHandover(name)
	if err != nil {
		t.Fatal(err)
	}
	offerDone := make(chan error, 1)
	go func() { offerDone <- offerSockets(context.Background(), ln, offered) }()
	go agent.drain()

	time.Sleep(700 * time.Millisecond)
	// The next agent takes the sockets from the bridge and, once synced, lets it go.
	c, got := takeOver(name)
	if len(got) == 0 {
		t.Fatal("no sockets from the bridge")
	}
	// It reads them only once synced; meanwhile the bridge answers, even a question alone.
	time.Sleep(300 * time.Millisecond)
	next := newListeners(testHandler(t, fixture()), port)
	if err := next.adopt(got); err != nil {
		t.Fatal(err)
	}
	defer next.close()
	release(c)
	if err := <-offerDone; err != nil {
		t.Fatal(err)
	}
	closeAll(offered)
	go bridge.drain()

	<-sending
	time.Sleep(500 * time.Millisecond)
	// One question alone is answered at once: the socket stayed non-blocking through the
	// handovers (a blocking one waits for a whole batch of questions).
	one := question("kubernetes.default.svc.cluster.local.", dns.TypeA)
	one.Id = sent
	b, _ := one.Pack()
	_, _ = conn.Write(b)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if !answered[sent] {
		t.Fatal("a question sent alone after the handovers got no answer")
	}
	delete(answered, sent)
	if len(answered) != sent {
		t.Fatalf("%d of %d questions unanswered across the handovers", sent-len(answered), sent)
	}
}
