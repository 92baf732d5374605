package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/miekg/dns"
)

// ServeStatic answers a small fixed zone (name -> addresses) on listen (host:port, or a host
// for port 53) over UDP and TCP until ctx ends, refusing every other name. The lab's router
// runs it as the nodes' upstream resolver, so forwarding is exercised with no traffic leaving
// the machine.
func ServeStatic(ctx context.Context, listen, origin string, records map[string][]netip.Addr, log *slog.Logger) error {
	z, err := staticZone(origin, records, 60)
	if err != nil {
		return err
	}
	h := &handler{static: []*zone{z}, root: newZone(".", 60)}
	if log != nil {
		h.log = log
	}
	addr := hostPort(listen, 53)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("DNS over UDP on %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("DNS over TCP on %s: %w", addr, err)
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h, ReadTimeout: 5 * time.Second}}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ActivateAndServe() }()
	}
	select {
	case <-ctx.Done():
		shutdown(&served{servers: servers})
		return nil
	case err := <-errc:
		shutdown(&served{servers: servers})
		return err
	}
}

// staticZone checks and files the records: every name must lie inside origin.
func staticZone(origin string, records map[string][]netip.Addr, ttl uint32) (*zone, error) {
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("zone %q: give a domain name such as lab.example", origin)
	}
	z := newZone(dns.Fqdn(origin), ttl)
	names := make([]string, 0, len(records))
	for n := range records {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		fq := dns.CanonicalName(n)
		if !z.contains(fq) {
			errs = append(errs, fmt.Errorf("record %q: the name is outside zone %s", n, z.origin))
			continue
		}
		for _, a := range records[n] {
			z.add(addressRR(fq, a, ttl))
			z.addReverse(&dns.PTR{Hdr: dns.RR_Header{Name: reverseName(a), Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: fq})
		}
	}
	return z, errors.Join(errs...)
}
