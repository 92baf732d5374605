package dns

import (
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// handler answers queries: from the cluster zone, from static zones, or through the forwarder.
type handler struct {
	// clusterOrigin is the cluster domain; cluster is its current snapshot, nil until the
	// informers first synced (until then its names get SERVFAIL, never a false NXDOMAIN).
	clusterOrigin string
	cluster       atomic.Pointer[zone]
	// synced is closed when cluster is first set (nil: never wait).
	synced chan struct{}
	static []*zone
	fwd    *forwarder // nil: names outside the zones are REFUSED, or NXDOMAIN with root
	// root plays the top of the DNS tree for the lab's router: every name outside its zones
	// does not exist, as the internet's root would say of kubernetes.default.
	root    *zone
	metrics *metrics
	log     *slog.Logger // nil: no query log
}

// syncWait is how long a question waits for the first sync: a restarted agent serves its
// addresses at once and answers what arrives meanwhile as soon as it knows, well inside a
// client's timeout, instead of refusing it.
const syncWait = 2 * time.Second

// waitSynced says whether the cluster zone is there, waiting up to syncWait for it.
func (h *handler) waitSynced() bool {
	if h.cluster.Load() != nil {
		return true
	}
	if h.synced == nil {
		return false
	}
	select {
	case <-h.synced:
		return true
	case <-time.After(syncWait):
		return h.cluster.Load() != nil
	}
}

// maxChase bounds how many aliases one answer follows.
const maxChase = 8

func (h *handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	resp, source := h.respond(req)
	size := dns.MinMsgSize
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		if o := req.IsEdns0(); o != nil {
			size = max(int(o.UDPSize()), dns.MinMsgSize)
		}
		// Truncate sets TC when the answer does not fit: the client asks again over TCP.
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
	h.account(w, req, resp, source, time.Since(start))
}

func (h *handler) account(w dns.ResponseWriter, req, resp *dns.Msg, source string, took time.Duration) {
	var qtype uint16
	name := ""
	if len(req.Question) == 1 {
		qtype, name = req.Question[0].Qtype, req.Question[0].Name
	}
	h.metrics.request(qtype, resp.Rcode, source, took.Seconds())
	if h.log != nil {
		h.log.Info("dns query", "client", w.RemoteAddr().String(), "name", name, "type", dns.TypeToString[qtype],
			"rcode", dns.RcodeToString[resp.Rcode], "answers", len(resp.Answer), "source", source, "took", took)
	}
}

// respond builds the answer to req and says where it came from (cluster, cache-or-upstream,
// or error).
func (h *handler) respond(req *dns.Msg) (*dns.Msg, string) {
	m := new(dns.Msg)
	if len(req.Question) != 1 {
		m.SetRcodeFormatError(req)
		return m, "error"
	}
	m.SetReply(req)
	m.RecursionAvailable = true
	if req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m, "error"
	}
	q := req.Question[0]
	if _, ok := dns.IsDomainName(q.Name); !ok {
		m.Rcode = dns.RcodeFormatError
		return m, "error"
	}
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return m, "error"
	}
	name := dns.CanonicalName(q.Name)
	if h.clusterOrigin != "" && (name == h.clusterOrigin || dns.IsSubDomain(h.clusterOrigin, name)) && !h.waitSynced() {
		m.Rcode = dns.RcodeServerFailure // not synced yet: a retry soon gets the truth
		return m, "cluster"
	}
	if res, ok := h.lookup(q); ok {
		h.fill(m, res, req)
		if o := req.IsEdns0(); o != nil {
			m.SetEdns0(ednsSize, o.Do())
		}
		return m, "cluster"
	}
	if h.fwd == nil && h.root != nil {
		m.Authoritative = true
		m.Rcode, m.Ns = dns.RcodeNameError, []dns.RR{h.root.soa}
		return m, "cluster"
	}
	if h.fwd == nil {
		m.Rcode = dns.RcodeRefused
		return m, "error"
	}
	up, err := h.fwd.forward(req)
	if err != nil {
		m.Rcode = dns.RcodeServerFailure
		return m, "upstream"
	}
	if up.Rcode == dns.RcodeNameError {
		if alias := h.partialName(req); alias != nil {
			return alias, "cluster"
		}
	}
	return reply(req, up), "upstream"
}

// partialName answers <service>.<namespace>. and <service>.<namespace>.svc., names that exist
// nowhere else (the upstream just said NXDOMAIN), with an alias to the cluster's name. It is
// the spec's allowed extension for clients that send a dotted name as it is, without the
// search path: busybox's nslookup since 1.30 asks for "kubernetes.default." and nothing else.
// Only names the rest of the DNS denies are answered, so no real name is ever shadowed.
func (h *handler) partialName(req *dns.Msg) *dns.Msg {
	z := h.cluster.Load()
	if z == nil {
		return nil
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	var full string
	switch l := dns.SplitDomainName(name); {
	case len(l) == 2:
		full = name + "svc." + z.origin
	case len(l) == 3 && l[2] == "svc":
		full = name + z.origin
	default:
		return nil
	}
	res, ok := z.lookup(dns.Question{Name: full, Qtype: q.Qtype, Qclass: q.Qclass})
	if !ok || !z.has(full) && len(res.answer) == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: z.soa.Minttl}, Target: full}
	h.fill(m, result{rcode: dns.RcodeSuccess, answer: []dns.RR{cname}, cname: full}, req)
	m.Authoritative = false // the alias is weft's, not any zone's
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(ednsSize, o.Do())
	}
	return m
}

// lookup asks each zone that has something to say about q.
func (h *handler) lookup(q dns.Question) (result, bool) {
	zones := h.static
	if c := h.cluster.Load(); c != nil {
		zones = append([]*zone{c}, zones...)
	}
	for _, z := range zones {
		if res, ok := z.lookup(q); ok {
			return res, true
		}
	}
	return result{}, false
}

// fill writes an authoritative answer into m, following an alias to its target: inside the
// zones directly, elsewhere through the forwarder.
func (h *handler) fill(m *dns.Msg, res result, req *dns.Msg) {
	m.Authoritative = true
	m.Rcode, m.Answer, m.Ns, m.Extra = res.rcode, res.answer, res.ns, res.extra
	target, qtype := res.cname, req.Question[0].Qtype
	for hops := 0; target != "" && hops < maxChase; hops++ {
		q := dns.Question{Name: target, Qtype: qtype, Qclass: dns.ClassINET}
		if next, ok := h.lookup(q); ok {
			m.Answer = append(m.Answer, next.answer...)
			m.Rcode, m.Ns, target = next.rcode, next.ns, next.cname
			continue
		}
		if h.fwd == nil {
			return
		}
		fq := new(dns.Msg)
		fq.SetQuestion(target, qtype)
		if o := req.IsEdns0(); o != nil {
			fq.SetEdns0(o.UDPSize(), o.Do())
		}
		up, err := h.fwd.forward(fq)
		if err != nil {
			return // the alias alone is still a true answer
		}
		m.Answer = append(m.Answer, up.Answer...)
		m.Rcode, m.Ns = up.Rcode, nil
		return
	}
}

// reply turns an upstream answer into the client's: its ID and question, and an OPT record
// only if the client sent one.
func reply(req, up *dns.Msg) *dns.Msg {
	m := up.Copy()
	m.Id = req.Id
	m.Question = req.Question
	m.Response = true
	m.RecursionAvailable = true
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(ednsSize, o.Do())
	}
	return m
}
