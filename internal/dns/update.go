package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ownedNames are the names one Service filed records under.
type ownedNames struct {
	names   []string // owner names in the zone: the Service's alone
	reverse []string // PTR owners, which other Services' records may share
}

// setService replaces the records of the Service key (namespace/name) with those of svc and
// its EndpointSlices; a nil svc takes them away. The records are made before the lock is
// taken, so questions wait only for the filing.
func (z *zone) setService(key string, svc *corev1.Service, eps []*discoveryv1.EndpointSlice) {
	var recs serviceRecords
	if svc != nil {
		addService(&recs, z.origin, z.soa.Minttl, svc, eps)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.unfile(key)
	if len(recs.rrs) == 0 && len(recs.ptrs) == 0 {
		return
	}
	var own ownedNames
	for _, rr := range recs.rrs {
		if z.add(rr) {
			own.names = append(own.names, rr.Header().Name)
		}
	}
	for _, ptr := range recs.ptrs {
		z.addReverse(ptr)
		if !slices.Contains(own.reverse, ptr.Hdr.Name) {
			own.reverse = append(own.reverse, ptr.Hdr.Name)
		}
	}
	z.owned[key] = own
}

// unfile takes away every record the Service key filed. The caller holds the write lock.
func (z *zone) unfile(key string) {
	own, ok := z.owned[key]
	if !ok {
		return
	}
	delete(z.owned, key)
	for _, n := range own.names {
		z.drop(n)
	}
	ns, name, _ := strings.Cut(key, "/")
	base := serviceBase(name, ns, z.origin)
	for _, r := range own.reverse {
		var keep []dns.RR
		for _, rr := range z.reverse[r] {
			if ptr, ok := rr.(*dns.PTR); !ok || (ptr.Ptr != base && !strings.HasSuffix(ptr.Ptr, "."+base)) {
				keep = append(keep, rr)
			}
		}
		if len(keep) == 0 {
			delete(z.reverse, r)
		} else {
			z.reverse[r] = keep
		}
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
