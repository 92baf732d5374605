// Package dns is the cluster DNS that every weft agent serves on its own node: authoritative
// for the cluster domain as the Kubernetes DNS-Based Service Discovery specification says
// (kubernetes/dns, docs/specification.md), built from Services, EndpointSlices and Pods, and a
// caching forwarder to the node's resolvers for every other name. Pods reach it at the kube-dns
// Service's addresses, which each node holds on its loopback device and keeps out of conntrack
// (table inet weft-dns), so no NAT and no conntrack race sits between a pod and its resolver.
package dns

import (
	"strings"

	"github.com/miekg/dns"
)

// zone is one immutable snapshot of the names a server is authoritative for: lookups run
// against it without locks, and a rebuild swaps in a new one.
type zone struct {
	// origin is the zone's apex, lower case and fully qualified ("cluster.local.").
	origin string
	soa    *dns.SOA
	// records are every RR by owner name (lower case).
	records map[string][]dns.RR
	// exists holds every owner name and every name between one and the origin (empty
	// non-terminals such as svc.cluster.local.): those answer NODATA, never NXDOMAIN.
	exists map[string]bool
	// reverse are PTR records by their in-addr.arpa or ip6.arpa name; the reverse trees are
	// not this zone's, so a miss there is forwarded rather than denied.
	reverse map[string][]dns.RR
	// pods answers the dashed pod names (a-b-c-d.<ns>.pod.<zone>) for pods that exist; nil:
	// no such names.
	pods *podIndex
}

func newZone(origin string, ttl uint32) *zone { return newSizedZone(origin, ttl, 0) }

// newSizedZone is newZone with room for about names owner names made up front: a rebuild of
// tens of thousands of names would otherwise spend much of its time growing the maps.
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
	z := &zone{origin: origin, soa: soa, records: make(map[string][]dns.RR, names), exists: make(map[string]bool, names),
		reverse: make(map[string][]dns.RR, names)}
	z.exists[origin] = true
	return z
}

// add files rr under its owner, which must be inside the zone, and marks the names above it.
func (z *zone) add(rr dns.RR) {
	name := dns.CanonicalName(rr.Header().Name)
	rr.Header().Name = name
	for _, have := range z.records[name] {
		if dns.IsDuplicate(have, rr) {
			return
		}
	}
	z.records[name] = append(z.records[name], rr)
	for n := name; n != z.origin && n != "."; {
		if z.exists[n] {
			break // so are all the names above it: they were marked with it
		}
		z.exists[n] = true
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

// contains says whether name (lower case, fully qualified) is the zone's or below it.
func (z *zone) contains(name string) bool {
	return name == z.origin || strings.HasSuffix(name, "."+z.origin)
}

// isReverse says whether name is in the reverse trees.
func isReverse(name string) bool {
	return strings.HasSuffix(name, ".in-addr.arpa.") || strings.HasSuffix(name, ".ip6.arpa.")
}
