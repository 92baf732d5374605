package proxy

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/weftnet/weft/internal/nft"

	"github.com/weftnet/weft/internal/nfttrace"
)

// traceServices are the shapes of scenarioServices, each dual-stack, as seen from node: the
// first endpoint of each family runs on node-1, the second on node-2, none on node-3.
func traceServices(node string) map[string][]*servicePort {
	eps := func(svc string, last string) []*discoveryv1.EndpointSlice {
		var v4, v6 []discoveryv1.Endpoint
		for i := 1; i <= 2; i++ {
			n := fmt.Sprintf("node-%d", i)
			v4 = append(v4, ep(fmt.Sprintf("10.42.%d.%s", i, last), true, true, false, n))
			v6 = append(v6, ep(fmt.Sprintf("2001:cafe:42:%d::%s", i, last), true, true, false, n))
		}
		return []*discoveryv1.EndpointSlice{slice(svc, discoveryv1.AddressTypeIPv4, 8080, v4...), slice(svc+"-6", discoveryv1.AddressTypeIPv6, 8080, v6...)}
	}
	out := map[string][]*servicePort{}
	web := service("web", []string{"10.43.0.10", "2001:cafe:43::10"}, corev1.ServicePort{Port: 80, NodePort: 30080})
	web.Spec.ExternalIPs = []string{"192.168.1.200", "fd00:c0a8:1::200"}
	out["default/web"] = servicePorts(web, eps("web", "5"), topology{node: node})
	sticky := service("sticky", []string{"10.43.0.12", "2001:cafe:43::12"}, corev1.ServicePort{Port: 80})
	sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	out["default/sticky"] = servicePorts(sticky, eps("sticky", "6"), topology{node: node})
	local := service("local", []string{"10.43.0.13", "2001:cafe:43::13"}, corev1.ServicePort{Port: 80, NodePort: 30081})
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	local.Spec.HealthCheckNodePort = 31000
	out["default/local"] = servicePorts(local, eps("local", "7"), topology{node: node})
	itp := service("itp", []string{"10.43.0.14", "2001:cafe:43::14"}, corev1.ServicePort{Port: 80, NodePort: 30084})
	itp.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	out["default/itp"] = servicePorts(itp, eps("itp", "8"), topology{node: node})
	fw := service("fw", []string{"10.43.0.15", "2001:cafe:43::15"}, corev1.ServicePort{Port: 80})
	fw.Spec.Type = corev1.ServiceTypeLoadBalancer
	fw.Spec.LoadBalancerSourceRanges = []string{"192.168.1.0/28", "fd00:c0a8:1::/124"}
	fw.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.225"}, {IP: "fd00:c0a8:1::225"}}
	out["default/fw"] = servicePorts(fw, eps("fw", "9"), topology{node: node})
	empty := service("empty", []string{"10.43.0.11", "2001:cafe:43::11"}, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053})
	out["default/empty"] = servicePorts(empty, nil, topology{node: node})
	return out
}

// traceRules is the proxy's table on node, built by a full sync, read by the tracer.
func traceRules(t *testing.T, services map[string][]*servicePort) *nfttrace.Ruleset {
	t.Helper()
	fake := nft.NewFake(nft.InetFamily, Table)
	applyFull(t, tableOf(fake, services, labServiceCIDRs, labClusterCIDRs))
	rs, err := nfttrace.FromFake(fake.Fake)
	if err != nil {
		t.Fatalf("the tracer cannot read the proxy's table: %v", err)
	}
	return rs
}

// traceFam holds one family's addresses of the lab, as in traceServices.
type traceFam struct {
	name string
	svc  func(last int) string // a service address, 10.43.0.<last>
	ep   func(node, last int) netip.AddrPort
	pod  func(node int) netip.Addr // a pod that is no endpoint
	// node-1's and node-3's addresses, a client on the LAN, an externalIP of web, fw's
	// LoadBalancer address and a LAN client inside its source ranges.
	nodeIP, node3, lan, external, lb, allowed netip.Addr
}

var traceFams = []traceFam{
	{name: "IPv4",
		svc: func(last int) string { return fmt.Sprintf("10.43.0.%d", last) },
		ep: func(node, last int) netip.AddrPort {
			return netip.MustParseAddrPort(fmt.Sprintf("10.42.%d.%d:8080", node, last))
		},
		pod:    func(node int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.42.%d.9", node)) },
		nodeIP: netip.MustParseAddr("192.168.1.11"), node3: netip.MustParseAddr("192.168.1.13"), lan: netip.MustParseAddr("192.168.1.50"), external: netip.MustParseAddr("192.168.1.200"),
		lb: netip.MustParseAddr("192.168.1.225"), allowed: netip.MustParseAddr("192.168.1.1")},
	{name: "IPv6",
		svc: func(last int) string { return fmt.Sprintf("2001:cafe:43::%d", last) },
		ep: func(node, last int) netip.AddrPort {
			return netip.MustParseAddrPort(fmt.Sprintf("[2001:cafe:42:%d::%d]:8080", node, last))
		},
		pod:    func(node int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:cafe:42:%d::9", node)) },
		nodeIP: netip.MustParseAddr("fd00:c0a8:1::11"), node3: netip.MustParseAddr("fd00:c0a8:1::13"), lan: netip.MustParseAddr("fd00:c0a8:1::50"), external: netip.MustParseAddr("fd00:c0a8:1::200"),
		lb: netip.MustParseAddr("fd00:c0a8:1::225"), allowed: netip.MustParseAddr("fd00:c0a8:1::1")},
}

// want is a packet's fate as a test states it.
type want struct {
	verdict nfttrace.Verdict
	dst     []netip.AddrPort // one per random choice; nil for a refused packet
	masq    bool
}

func checkTrace(t *testing.T, rs *nfttrace.Ruleset, local netip.Addr, p nfttrace.Packet, w want) {
	t.Helper()
	if p.SPort == 0 {
		p.SPort = 40000
	}
	if p.Proto == "" {
		p.Proto = "tcp"
	}
	all, err := rs.TraceAll(p, nfttrace.Env{LocalAddrs: []netip.Addr{local}})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	if w.dst == nil && len(all) != 1 {
		t.Fatalf("%d outcomes for a refused packet, want 1", len(all))
	}
	if w.dst != nil && len(all) != len(w.dst) {
		t.Fatalf("%d outcomes, want %d:\n%s", len(all), len(w.dst), all[0])
	}
	for i, r := range all {
		switch {
		case r.Verdict != w.verdict:
			t.Errorf("choice %d: %s, want %s\n%s", i, r.Verdict, w.verdict, r)
		case w.dst != nil && (!r.DNAT || r.Dst != w.dst[i]):
			t.Errorf("choice %d: to %s (dnat %v), want DNAT to %s\n%s", i, r.Dst, r.DNAT, w.dst[i], r)
		case w.dst != nil && r.Masquerade != w.masq:
			t.Errorf("choice %d: masqueraded %v, want %v\n%s", i, r.Masquerade, w.masq, r)
		}
	}
}

// TestTraceScenarios follows packets through the proxy's table in both families: where DNAT
// sends them, whether they are masqueraded, and which are refused.
func TestTraceScenarios(t *testing.T) {
	node1, node3 := traceRules(t, traceServices("node-1")), traceRules(t, traceServices("node-3"))
	for _, f := range traceFams {
		t.Run(f.name, func(t *testing.T) {
			web := []netip.AddrPort{f.ep(1, 5), f.ep(2, 5)}
			to := func(last int) netip.Addr { return netip.MustParseAddr(f.svc(last)) }
			pod := nfttrace.Packet{Src: f.pod(1), Dst: to(10), DPort: 80}
			for _, tc := range []struct {
				name string
				rs   *nfttrace.Ruleset
				p    nfttrace.Packet
				w    want
			}{
				{"pod to a ClusterIP: each endpoint, source kept", node1, pod, want{nfttrace.Accepted, web, false}},
				{"node to a ClusterIP: masqueraded", node1, nfttrace.Packet{Src: f.nodeIP, Dst: to(10), DPort: 80, Local: true},
					want{nfttrace.Accepted, web, true}},
				{"LAN client to the node port: masqueraded", node1, nfttrace.Packet{Src: f.lan, Dst: f.nodeIP, DPort: 30080},
					want{nfttrace.Accepted, web, true}},
				{"LAN client to the externalIP: masqueraded", node1, nfttrace.Packet{Src: f.lan, Dst: f.external, DPort: 80},
					want{nfttrace.Accepted, web, true}},
				{"affinity service, first connection", node1, nfttrace.Packet{Src: f.pod(1), Dst: to(12), DPort: 80},
					want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 6), f.ep(2, 6)}, false}},
				{"ETP Local, outside client, node with a local endpoint: that one, source kept", node1,
					nfttrace.Packet{Src: f.lan, Dst: f.nodeIP, DPort: 30081}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 7)}, false}},
				{"ETP Local, outside client, node without a local endpoint: dropped", node3,
					nfttrace.Packet{Src: f.lan, Dst: f.node3, DPort: 30081}, want{verdict: nfttrace.Dropped}},
				{"ETP Local, a pod on a node without a local endpoint: every endpoint", node3,
					nfttrace.Packet{Src: f.pod(3), Dst: to(13), DPort: 80}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 7), f.ep(2, 7)}, false}},
				{"ETP Local, the node itself to its node port: every endpoint, masqueraded", node3,
					nfttrace.Packet{Src: f.node3, Dst: f.node3, DPort: 30081, Local: true}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 7), f.ep(2, 7)}, true}},
				{"ITP Local, a pod on a node with a local endpoint: that one", node1,
					nfttrace.Packet{Src: f.pod(1), Dst: to(14), DPort: 80}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 8)}, false}},
				{"ITP Local, a pod on a node without one: dropped", node3,
					nfttrace.Packet{Src: f.pod(3), Dst: to(14), DPort: 80}, want{verdict: nfttrace.Dropped}},
				{"ITP Local, a LAN client to the node port: every endpoint, masqueraded", node3,
					nfttrace.Packet{Src: f.lan, Dst: f.node3, DPort: 30084}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 8), f.ep(2, 8)}, true}},
				{"loadBalancerSourceRanges, a client inside: every endpoint", node1,
					nfttrace.Packet{Src: f.allowed, Dst: f.lb, DPort: 80}, want{nfttrace.Accepted, []netip.AddrPort{f.ep(1, 9), f.ep(2, 9)}, true}},
				{"loadBalancerSourceRanges, a client outside: dropped", node1,
					nfttrace.Packet{Src: f.lan, Dst: f.lb, DPort: 80}, want{verdict: nfttrace.Dropped}},
				{"service without endpoints: rejected", node1, nfttrace.Packet{Src: f.pod(1), Dst: to(11), DPort: 53, Proto: "udp"},
					want{verdict: nfttrace.Rejected}},
				{"node port of a service without endpoints: rejected", node1, nfttrace.Packet{Src: f.lan, Dst: f.nodeIP, DPort: 30053, Proto: "udp"},
					want{verdict: nfttrace.Rejected}},
				{"a port the service lacks: rejected", node1, nfttrace.Packet{Src: f.pod(1), Dst: to(10), DPort: 81},
					want{verdict: nfttrace.Rejected}},
				{"unallocated ServiceCIDR address: dropped", node1, nfttrace.Packet{Src: f.pod(1), Dst: to(99), DPort: 80},
					want{verdict: nfttrace.Dropped}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					local := f.nodeIP
					if tc.rs == node3 {
						local = f.node3
					}
					checkTrace(t, tc.rs, local, tc.p, tc.w)
				})
			}
		})
	}
}

// TestTraceHairpin: a pod that its service sends back to itself is masqueraded, or its reply
// would skip the translation; sent to the other endpoint, it keeps its source.
func TestTraceHairpin(t *testing.T) {
	rs := traceRules(t, traceServices("node-1"))
	for _, f := range traceFams {
		t.Run(f.name, func(t *testing.T) {
			self := f.ep(1, 5)
			p := nfttrace.Packet{Src: self.Addr(), Dst: netip.MustParseAddr(f.svc(10)), Proto: "tcp", SPort: 40000, DPort: 80}
			all, err := rs.TraceAll(p, nfttrace.Env{LocalAddrs: []netip.Addr{f.nodeIP}})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2 {
				t.Fatalf("%d outcomes, want 2", len(all))
			}
			for _, r := range all {
				if hairpin := r.Dst == self; r.Verdict != nfttrace.Accepted || r.Masquerade != hairpin {
					t.Errorf("to %s: %s, masqueraded %v, want %v\n%s", r.Dst, r.Verdict, r.Masquerade, hairpin, r)
				}
			}
		})
	}
}

// TestTraceAffinity: a client's second connection goes where its first went, whatever the
// random draw, for the client the affinity set remembers and only for it.
func TestTraceAffinity(t *testing.T) {
	rs := traceRules(t, traceServices("node-1"))
	for _, f := range traceFams {
		t.Run(f.name, func(t *testing.T) {
			env := nfttrace.Env{LocalAddrs: []netip.Addr{f.nodeIP}, Numgen: []int{1}}
			p := nfttrace.Packet{Src: f.pod(1), Dst: netip.MustParseAddr(f.svc(12)), Proto: "tcp", SPort: 40000, DPort: 80}
			first, err := rs.Trace(p, env)
			if err != nil {
				t.Fatal(err)
			}
			if first.Dst != f.ep(2, 6) || len(first.Updates) != 1 {
				t.Fatalf("first connection to %s, updates %v\n%s", first.Dst, first.Updates, first)
			}
			env.Sets, env.Numgen = first.Updates, []int{0}
			p.SPort = 40001
			second, err := rs.Trace(p, env)
			if err != nil {
				t.Fatal(err)
			}
			if second.Dst != first.Dst || len(second.Choices) != 0 {
				t.Errorf("second connection to %s, choices %v; want %s without a draw\n%s", second.Dst, second.Choices, first.Dst, second)
			}
			p.Src = f.pod(2)
			other, err := rs.Trace(p, env)
			if err != nil {
				t.Fatal(err)
			}
			if other.Dst != f.ep(1, 6) {
				t.Errorf("another client, drawing 0, to %s, want %s\n%s", other.Dst, f.ep(1, 6), other)
			}
		})
	}
}
