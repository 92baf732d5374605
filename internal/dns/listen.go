package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
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
	// stop ends serveUDP's loop without closing the socket, which a successor may share.
	stop atomic.Bool
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
	// SO_REUSEPORT: the next agent can bind beside this one (a DaemonSet's rolling update
	// with maxSurge), and beside a bridge whose sockets it did not get.
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("DNS over UDP on %s: %w", addr, err)
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("DNS over TCP on %s: %w", addr, err)
	}
	return l.start(pc, ln), nil
}

// start serves pc and ln (either may be nil).
func (l *listeners) start(pc net.PacketConn, ln net.Listener) *served {
	out := &served{}
	if ln != nil {
		out.servers = append(out.servers, &dns.Server{Listener: ln, Handler: l.handler, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }})
	}
	if h, ok := l.handler.(*handler); ok && pc != nil {
		out.udp = pc
		go serveUDP(pc.(*net.UDPConn), h, &out.stop)
	} else if pc != nil {
		out.servers = append(out.servers, &dns.Server{PacketConn: pc, Handler: l.handler, UDPSize: 65535})
	}
	for _, s := range out.servers {
		go func() { _ = s.ActivateAndServe() }()
	}
	return out
}

// adopt serves sockets handed over by another process, by the address they are bound to.
func (l *listeners) adopt(files []*os.File) error {
	type pair struct {
		pc net.PacketConn
		ln net.Listener
	}
	byAddr := map[netip.Addr]*pair{}
	var errs []error
	for _, f := range files {
		if ln, err := net.FileListener(f); err == nil {
			a := ln.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap()
			if byAddr[a] == nil {
				byAddr[a] = &pair{}
			}
			byAddr[a].ln = ln
		} else if pc, err := net.FilePacketConn(f); err == nil {
			a := pc.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
			if byAddr[a] == nil {
				byAddr[a] = &pair{}
			}
			byAddr[a].pc = pc
		} else {
			errs = append(errs, fmt.Errorf("handed-over socket: %w", err))
		}
		f.Close() // the conns hold their own copies
	}
	for a, p := range byAddr {
		if l.byAddr[a] != nil {
			if p.pc != nil {
				p.pc.Close()
			}
			if p.ln != nil {
				p.ln.Close()
			}
			continue
		}
		l.byAddr[a] = l.start(p.pc, p.ln)
	}
	return errors.Join(errs...)
}

// files are copies of every socket served, for a process that takes them over.
func (l *listeners) files() ([]*os.File, error) {
	type filer interface{ File() (*os.File, error) }
	var socks []filer
	for _, sv := range l.byAddr {
		if c, ok := sv.udp.(*net.UDPConn); ok {
			socks = append(socks, c)
		}
		for _, s := range sv.servers {
			if tl, ok := s.Listener.(*net.TCPListener); ok {
				socks = append(socks, tl)
			}
		}
	}
	var out []*os.File
	for _, s := range socks {
		f, err := s.File()
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// drain stops reading every socket, gives the answers still waiting on an upstream drainTime
// to leave, and closes this process's copies: the sockets live on in the process that took
// them over, and what it reads is its to answer.
func (l *listeners) drain() {
	for _, sv := range l.byAddr {
		sv.stop.Store(true)
		if sv.udp != nil {
			_ = sv.udp.SetReadDeadline(time.Now())
		}
		for _, s := range sv.servers {
			_ = s.Shutdown()
		}
	}
	time.Sleep(drainTime)
	l.close()
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

func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	return errors.Join(err, serr)
}
