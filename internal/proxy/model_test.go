package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/nft"
)

func service(name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{ClusterIPs: ips, Ports: ports, Type: corev1.ServiceTypeClusterIP}}
}

func slice(svc string, typ discoveryv1.AddressType, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: typ, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(""), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

func ep(ip string, ready, serving, terminating bool, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node),
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating}}
}

func TestEndpointChoice(t *testing.T) {
	web := service("web", []string{"10.43.0.10", "2001:cafe:43::10"}, corev1.ServicePort{Port: 80})
	slices := []*discoveryv1.EndpointSlice{
		slice("web", discoveryv1.AddressTypeIPv4, 8080, ep("10.42.1.5", true, true, false, "node-1"), ep("10.42.2.5", false, true, true, "node-2")),
		slice("web", discoveryv1.AddressTypeIPv6, 8080, ep("2001:cafe:42:2::5", false, true, true, "node-2"), ep("2001:cafe:42:3::5", false, false, false, "node-3")),
	}
	ports := servicePorts(web, slices, topology{node: "node-1"})
	if len(ports) != 2 {
		t.Fatalf("want one port per family, got %d", len(ports))
	}
	if got := ports[0].endpoints; len(got) != 1 || got[0].String() != "10.42.1.5:8080" {
		t.Errorf("IPv4: the ready endpoint only, got %v", got)
	}
	if got := ports[1].endpoints; len(got) != 1 || got[0].String() != "[2001:cafe:42:2::5]:8080" {
		t.Errorf("IPv6: none ready, so the serving terminating one, got %v", got)
	}
	web.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	if got := servicePorts(web, slices, topology{node: "node-3"})[0].endpoints; len(got) != 0 {
		t.Errorf("internalTrafficPolicy Local on a node without endpoints: got %v", got)
	}
	for _, label := range []string{ServiceProxyNameLabel, HeadlessLabel} {
		other := service("o", []string{"10.43.0.30"}, corev1.ServicePort{Port: 80})
		other.Labels = map[string]string{label: ""}
		if got := servicePorts(other, nil, topology{node: "node-1"}); len(got) != 0 {
			t.Errorf("a Service labelled %s was proxied: %v", label, got)
		}
	}
	headless := service("h", []string{"None"}, corev1.ServicePort{Port: 80})
	if got := servicePorts(headless, nil, topology{node: "node-1"}); len(got) != 0 {
		t.Errorf("headless service proxied: %v", got)
	}
}

// scenarioServices are one Service of every shape the proxy serves differently, in both
// families, as seen from node-1.
func scenarioServices() map[string][]*servicePort {
	eps := func(svc string, typ discoveryv1.AddressType, ips ...string) []*discoveryv1.EndpointSlice {
		var list []discoveryv1.Endpoint
		for i, ip := range ips {
			list = append(list, ep(ip, true, true, false, fmt.Sprintf("node-%d", i+1)))
		}
		return []*discoveryv1.EndpointSlice{slice(svc, typ, 8080, list...)}
	}
	out := map[string][]*servicePort{}
	web := service("web", []string{"10.43.0.10"}, corev1.ServicePort{Port: 80, NodePort: 30080})
	web.Spec.ExternalIPs = []string{"192.168.1.200"}
	out["default/web"] = servicePorts(web, eps("web", discoveryv1.AddressTypeIPv4, "10.42.1.5", "10.42.2.5"), node1)
	sticky := service("sticky", []string{"10.43.0.12"}, corev1.ServicePort{Port: 80})
	sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	out["default/sticky"] = servicePorts(sticky, eps("sticky", discoveryv1.AddressTypeIPv4, "10.42.1.6", "10.42.2.6"), node1)
	local := service("local", []string{"2001:cafe:43::13"}, corev1.ServicePort{Port: 80, NodePort: 30081})
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	local.Spec.HealthCheckNodePort = 31000
	out["default/local"] = servicePorts(local, eps("local", discoveryv1.AddressTypeIPv6, "2001:cafe:42:1::7", "2001:cafe:42:2::7"), node1)
	itp := service("itp", []string{"10.43.0.14"}, corev1.ServicePort{Port: 80, NodePort: 30082})
	itp.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	out["default/itp"] = servicePorts(itp, []*discoveryv1.EndpointSlice{slice("itp", discoveryv1.AddressTypeIPv4, 8080,
		ep("10.42.2.8", true, true, false, "node-2"))}, node1) // none on node-1
	fw := service("fw", []string{"10.43.0.15"}, corev1.ServicePort{Port: 443, NodePort: 30443})
	fw.Spec.Type = corev1.ServiceTypeLoadBalancer
	fw.Spec.LoadBalancerSourceRanges = []string{"192.168.1.0/24", " 10.0.0.0/8"}
	fw.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.225"}}
	out["default/fw"] = servicePorts(fw, eps("fw", discoveryv1.AddressTypeIPv4, "10.42.1.9"), node1)
	two := service("two-ports", []string{"10.43.0.16"}, corev1.ServicePort{Name: "a", Port: 80}, corev1.ServicePort{Name: "b", Port: 81})
	twoSlice := slice("two-ports", discoveryv1.AddressTypeIPv4, 8080, ep("10.42.1.10", true, true, false, "node-1"), ep("10.42.2.10", true, true, false, "node-2"))
	twoSlice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("a"), Port: ptr.To(int32(8080))}, {Name: ptr.To("b"), Port: ptr.To(int32(8081))}}
	out["default/two-ports"] = servicePorts(two, []*discoveryv1.EndpointSlice{twoSlice}, node1)
	empty := service("empty", []string{"10.43.0.11", "2001:cafe:43::11"}, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
	out["default/empty"] = servicePorts(empty, nil, topology{node: "node-1"})
	return out
}

func TestTopologyHints(t *testing.T) {
	web := service("web", []string{"10.43.0.10"}, corev1.ServicePort{Port: 80})
	hinted := func(ip, zone, node string) discoveryv1.Endpoint {
		e := ep(ip, true, true, false, node)
		e.Hints = &discoveryv1.EndpointHints{}
		if zone != "" {
			e.Hints.ForZones = []discoveryv1.ForZone{{Name: zone}}
		}
		if node != "" {
			e.Hints.ForNodes = []discoveryv1.ForNode{{Name: node}}
		}
		return e
	}
	for _, c := range []struct {
		name  string
		where topology
		eps   []discoveryv1.Endpoint
		want  string
	}{
		{"zone hints pick this zone's", topology{node: "n3", zone: "a"},
			[]discoveryv1.Endpoint{hinted("10.42.1.1", "a", ""), hinted("10.42.2.1", "b", "")}, "[10.42.1.1:8080]"},
		{"no zone known: all", topology{node: "n3"},
			[]discoveryv1.Endpoint{hinted("10.42.1.1", "a", ""), hinted("10.42.2.1", "b", "")}, "[10.42.1.1:8080 10.42.2.1:8080]"},
		{"one endpoint without hints: all", topology{node: "n3", zone: "a"},
			[]discoveryv1.Endpoint{hinted("10.42.1.1", "a", ""), ep("10.42.2.1", true, true, false, "n2")}, "[10.42.1.1:8080 10.42.2.1:8080]"},
		{"none for this zone: all", topology{node: "n3", zone: "c"},
			[]discoveryv1.Endpoint{hinted("10.42.1.1", "a", ""), hinted("10.42.2.1", "b", "")}, "[10.42.1.1:8080 10.42.2.1:8080]"},
		{"node hints first", topology{node: "n2", zone: "a"},
			[]discoveryv1.Endpoint{hinted("10.42.1.1", "a", "n1"), hinted("10.42.2.1", "a", "n2")}, "[10.42.2.1:8080]"},
	} {
		ports := servicePorts(web, []*discoveryv1.EndpointSlice{slice("web", discoveryv1.AddressTypeIPv4, 8080, c.eps...)}, c.where)
		if got := fmt.Sprint(ports[0].endpoints); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestRulesetGolden(t *testing.T) {
	fake := nft.NewFake(nft.InetFamily, Table)
	applyFull(t, tableOf(fake, scenarioServices(), labServiceCIDRs, labClusterCIDRs))
	golden(t, "scenarios.nft", sortedElements(fake.Dump()))
}

// TestPartialSyncsConverge changes services one at a time, as informers report them: each
// sync sends only the changed service's objects, and the table always ends up exactly as a
// full sync would write it.
func TestPartialSyncsConverge(t *testing.T) {
	fake := nft.NewFake(nft.InetFamily, Table)
	services := scenarioServices()
	tbl := tableOf(fake, services, labServiceCIDRs, labClusterCIDRs)
	applyFull(t, tbl)
	if tx := applyChanges(t, tbl); tx != "" {
		t.Errorf("nothing changed, yet a sync sent:\n%s", tx)
	}
	var sent strings.Builder
	for _, s := range convergeSteps() {
		services[s.key] = s.ports
		if s.ports == nil {
			delete(services, s.key)
		}
		tbl.set(s.key, serviceContribution(s.ports, true))
		fmt.Fprintf(&sent, "# %s\n%s", s.name, applyChanges(t, tbl))
		fresh := nft.NewFake(nft.InetFamily, Table)
		applyFull(t, tableOf(fresh, services, labServiceCIDRs, labClusterCIDRs))
		if got, want := sortedElements(fake.Dump()), sortedElements(fresh.Dump()); got != want {
			t.Fatalf("after %q the table differs from a full sync's:\n--- partial\n%s\n--- full\n%s", s.name, got, want)
		}
	}
	golden(t, "partial-syncs.nft", sent.String())
}

// convergeStep changes one service of scenarioServices (nil ports: the service is gone).
type convergeStep struct {
	name  string
	key   string
	ports []*servicePort
}

func convergeSteps() []convergeStep {
	web := func(ips ...string) []*servicePort {
		svc := service("web", []string{"10.43.0.10"}, corev1.ServicePort{Port: 80, NodePort: 30080})
		svc.Spec.ExternalIPs = []string{"192.168.1.200"}
		var list []discoveryv1.Endpoint
		for _, ip := range ips {
			list = append(list, ep(ip, true, true, false, "node-2"))
		}
		return servicePorts(svc, []*discoveryv1.EndpointSlice{slice("web", discoveryv1.AddressTypeIPv4, 8080, list...)}, node1)
	}
	return []convergeStep{
		{"an endpoint more", "default/web", web("10.42.1.5", "10.42.2.5", "10.42.3.5")},
		{"endpoints swapped", "default/web", web("10.42.3.5", "10.42.4.5")},
		{"no endpoints left", "default/web", web()},
		{"endpoints back", "default/web", web("10.42.4.5")},
		{"affinity service gone", "default/sticky", nil},
		{"a new plain service", "default/new", servicePorts(service("new", []string{"10.43.0.20"}, corev1.ServicePort{Port: 443}),
			[]*discoveryv1.EndpointSlice{slice("new", discoveryv1.AddressTypeIPv4, 8443, ep("10.42.4.5", true, true, false, "node-2"))}, node1)},
		{"web gone", "default/web", nil},
	}
}

// TestFullSyncInPlace rewrites a table that holds objects of services long gone and a stale
// element in a pick set: they are deleted, everything else is as a fresh table would have it.
func TestFullSyncInPlace(t *testing.T) {
	fake := nft.NewFake(nft.InetFamily, Table)
	services := scenarioServices()
	applyFull(t, tableOf(fake, services, labServiceCIDRs, labClusterCIDRs))
	tx := fake.Fake.NewTransaction()
	tx.Add(&knftables.Chain{Name: "svc-gone"})
	tx.Add(&knftables.Rule{Chain: "svc-gone", Rule: "goto reject-chain"})
	tx.Add(&knftables.Set{Name: "affinity-gone", Type: "ipv4_addr"})
	tx.Add(&knftables.Element{Map: "service-ips-v4", Key: []string{"10.43.9.9", "tcp", "80"}, Value: []string{"goto svc-gone"}})
	// A stale element in a pick set that stays (a partial sync that failed halfway, a hand).
	tx.Add(&knftables.Element{Set: "to-pick-v4-tcp-2", Key: []string{"10.43.9.9", "80"}})
	if err := fake.Fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	delete(services, "default/sticky")
	applyFull(t, tableOf(fake, services, labServiceCIDRs, labClusterCIDRs))
	fresh := nft.NewFake(nft.InetFamily, Table)
	applyFull(t, tableOf(fresh, services, labServiceCIDRs, labClusterCIDRs))
	if got, want := sortedElements(fake.Dump()), sortedElements(fresh.Dump()); got != want {
		t.Errorf("in place:\n%s\nfresh:\n%s", got, want)
	}
}

// sortedElements puts a dump's element lines in order: the fake keeps them in the order they
// were added, which partial syncs change; the kernel does not care.
func sortedElements(dump string) string {
	var rest, elements []string
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, "add element ") {
			elements = append(elements, line)
		} else {
			rest = append(rest, line)
		}
	}
	slices.Sort(elements)
	return strings.Join(append(rest, elements...), "\n")
}

// With externalTrafficPolicy Local, a node whose endpoints all terminate still sends its
// traffic to them, but its health check counts no ready endpoint.
func TestLocalReadyCountsOnlyReadyEndpoints(t *testing.T) {
	svc := service("lb", []string{"10.43.0.40"}, corev1.ServicePort{Port: 80, NodePort: 30040})
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	svc.Spec.HealthCheckNodePort = 32000
	for _, tc := range []struct {
		name         string
		ep           discoveryv1.Endpoint
		local, ready int
	}{
		{"ready", ep("10.42.0.5", true, true, false, "node-1"), 1, 1},
		{"terminating, still serving", ep("10.42.0.5", false, true, true, "node-1"), 1, 0},
	} {
		got := servicePorts(svc, []*discoveryv1.EndpointSlice{slice("lb", discoveryv1.AddressTypeIPv4, 8080, tc.ep)}, node1)
		if len(got) != 1 || len(got[0].localEndpoints) != tc.local || got[0].localReady != tc.ready {
			t.Errorf("%s: %d local endpoints (want %d), %d ready (want %d)", tc.name, len(got[0].localEndpoints), tc.local, got[0].localReady, tc.ready)
		}
	}
}

// An EndpointSlice labelled headless is never indexed under its Service, so its endpoints are
// never proxied.
func TestHeadlessSlicesAreNotIndexed(t *testing.T) {
	s := slice("web", discoveryv1.AddressTypeIPv4, 8080, ep("10.42.1.5", true, true, false, "node-2"))
	if keys, _ := sliceService(s); len(keys) != 1 || keys[0] != "default/web" {
		t.Fatalf("a plain slice is indexed as %q", keys)
	}
	s.Labels[HeadlessLabel] = ""
	if keys, _ := sliceService(s); len(keys) != 0 {
		t.Errorf("a slice labelled %s is indexed as %q", HeadlessLabel, keys)
	}
}
