package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// dashed is an address as one DNS label: 10-42-1-5, 2001-cafe-42-1--5.
func dashed(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	return strings.ReplaceAll(a.String(), ":", "-")
}

// undashed reads a dashed label back; IPv6 in any spelling (expanded or compressed) parses.
func undashed(label string) (netip.Addr, bool) {
	if label == "" || len(label) > 63 {
		return netip.Addr{}, false
	}
	if strings.Count(label, "-") == 3 {
		if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && a.Is4() {
			return a, true
		}
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, false
	}
	return a, true
}

// reverseName is addr's PTR owner in in-addr.arpa or ip6.arpa.
func reverseName(a netip.Addr) string {
	name, _ := dns.ReverseAddr(a.String())
	return name
}

// addressRR is an A or AAAA record, by the address's family.
func addressRR(name string, a netip.Addr, ttl uint32) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: a.AsSlice()}
}

// labels splits a fully qualified name under origin into its labels, leftmost first
// (nil for origin itself).
func labelsUnder(name, origin string) []string {
	rest := strings.TrimSuffix(strings.TrimSuffix(name, origin), ".")
	if rest == "" {
		return nil
	}
	return strings.Split(rest, ".")
}

// podIndex holds each namespace's pod addresses: a dashed name answers only for a pod that
// exists (the spec's deprecated pod records, in CoreDNS's "pods verified" manner).
type podIndex struct {
	// byNamespace counts the pods holding each address: for a moment two may (a pod being
	// deleted and the next one given its address).
	byNamespace map[string]map[netip.Addr]int32
}

// count adds d to the pods holding a in namespace ns.
func (p *podIndex) count(ns string, a netip.Addr, d int32) {
	m := p.byNamespace[ns]
	if m == nil {
		m = map[netip.Addr]int32{}
		p.byNamespace[ns] = m
	}
	if c := m[a] + d; c > 0 {
		m[a] = c
	} else {
		delete(m, a)
	}
	if len(m) == 0 {
		delete(p.byNamespace, ns)
	}
}

// lookup answers a-b-c-d.<ns>.pod.<origin>.
func (p *podIndex) lookup(name, origin string, ttl uint32) []dns.RR {
	l := labelsUnder(name, origin)
	if len(l) != 3 || l[2] != "pod" {
		return nil
	}
	a, ok := undashed(l[0])
	if !ok || p.byNamespace[l[1]][a] == 0 {
		return nil
	}
	return []dns.RR{addressRR(name, a, ttl)}
}

// exists says whether name is pod.<origin> or a namespace below it with pods.
func (p *podIndex) exists(name, origin string) bool {
	l := labelsUnder(name, origin)
	switch {
	case len(l) == 1:
		return l[0] == "pod"
	case len(l) == 2:
		return l[1] == "pod" && len(p.byNamespace[l[0]]) > 0
	}
	return false
}
