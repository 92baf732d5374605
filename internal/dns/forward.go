package dns

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// forwarder asks the node's resolvers about every name the node is not authoritative for.
type forwarder struct {
	// upstreams are the resolvers for a name: a stub zone's, or the node's.
	upstreams func(name string) []string
	udp, tcp  *dns.Client
	cache     *answerCache
	// merged makes identical questions asked at once cost one upstream exchange.
	merged  singleflight.Group
	metrics *metrics
	now     func() time.Time
}

// udpTry is how long one question over UDP waits for the upstream; it is sent twice (a lost
// datagram is the usual failure under load), so the answer or SERVFAIL comes back within
// 1.6 s, before a client's 2 s timeout: a question is never left without an answer.
const udpTry = 800 * time.Millisecond

// ednsSize is the UDP payload weft offers upstream and to clients: the DNS flag day 2020 size,
// which avoids IP fragmentation on common paths.
const ednsSize = 1232

func newForwarder(upstreams func(name string) []string, c *answerCache, m *metrics) *forwarder {
	return &forwarder{upstreams: upstreams, cache: c, metrics: m, now: time.Now,
		udp: &dns.Client{Net: "udp", Timeout: udpTry, UDPSize: ednsSize},
		tcp: &dns.Client{Net: "tcp", Timeout: 4 * time.Second}}
}

// forward answers req from the cache or the upstreams. The reply carries req's ID.
func (f *forwarder) forward(req *dns.Msg) (*dns.Msg, error) {
	k := keyOf(req)
	if m := f.cache.get(k, f.now()); m != nil {
		f.metrics.cacheHit()
		m.Id = req.Id
		return m, nil
	}
	f.metrics.cacheMiss()
	v, err, _ := f.merged.Do(fmt.Sprint(k), func() (any, error) {
		m, err := f.exchange(req)
		if err == nil {
			f.cache.put(k, m, f.now())
		}
		return m, err
	})
	if err != nil {
		return nil, err
	}
	m := v.(*dns.Msg).Copy()
	m.Id = req.Id
	return m, nil
}

// exchange tries each upstream in turn over UDP, and again over TCP when the answer was
// truncated.
func (f *forwarder) exchange(req *dns.Msg) (*dns.Msg, error) {
	q := req.Question[0]
	out := new(dns.Msg)
	out.SetQuestion(q.Name, q.Qtype)
	out.Question[0].Qclass = q.Qclass
	out.RecursionDesired = true
	out.CheckingDisabled = req.CheckingDisabled
	do := false
	if o := req.IsEdns0(); o != nil {
		do = o.Do()
	}
	out.SetEdns0(ednsSize, do)
	ups := f.upstreams(dns.CanonicalName(q.Name))
	if len(ups) == 0 {
		return nil, errors.New("no upstream resolver: give --dns-upstream or nameservers in the node's resolv.conf")
	}
	var errs []error
	for _, up := range ups {
		m, _, err := f.udp.Exchange(out, up)
		if isTimeout(err) {
			m, _, err = f.udp.Exchange(out, up) // once more: the first datagram may be lost
		}
		if err == nil && m.Truncated {
			m, _, err = f.tcp.Exchange(out, up)
		}
		if err == nil && m.Rcode != dns.RcodeServerFailure && m.Rcode != dns.RcodeRefused {
			return m, nil
		}
		if err == nil {
			err = fmt.Errorf("answered %s", dns.RcodeToString[m.Rcode])
		}
		f.metrics.upstreamFailure(up)
		errs = append(errs, fmt.Errorf("upstream %s: %w", up, err))
	}
	return nil, errors.Join(errs...)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
