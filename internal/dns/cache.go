package dns

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

// answerCache keeps forwarded answers, positive and negative, for their TTL (capped). It is small
// and simple on purpose: at its size limit a new answer replaces an arbitrary old one, which
// costs a repeated question at worst.
type answerCache struct {
	mu      sync.Mutex
	size    int
	maxTTL  time.Duration
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name        string // lower case
	qtype, cls  uint16
	dnssecOK    bool
	checkingOff bool
}

type cacheEntry struct {
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

func newCache(size int, maxTTL time.Duration) *answerCache {
	return &answerCache{size: size, maxTTL: maxTTL, entries: map[cacheKey]cacheEntry{}}
}

func keyOf(req *dns.Msg) cacheKey {
	q := req.Question[0]
	k := cacheKey{name: dns.CanonicalName(q.Name), qtype: q.Qtype, cls: q.Qclass, checkingOff: req.CheckingDisabled}
	if o := req.IsEdns0(); o != nil {
		k.dnssecOK = o.Do()
	}
	return k
}

// get returns a copy of a live answer with its TTLs counted down, or nil.
func (c *answerCache) get(k cacheKey, now time.Time) *dns.Msg {
	if c == nil || c.size == 0 {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	elapsed := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Ttl -= min(h.Ttl, elapsed)
			}
		}
	}
	return m
}

// put keeps m for its TTL: the smallest of its records' for an answer, the SOA's minimum for
// a negative one (RFC 2308). Failures and answers without a TTL are not kept.
func (c *answerCache) put(k cacheKey, m *dns.Msg, now time.Time) {
	if c == nil || c.size == 0 {
		return
	}
	ttl, ok := cacheTTL(m)
	if !ok {
		return
	}
	d := min(time.Duration(ttl)*time.Second, c.maxTTL)
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, have := c.entries[k]; !have && len(c.entries) >= c.size {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{msg: m.Copy(), stored: now, expires: now.Add(d)}
}

func cacheTTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return 0, false
	}
	if len(m.Answer) == 0 || m.Rcode == dns.RcodeNameError {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return min(soa.Hdr.Ttl, soa.Minttl), true
			}
		}
		return 0, false // a negative answer without an SOA says nothing about how long
	}
	ttl := ^uint32(0)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	return ttl, true
}

func (c *answerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// has says whether a live answer for k is kept, without copying it.
func (c *answerCache) has(k cacheKey, now time.Time) bool {
	if c == nil || c.size == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return ok && now.Before(e.expires)
}
