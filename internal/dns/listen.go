package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// listeners serve one handler over UDP and TCP on a changing set of addresses.
type listeners struct {
	handler dns.Handler
	port    int
	byAddr  map[netip.Addr]*served
}

// served is one address's TCP server, and its UDP socket when the handler is weft's own
// (served in batches by serveUDP) or its UDP server otherwise.
type served struct {
	servers []*dns.Server
	udp     net.PacketConn
}

func newListeners(h dns.Handler, port int) *listeners {
	return &listeners{handler: h, port: port, byAddr: map[netip.Addr]*served{}}
}

// set serves exactly addrs: new ones start, gone ones stop. An address that fails to bind is
// reported and tried again on the next call.
func (l *listeners) set(addrs []netip.Addr) error {
	want := map[netip.Addr]bool{}
	var errs []error
	for _, a := range addrs {
		want[a] = true
		if l.byAddr[a] != nil {
			continue
		}
		servers, err := l.serve(netip.AddrPortFrom(a, uint16(l.port)).String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.byAddr[a] = servers
	}
	for a, servers := range l.byAddr {
		if !want[a] {
			shutdown(servers)
			delete(l.byAddr, a)
		}
	}
	return errors.Join(errs...)
}

func (l *listeners) serve(addr string) (*served, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("DNS over UDP on %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("DNS over TCP on %s: %w", addr, err)
	}
	out := &served{servers: []*dns.Server{
		{Listener: ln, Handler: l.handler, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }},
	}}
	if h, ok := l.handler.(*handler); ok {
		out.udp = pc
		go serveUDP(pc.(*net.UDPConn), h)
	} else {
		out.servers = append(out.servers, &dns.Server{PacketConn: pc, Handler: l.handler, UDPSize: 65535})
	}
	for _, s := range out.servers {
		go func() { _ = s.ActivateAndServe() }()
	}
	return out, nil
}

func (l *listeners) close() {
	for a, servers := range l.byAddr {
		shutdown(servers)
		delete(l.byAddr, a)
	}
}

func shutdown(sv *served) {
	if sv.udp != nil {
		_ = sv.udp.Close()
	}
	for _, s := range sv.servers {
		if err := s.Shutdown(); err != nil {
			// Not started yet: closing its socket ends ActivateAndServe as soon as it runs.
			if s.PacketConn != nil {
				_ = s.PacketConn.Close()
			}
			if s.Listener != nil {
				_ = s.Listener.Close()
			}
		}
	}
}

// hostPort is addr:port for a listen address given as host or host:port.
func hostPort(s string, port int) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	return net.JoinHostPort(s, strconv.Itoa(port))
}
