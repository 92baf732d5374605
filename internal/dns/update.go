package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// setService replaces the records of the Service key (namespace/name) with those of svc and
// its EndpointSlices; a nil svc takes them away. The records are made before the lock is
// taken, so questions wait only for the filing.
func (z *zone) setService(key string, svc *corev1.Service, eps []*discoveryv1.EndpointSlice) {
	ns, name, _ := strings.Cut(key, "/")
	base := serviceBase(name, ns, z.origin)
	var recs serviceRecords
	if svc != nil {
		addService(&recs, base, z.soa.Minttl, svc, eps)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.unfile(base)
	var names []string
	for _, rr := range recs.rrs {
		if z.add(rr) {
			names = append(names, rr.Header().Name)
		}
	}
	for _, ptr := range recs.ptrs {
		z.addReverse(ptr)
	}
	if len(names) > 0 {
		if names[0] == base {
			base = names[0] // one string for the key and the records' owner
		}
		z.owned[base] = slices.Clip(names)
	}
}

// unfile takes away every record of the Service whose name is base. Its PTR records are found
// from its addresses: each PTR points at a name under base that holds the address. The caller
// holds the write lock.
func (z *zone) unfile(base string) {
	names, ok := z.owned[base]
	if !ok {
		return
	}
	delete(z.owned, base)
	for _, n := range names {
		for _, rr := range z.records[n] {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA)
			default:
				continue
			}
			z.unfileReverse(reverseName(a), base)
		}
		z.drop(n)
	}
}

// unfileReverse takes away the PTRs at name that point at base or below it.
func (z *zone) unfileReverse(name, base string) {
	have := z.reverse[name]
	keep := have[:0:0]
	for _, rr := range have {
		if ptr, ok := rr.(*dns.PTR); !ok || (ptr.Ptr != base && !strings.HasSuffix(ptr.Ptr, "."+base)) {
			keep = append(keep, rr)
		}
	}
	switch {
	case len(keep) == len(have):
	case len(keep) == 0:
		delete(z.reverse, name)
	default:
		z.reverse[name] = keep
	}
}

// setPod moves a pod's dashed names from what old said to what now says (either may be nil:
// an added or a deleted pod). The informer hands both, old as it was filed.
func (z *zone) setPod(old, now *corev1.Pod) {
	before, after := podAddrs(old), podAddrs(now)
	if len(before) == 0 && len(after) == 0 {
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, a := range before {
		z.pods.count(strings.ToLower(old.Namespace), a, -1)
	}
	for _, a := range after {
		z.pods.count(strings.ToLower(now.Namespace), a, 1)
	}
}

// podAddrs are the addresses a pod's dashed names answer: none for a finished pod (its address
// is free for the next one) or a hostNetwork pod (its address is its node's).
func podAddrs(p *corev1.Pod) []netip.Addr {
	if p == nil || p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	var out []netip.Addr
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}
