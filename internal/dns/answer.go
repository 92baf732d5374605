package dns

import (
	"github.com/miekg/dns"
)

// result is what a zone says about one question.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	// cname is set when the name is an alias (an ExternalName Service) and the question asked
	// for another type: the caller resolves the target and appends it.
	cname string
}

// lookup answers q from the zone. ok is false when the zone has nothing to say: the name is
// outside it, or a reverse name it holds no PTR for.
func (z *zone) lookup(q dns.Question) (res result, ok bool) {
	name := dns.CanonicalName(q.Name)
	z.mu.RLock()
	defer z.mu.RUnlock()
	if !z.contains(name) {
		if !isReverse(name) || (q.Qtype != dns.TypePTR && q.Qtype != dns.TypeANY) {
			return res, false
		}
		rrs := z.reverse[name]
		if len(rrs) == 0 {
			return res, false
		}
		return result{rcode: dns.RcodeSuccess, answer: withName(rrs, q.Name)}, true
	}
	rrs := z.records[name]
	if len(rrs) == 0 && z.pods != nil {
		rrs = z.pods.lookup(name, z.origin, z.soa.Minttl)
	}
	if name == z.origin && (q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY) {
		rrs = append([]dns.RR{z.soa}, rrs...)
	}
	if len(rrs) == 0 {
		if z.exists(name) {
			return z.negative(dns.RcodeSuccess), true
		}
		return z.negative(dns.RcodeNameError), true
	}
	var match []dns.RR
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		if t == dns.TypeCNAME && q.Qtype != dns.TypeCNAME {
			// An alias owns its name alone (RFC 1034 3.6.2): answer it and follow it.
			return result{rcode: dns.RcodeSuccess, answer: withName([]dns.RR{rr}, q.Name), cname: rr.(*dns.CNAME).Target}, true
		}
		if t == q.Qtype || q.Qtype == dns.TypeANY {
			match = append(match, rr)
		}
	}
	if len(match) == 0 {
		return z.negative(dns.RcodeSuccess), true
	}
	res = result{rcode: dns.RcodeSuccess, answer: withName(match, q.Name)}
	if q.Qtype == dns.TypeSRV {
		res.extra = z.targets(match)
	}
	return res, true
}

// has says whether name (lower case, fully qualified) exists in the zone.
func (z *zone) has(name string) bool {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.exists(name)
}

// negative is NXDOMAIN or NODATA with the zone's SOA, whose minimum is the negative TTL
// (RFC 2308).
func (z *zone) negative(rcode int) result {
	return result{rcode: rcode, ns: []dns.RR{z.soa}}
}

// targets are the addresses of SRV targets in the zone, for the additional section.
func (z *zone) targets(srvs []dns.RR) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range srvs {
		srv, ok := rr.(*dns.SRV)
		if !ok || seen[srv.Target] {
			continue
		}
		seen[srv.Target] = true
		for _, a := range z.records[srv.Target] {
			if t := a.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
				out = append(out, a)
			}
		}
	}
	return out
}

// withName copies rrs with the owner name spelled as the client asked: matching is
// case-insensitive, and some resolvers check the echo byte for byte (DNS 0x20).
func withName(rrs []dns.RR, name string) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		if rr.Header().Name == name {
			out[i] = rr
			continue
		}
		c := dns.Copy(rr)
		c.Header().Name = name
		out[i] = c
	}
	return out
}
