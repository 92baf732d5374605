package loadbalancer

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/weftnet/weft/internal/cidr"
)

// Class is the spec.loadBalancerClass weft serves; Services of another class are left to their
// controller, as the API asks.
const Class = "weft.dev/lb-pool"

// allocation is the pool's answer for one Service: the addresses it should have, or why not.
type allocation struct {
	ips     []netip.Addr
	problem string // non-empty: the pool could not serve the Service; an event says so
}

// allocate gives every LoadBalancer Service of weft's class an address per family from the
// pools, keeping what a Service already has (so an address never moves while it is in use) and
// honouring spec.loadBalancerIP. Services are served oldest first, so every agent computes the
// same answer from the same objects.
func allocate(services []*corev1.Service, pools []netip.Prefix) map[string]allocation {
	out := map[string]allocation{}
	used := map[netip.Addr]string{}
	var lbs []*corev1.Service
	for _, s := range services {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer || (s.Spec.LoadBalancerClass != nil && *s.Spec.LoadBalancerClass != Class) {
			continue
		}
		lbs = append(lbs, s)
	}
	slices.SortFunc(lbs, func(a, b *corev1.Service) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(key(a), key(b)))
	})
	// Addresses already handed out stay with their Service.
	for _, s := range lbs {
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil && inPools(a, pools) && used[a] == "" {
				used[a] = key(s)
			}
		}
	}
	for _, s := range lbs {
		var al allocation
		for _, fam := range s.Spec.IPFamilies {
			v6 := fam == corev1.IPv6Protocol
			if ip, ok := held(s, used, v6); ok {
				al.ips = append(al.ips, ip)
				continue
			}
			if want := s.Spec.LoadBalancerIP; want != "" {
				a, err := netip.ParseAddr(want)
				switch {
				case err != nil || a.Is6() != v6:
					continue // the other family's request, or validation's problem
				case !inPools(a, pools):
					al.problem = fmt.Sprintf("spec.loadBalancerIP %s is outside the pool %s", a, cidr.Join(pools))
				case used[a] != "" && used[a] != key(s):
					al.problem = fmt.Sprintf("spec.loadBalancerIP %s is in use by %s", a, used[a])
				default:
					used[a] = key(s)
					al.ips = append(al.ips, a)
				}
				continue
			}
			if a, ok := firstFree(pools, used, v6); ok {
				used[a] = key(s)
				al.ips = append(al.ips, a)
			} else {
				al.problem = fmt.Sprintf("the IPv%s pool %s has no free address", map[bool]string{false: "4", true: "6"}[v6], cidr.Join(pools))
			}
		}
		out[key(s)] = al
	}
	return out
}

func held(s *corev1.Service, used map[netip.Addr]string, v6 bool) (netip.Addr, bool) {
	for _, in := range s.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Is6() == v6 && used[a] == key(s) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// firstFree skips each pool's network address, and in IPv4 its broadcast address.
func firstFree(pools []netip.Prefix, used map[netip.Addr]string, v6 bool) (netip.Addr, bool) {
	for _, p := range pools {
		if p.Addr().Is6() != v6 {
			continue
		}
		for a := p.Masked().Addr().Next(); p.Contains(a); a = a.Next() {
			if !v6 && !p.Contains(a.Next()) {
				break // broadcast
			}
			if used[a] == "" {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

func inPools(a netip.Addr, pools []netip.Prefix) bool {
	return slices.ContainsFunc(pools, func(p netip.Prefix) bool { return p.Contains(a) })
}

func key(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

// announcer picks the node that answers ARP/NDP for a Service's addresses: rendezvous hashing
// over the Ready nodes, so every agent agrees, and only the Services of a node that goes move.
func announcer(svcKey string, readyNodes []string) string {
	best, bestScore := "", ""
	for _, n := range readyNodes {
		sum := sha256.Sum256([]byte(svcKey + "\x00" + n))
		if score := string(sum[:]); best == "" || score > bestScore {
			best, bestScore = n, score
		}
	}
	return best
}
