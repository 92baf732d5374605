package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// SchemaVersion is the version of the Kubernetes DNS schema served, in dns-version.<zone>.
const SchemaVersion = "1.1.0"

// clusterState is what the cluster zone is built from: the informers' objects.
type clusterState struct {
	services []*corev1.Service
	// slices are EndpointSlices by the namespace/name of their Service.
	slices map[string][]*discoveryv1.EndpointSlice
	pods   []*corev1.Pod
}

// newClusterZone is the cluster domain with no Service and no Pod yet: its apex and the
// schema version.
func newClusterZone(domain string, ttl uint32, names int) *zone {
	z := newSizedZone(domain, ttl, names)
	z.add(&dns.TXT{Hdr: dns.RR_Header{Name: "dns-version." + z.origin, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: []string{SchemaVersion}})
	z.pods = &podIndex{byNamespace: map[string]map[netip.Addr]int32{}}
	return z
}

// buildClusterZone makes the cluster domain's records (sections 2.2 to 2.6 of the spec) from
// whole state at once; the server files the same records one object at a time (update.go).
func buildClusterZone(domain string, ttl uint32, st clusterState) *zone {
	z := newClusterZone(domain, ttl, len(st.services))
	for _, svc := range st.services {
		key := svc.Namespace + "/" + svc.Name
		z.setService(key, svc, st.slices[key])
	}
	for _, p := range st.pods {
		z.setPod(nil, p)
	}
	return z
}

// serviceRecords are one Service's records, made before they are filed in the zone.
type serviceRecords struct {
	rrs  []dns.RR
	ptrs []*dns.PTR
}

func (r *serviceRecords) add(rr dns.RR)           { r.rrs = append(r.rrs, rr) }
func (r *serviceRecords) addReverse(ptr *dns.PTR) { r.ptrs = append(r.ptrs, ptr) }

// serviceBase is a Service's name in the zone: <service>.<namespace>.svc.<zone>.
func serviceBase(name, namespace, origin string) string {
	return strings.ToLower(name + "." + namespace + ".svc." + origin)
}

// addService makes svc's records; base is its name (serviceBase).
func addService(z *serviceRecords, base string, ttl uint32, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) {
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if svc.Spec.ExternalName == "" {
			return
		}
		z.add(&dns.CNAME{Hdr: hdr(base, dns.TypeCNAME), Target: dns.Fqdn(svc.Spec.ExternalName)})
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		addHeadless(z, ttl, base, svc, slices)
	default:
		var ips []netip.Addr
		for _, s := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(s); err == nil {
				ips = append(ips, a)
			}
		}
		if len(ips) == 0 {
			return // no address allocated yet: the name appears with it
		}
		for _, a := range ips {
			z.add(addressRR(base, a, ttl))
			z.addReverse(&dns.PTR{Hdr: hdr(reverseName(a), dns.TypePTR), Ptr: base})
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue // unnamed ports have no SRV record
			}
			z.add(&dns.SRV{Hdr: hdr(srvName(p.Name, p.Protocol, base), dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: base})
		}
	}
}

// addHeadless gives each ready endpoint (every one with publishNotReadyAddresses) its address
// under the Service's name and under its hostname, a PTR, and an SRV target per named port.
// With no such endpoint, the name does not exist (section 2.4.1: NXDOMAIN).
func addHeadless(z *serviceRecords, ttl uint32, base string, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) {
	var srvs []*dns.SRV
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range s.Endpoints {
			if !svc.Spec.PublishNotReadyAddresses && ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ipText := range ep.Addresses {
				a, err := netip.ParseAddr(ipText)
				if err != nil {
					continue
				}
				host := dashed(a)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = strings.ToLower(*ep.Hostname)
				}
				hostName := host + "." + base
				z.add(addressRR(base, a, ttl))
				z.add(addressRR(hostName, a, ttl))
				z.addReverse(&dns.PTR{Hdr: dns.RR_Header{Name: reverseName(a), Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: hostName})
				for _, p := range s.Ports {
					if p.Name == nil || *p.Name == "" || p.Port == nil {
						continue
					}
					proto := corev1.ProtocolTCP
					if p.Protocol != nil {
						proto = *p.Protocol
					}
					srvs = append(srvs, &dns.SRV{Hdr: dns.RR_Header{Name: srvName(*p.Name, proto, base), Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
						Port: uint16(*p.Port), Target: hostName})
				}
			}
		}
	}
	// Equal priority, weights sharing 100: clients spread over the endpoints (RFC 2782).
	count := map[string]int{}
	for _, s := range srvs {
		count[s.Hdr.Name]++
	}
	for _, s := range srvs {
		s.Weight = uint16(max(1, 100/count[s.Hdr.Name]))
		z.add(s)
	}
}

// srvName is _<port>._<proto>.<service>.<ns>.svc.<zone>.
func srvName(port string, proto corev1.Protocol, base string) string {
	return strings.ToLower("_" + port + "._" + string(proto) + "." + base)
}
