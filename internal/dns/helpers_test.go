package dns

import (
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func service(ns, name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIPs: ips, Ports: ports}}
	if len(ips) > 0 {
		s.Spec.ClusterIP = ips[0]
	}
	return s
}

type ep struct {
	ip       string
	hostname string
	notReady bool
}

func slice(ns, svc string, fam discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-" + strings.ToLower(string(fam)),
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: fam, Ports: ports}
	for _, e := range eps {
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(!e.notReady)}}
		if e.hostname != "" {
			d.Hostname = ptr.To(e.hostname)
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	return s
}

func pod(ns, name string, ips ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

// fixture is a small dual-stack cluster with one of each kind of Service.
func fixture() clusterState {
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	dnsPort := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	unnamed := corev1.ServicePort{Port: 8080, Protocol: corev1.ProtocolTCP}
	headless := service("default", "db", []string{corev1.ClusterIPNone}, http)
	notReadyToo := service("default", "peers", []string{corev1.ClusterIPNone}, http)
	notReadyToo.Spec.PublishNotReadyAddresses = true
	empty := service("default", "empty", []string{corev1.ClusterIPNone}, http)
	ext := service("default", "ext", nil)
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "external.lab.example"
	inner := service("default", "inner", nil)
	inner.Spec.Type, inner.Spec.ExternalName = corev1.ServiceTypeExternalName, "web.default.svc.cluster.local"
	httpEP := []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}
	return clusterState{
		services: []*corev1.Service{
			service("default", "kubernetes", []string{"10.43.0.1"}, corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}),
			service("default", "web", []string{"10.43.0.20", "2001:cafe:43::20"}, http, unnamed),
			service("kube-system", "kube-dns", []string{"10.43.0.10"}, dnsPort),
			service("default", "six", []string{"2001:cafe:43::6"}, http),
			service("default", "pending", nil, http),
			headless, notReadyToo, empty, ext, inner,
		},
		slices: map[string][]*discoveryv1.EndpointSlice{
			"default/db": {
				slice("default", "db", discoveryv1.AddressTypeIPv4, httpEP, ep{ip: "10.42.1.5", hostname: "db-0"}, ep{ip: "10.42.2.6"}, ep{ip: "10.42.2.7", notReady: true}),
				slice("default", "db", discoveryv1.AddressTypeIPv6, httpEP, ep{ip: "2001:cafe:42:1::5", hostname: "db-0"}),
			},
			"default/peers": {slice("default", "peers", discoveryv1.AddressTypeIPv4, httpEP, ep{ip: "10.42.1.8", notReady: true})},
			"default/empty": {slice("default", "empty", discoveryv1.AddressTypeIPv4, httpEP, ep{ip: "10.42.1.9", notReady: true})},
		},
		pods: []*corev1.Pod{pod("default", "a", "10.42.1.5", "2001:cafe:42:1::5"), pod("other", "b", "10.42.3.4")},
	}
}

func testHandler(t *testing.T, st clusterState) *handler {
	t.Helper()
	h := &handler{clusterOrigin: "cluster.local."}
	h.cluster.Store(buildClusterZone("cluster.local", 5, st))
	return h
}

func ask(h *handler, name string, qtype uint16) *dns.Msg {
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	m, _ := h.respond(req)
	if _, err := m.Pack(); err != nil {
		panic("the answer does not pack: " + err.Error() + "\n" + m.String())
	}
	return m
}

// rdata are an answer section's records as "TYPE data" without owner or TTL, sorted.
func rdata(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		s := rr.String()
		h := rr.Header()
		prefix := h.String()
		out = append(out, dns.TypeToString[h.Rrtype]+" "+strings.TrimSpace(strings.TrimPrefix(s, prefix)))
	}
	sort.Strings(out)
	return out
}

// fakeWriter records what a handler writes.
type fakeWriter struct {
	local net.Addr
	msg   *dns.Msg
}

func (w *fakeWriter) LocalAddr() net.Addr { return w.local }
func (w *fakeWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(10, 42, 1, 5), Port: 4000}
}
func (w *fakeWriter) WriteMsg(m *dns.Msg) error   { w.msg = m; return nil }
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *fakeWriter) Close() error                { return nil }
func (w *fakeWriter) TsigStatus() error           { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)         {}
func (w *fakeWriter) Hijack()                     {}
