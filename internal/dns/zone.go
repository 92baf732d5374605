// Package dns is the cluster DNS that every weft agent serves on its own node: authoritative
// for the cluster domain as the Kubernetes DNS-Based Service Discovery specification says
// (kubernetes/dns, docs/specification.md), built from Services, EndpointSlices and Pods, and a
// caching forwarder to the node's resolvers for every other name. Pods reach it at the kube-dns
// Service's addresses, which each node holds on its loopback device and keeps out of conntrack
// (table inet weft-dns), so no NAT and no conntrack race sits between a pod and its resolver.
package dns

import (
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// zone is the names a server is authoritative for. It is updated in place, one Service or Pod
// at a time (update.go), so a change is answerable as soon as its informer event arrives;
// lookups share a read lock with each other and wait only for one object's update.
type zone struct {
	// origin is the zone's apex, lower case and fully qualified ("cluster.local.").
	origin string
	soa    *dns.SOA

	mu sync.RWMutex
	// records are every RR by owner name (lower case).
	records map[string][]dns.RR
	// below counts, for every name between an owner name and the origin (empty non-terminals
	// such as svc.cluster.local., and owners with names below them), the owner names below
	// it: such a name answers NODATA, never NXDOMAIN.
	below map[string]int32
	// reverse are PTR records by their in-addr.arpa or ip6.arpa name; the reverse trees are
	// not this zone's, so a miss there is forwarded rather than denied.
	reverse map[string][]dns.RR
	// pods answers the dashed pod names (a-b-c-d.<ns>.pod.<zone>) for pods that exist; nil:
	// no such names.
	pods *podIndex
	// owned are the owner names each Service (by its name in the zone) filed records under,
	// so that its next update takes exactly those away.
	owned map[string][]string
}

func newZone(origin string, ttl uint32) *zone { return newSizedZone(origin, ttl, 0) }

// newSizedZone is newZone with room for about names owner names made up front: filling tens
// of thousands of names would otherwise spend much of its time growing the maps.
func newSizedZone(origin string, ttl uint32, names int) *zone {
	origin = dns.CanonicalName(origin)
	under := func(labels string) string {
		if origin == "." {
			return labels + "."
		}
		return labels + "." + origin
	}
	soa := &dns.SOA{
		Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  under("ns.dns"), Mbox: under("hostmaster"),
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl,
	}
	return &zone{origin: origin, soa: soa, records: make(map[string][]dns.RR, names), below: make(map[string]int32, names),
		reverse: make(map[string][]dns.RR, names), owned: map[string][]string{}}
}

// add files rr under its owner, which must be inside the zone, and counts it in the names
// above it. The caller holds the write lock (or owns a zone nobody reads yet). It says whether
// the owner name had no record before.
func (z *zone) add(rr dns.RR) (first bool) {
	name := dns.CanonicalName(rr.Header().Name)
	rr.Header().Name = name
	have := z.records[name]
	for _, h := range have {
		if dns.IsDuplicate(h, rr) {
			return false
		}
	}
	z.records[name] = append(have, rr)
	if len(have) > 0 {
		return false
	}
	z.count(name, 1)
	return true
}

// drop takes every record at name away.
func (z *zone) drop(name string) {
	if _, ok := z.records[name]; !ok {
		return
	}
	delete(z.records, name)
	z.count(name, -1)
}

// count adds d to the count of every name above name up to the origin.
func (z *zone) count(name string, d int32) {
	i, end := dns.NextLabel(name, 0)
	if end {
		return
	}
	for n := name[i:]; n != z.origin && n != "."; {
		if c := z.below[n] + d; c > 0 {
			z.below[n] = c
		} else {
			delete(z.below, n)
		}
		i, end := dns.NextLabel(n, 0)
		if end {
			break
		}
		n = n[i:]
	}
}

// addReverse files a PTR record for addr's reverse name.
func (z *zone) addReverse(ptr *dns.PTR) {
	name := dns.CanonicalName(ptr.Hdr.Name)
	ptr.Hdr.Name = name
	for _, have := range z.reverse[name] {
		if dns.IsDuplicate(have, ptr) {
			return
		}
	}
	z.reverse[name] = append(z.reverse[name], ptr)
}

// exists says whether name (lower case, fully qualified) has records or names below it.
// The caller holds the read lock.
func (z *zone) exists(name string) bool {
	return name == z.origin || len(z.records[name]) > 0 || z.below[name] > 0 || (z.pods != nil && z.pods.exists(name, z.origin))
}

// contains says whether name (lower case, fully qualified) is the zone's or below it.
func (z *zone) contains(name string) bool {
	return name == z.origin || strings.HasSuffix(name, "."+z.origin)
}

// isReverse says whether name is in the reverse trees.
func isReverse(name string) bool {
	return strings.HasSuffix(name, ".in-addr.arpa.") || strings.HasSuffix(name, ".ip6.arpa.")
}
