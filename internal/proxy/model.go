package proxy

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// servicePort is one port of one Service in one address family: what the data plane serves.
type servicePort struct {
	namespace, name, portName string
	v6                        bool
	protocol                  string // tcp, udp or sctp, as nftables spells them
	clusterIP                 netip.Addr
	port                      int
	nodePort                  int
	// external are the addresses clients outside the cluster use: externalIPs and the
	// LoadBalancer's ingress IPs of this family.
	external []netip.Addr
	// sourceRanges (loadBalancerSourceRanges of this family) are the only clients the
	// LoadBalancer addresses, lbIPs, answer.
	sourceRanges []netip.Prefix
	lbIPs        []netip.Addr
	// affinitySeconds > 0 keeps a client on its endpoint (sessionAffinity: ClientIP).
	affinitySeconds int
	// endpoints serve traffic to the cluster IP: with internalTrafficPolicy Local
	// (internalLocal) only this node's, and nothing at all if it has none. allEndpoints are
	// the cluster-wide choice, for external addresses and node ports.
	endpoints     []endpoint
	internalLocal bool
	allEndpoints  []endpoint
	// externalLocal is externalTrafficPolicy Local: clients outside the cluster reach only
	// this node's endpoints (localEndpoints) and keep their address.
	externalLocal       bool
	localEndpoints      []endpoint
	healthCheckNodePort int
	// localReady counts this node's ready endpoints: the health check reports them, so load
	// balancers leave a node whose endpoints are all terminating, though they still serve.
	localReady int
}

type endpoint struct {
	ip   netip.Addr
	port int
	node string
}

// everyEndpoint is each endpoint some path of the port may reach, once.
func (s *servicePort) everyEndpoint() []endpoint {
	var out []endpoint
	for _, ep := range slices.Concat(s.endpoints, s.localEndpoints, s.allEndpoints) {
		if !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out
}

func (e endpoint) String() string { return netip.AddrPortFrom(e.ip, uint16(e.port)).String() }

// id names the service port in chain names: readable, and unique through a short hash.
func (s *servicePort) id() string {
	fam := "v4"
	if s.v6 {
		fam = "v6"
	}
	readable := fmt.Sprintf("%s/%s/%s/%s", s.namespace, s.name, s.protocol, cmp.Or(s.portName, fmt.Sprint(s.port)))
	return shortHash(readable+fam) + "-" + fam + "-" + readable
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:5]))
}

// Labels that take a Service away from the node's proxy, as kube-proxy honours them:
// ServiceProxyNameLabel hands it to another service proxy; HeadlessLabel, on a Service or on one
// of its EndpointSlices, marks endpoints that are for DNS only, whatever the cluster IP.
const (
	ServiceProxyNameLabel = "service.kubernetes.io/service-proxy-name"
	HeadlessLabel         = "service.kubernetes.io/headless"
)

// servicePorts turns a Service and its EndpointSlices into the ports the node serves. Services
// without a cluster IP (headless, ExternalName) have nothing to proxy, nor have Services the
// labels above set aside.
func servicePorts(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, node topology) []*servicePort {
	_, other := svc.Labels[ServiceProxyNameLabel]
	_, headless := svc.Labels[HeadlessLabel]
	if other || headless || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var out []*servicePort
	for _, ipText := range svc.Spec.ClusterIPs {
		ip, err := netip.ParseAddr(ipText)
		if err != nil {
			continue // "None" (headless) or not yet allocated
		}
		for _, p := range svc.Spec.Ports {
			sp := &servicePort{
				namespace: svc.Namespace, name: svc.Name, portName: p.Name, v6: ip.Is6(),
				protocol: strings.ToLower(string(cmp.Or(p.Protocol, corev1.ProtocolTCP))), clusterIP: ip,
				port: int(p.Port), nodePort: int(p.NodePort),
			}
			for _, e := range svc.Spec.ExternalIPs {
				if a, err := netip.ParseAddr(e); err == nil && a.Is6() == sp.v6 {
					sp.external = append(sp.external, a)
				}
			}
			for _, in := range svc.Status.LoadBalancer.Ingress {
				if a, err := netip.ParseAddr(in.IP); err == nil && a.Is6() == sp.v6 {
					sp.external = append(sp.external, a)
					sp.lbIPs = append(sp.lbIPs, a)
				}
			}
			for _, r := range svc.Spec.LoadBalancerSourceRanges {
				if pfx, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil && pfx.Addr().Is6() == sp.v6 {
					sp.sourceRanges = append(sp.sourceRanges, pfx.Masked())
				}
			}
			if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
				sp.affinitySeconds = int(corev1.DefaultClientIPServiceAffinitySeconds)
				if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
					sp.affinitySeconds = int(*c.ClientIP.TimeoutSeconds)
				}
			}
			sp.allEndpoints, _ = chooseEndpoints(slices, p, ip.Is6(), false, node)
			sp.endpoints = sp.allEndpoints
			if svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal {
				sp.internalLocal = true
				sp.endpoints, _ = chooseEndpoints(slices, p, ip.Is6(), true, node)
			}
			if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && (len(sp.external) > 0 || sp.nodePort != 0) {
				sp.externalLocal = true
				var ready bool
				sp.localEndpoints, ready = chooseEndpoints(slices, p, ip.Is6(), true, node)
				if ready {
					sp.localReady = len(sp.localEndpoints)
				}
				sp.healthCheckNodePort = int(svc.Spec.HealthCheckNodePort)
			}
			out = append(out, sp)
		}
	}
	return out
}

// topology is where this node is: its name and its zone (label topology.kubernetes.io/zone).
type topology struct {
	node, zone string
}

// chooseEndpoints picks the endpoints that serve the port: the ready ones; if none is ready,
// those still serving while they terminate (so a rolling update never refuses a connection);
// with local only this node's. Among ready endpoints, topology hints narrow the choice to
// those meant for this node or its zone, when every endpoint carries hints and some are.
func chooseEndpoints(slices []*discoveryv1.EndpointSlice, p corev1.ServicePort, v6, local bool, where topology) (eps []endpoint, fromReady bool) {
	node := where.node
	want := discoveryv1.AddressTypeIPv4
	if v6 {
		want = discoveryv1.AddressTypeIPv6
	}
	var ready, terminating []endpoint
	var hints []*discoveryv1.EndpointHints // of each ready endpoint
	seen := map[endpoint]bool{}
	for _, s := range slices {
		if s.AddressType != want {
			continue
		}
		port, ok := slicePort(s, p)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			if local && (e.NodeName == nil || *e.NodeName != node) {
				continue
			}
			isReady := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := e.Conditions.Serving == nil || *e.Conditions.Serving
			term := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				ep := endpoint{ip: ip, port: port}
				if e.NodeName != nil {
					ep.node = *e.NodeName
				}
				if seen[ep] {
					continue
				}
				seen[ep] = true
				switch {
				case isReady:
					ready = append(ready, ep)
					hints = append(hints, e.Hints)
				case serving && term:
					terminating = append(terminating, ep)
				}
			}
		}
	}
	out := ready
	if !local {
		out = byHints(ready, hints, where)
	}
	fromReady = len(out) > 0
	if !fromReady {
		out = terminating
	}
	slicesSort(out)
	return out, fromReady
}

// byHints keeps the endpoints hinted for this node (trafficDistribution PreferSameNode), or
// else for its zone (PreferSameZone, topology-aware routing). Hints count only when every
// endpoint has them, as the EndpointSlice controller sets them all or none; if none is meant
// for here, every endpoint serves.
func byHints(eps []endpoint, hints []*discoveryv1.EndpointHints, where topology) []endpoint {
	for _, forNode := range []bool{true, false} {
		if !forNode && where.zone == "" {
			continue
		}
		var picked []endpoint
		all := true
		for i, h := range hints {
			var names []string
			switch {
			case h != nil && forNode:
				for _, n := range h.ForNodes {
					names = append(names, n.Name)
				}
			case h != nil:
				for _, z := range h.ForZones {
					names = append(names, z.Name)
				}
			}
			if len(names) == 0 {
				all = false
				break
			}
			if slices.Contains(names, map[bool]string{true: where.node, false: where.zone}[forNode]) {
				picked = append(picked, eps[i])
			}
		}
		if all && len(picked) > 0 {
			return picked
		}
	}
	return eps
}

// slicePort finds the slice's port for the service port: same name and protocol.
func slicePort(s *discoveryv1.EndpointSlice, p corev1.ServicePort) (int, bool) {
	proto := cmp.Or(p.Protocol, corev1.ProtocolTCP)
	for _, sp := range s.Ports {
		name, pr := "", corev1.ProtocolTCP
		if sp.Name != nil {
			name = *sp.Name
		}
		if sp.Protocol != nil {
			pr = *sp.Protocol
		}
		if name == p.Name && pr == proto && sp.Port != nil {
			return int(*sp.Port), true
		}
	}
	return 0, false
}

func slicesSort(eps []endpoint) {
	slices.SortFunc(eps, func(a, b endpoint) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
}
