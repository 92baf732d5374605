package dns

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TestRecords walks the specification's record rules (kubernetes/dns docs/specification.md)
// one question at a time: every kind of record, both families, negative answers and case.
func TestRecords(t *testing.T) {
	h := testHandler(t, fixture())
	nx, ok := dns.RcodeNameError, dns.RcodeSuccess
	for _, c := range []struct {
		name  string
		q     string
		qtype uint16
		rcode int
		want  []string // nil: no answer (negative answers carry the SOA, checked below)
	}{
		{"schema version", "dns-version.cluster.local.", dns.TypeTXT, ok, []string{`TXT "1.1.0"`}},
		{"ClusterIP A", "kubernetes.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.43.0.1"}},
		{"case does not matter", "KuberNetes.Default.SVC.cluster.LOCAL.", dns.TypeA, ok, []string{"A 10.43.0.1"}},
		{"IPv4-only Service has no AAAA: NODATA", "kubernetes.default.svc.cluster.local.", dns.TypeAAAA, ok, nil},
		{"dual-stack A", "web.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.43.0.20"}},
		{"dual-stack AAAA", "web.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:43::20"}},
		{"IPv6-only AAAA", "six.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:43::6"}},
		{"IPv6-only has no A: NODATA", "six.default.svc.cluster.local.", dns.TypeA, ok, nil},
		{"ClusterIP SRV for a named port", "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, ok, []string{"SRV 0 100 80 web.default.svc.cluster.local."}},
		{"UDP SRV", "_dns._udp.kube-dns.kube-system.svc.cluster.local.", dns.TypeSRV, ok, []string{"SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."}},
		{"wrong protocol SRV", "_http._udp.web.default.svc.cluster.local.", dns.TypeSRV, nx, nil},
		{"SRV parent is an empty non-terminal", "_tcp.web.default.svc.cluster.local.", dns.TypeSRV, ok, nil},
		{"ClusterIP PTR v4", "1.0.43.10.in-addr.arpa.", dns.TypePTR, ok, []string{"PTR kubernetes.default.svc.cluster.local."}},
		{"ClusterIP PTR v6", mustReverse("2001:cafe:43::20"), dns.TypePTR, ok, []string{"PTR web.default.svc.cluster.local."}},
		{"headless A: ready endpoints only", "db.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.42.1.5", "A 10.42.2.6"}},
		{"headless AAAA", "db.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:42:1::5"}},
		{"headless hostname, both families", "db-0.db.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.42.1.5"}},
		{"headless hostname AAAA", "db-0.db.default.svc.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:42:1::5"}},
		{"endpoint without hostname answers its dashed address", "10-42-2-6.db.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.42.2.6"}},
		{"not-ready endpoint has no name", "10-42-2-7.db.default.svc.cluster.local.", dns.TypeA, nx, nil},
		{"headless SRV per endpoint", "_http._tcp.db.default.svc.cluster.local.", dns.TypeSRV, ok, []string{
			"SRV 0 33 8080 10-42-2-6.db.default.svc.cluster.local.", "SRV 0 33 8080 db-0.db.default.svc.cluster.local."}},
		{"headless PTR to the hostname", "5.1.42.10.in-addr.arpa.", dns.TypePTR, ok, []string{"PTR db-0.db.default.svc.cluster.local."}},
		{"headless PTR v6", mustReverse("2001:cafe:42:1::5"), dns.TypePTR, ok, []string{"PTR db-0.db.default.svc.cluster.local."}},
		{"publishNotReadyAddresses", "peers.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.42.1.8"}},
		{"headless without ready endpoints: NXDOMAIN", "empty.default.svc.cluster.local.", dns.TypeA, nx, nil},
		{"ExternalName CNAME", "ext.default.svc.cluster.local.", dns.TypeCNAME, ok, []string{"CNAME external.lab.example."}},
		{"ExternalName inside the cluster is followed", "inner.default.svc.cluster.local.", dns.TypeA, ok, []string{"A 10.43.0.20", "CNAME web.default.svc.cluster.local."}},
		{"pod A", "10-42-1-5.default.pod.cluster.local.", dns.TypeA, ok, []string{"A 10.42.1.5"}},
		{"pod AAAA, compressed", "2001-cafe-42-1--5.default.pod.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:42:1::5"}},
		{"pod AAAA, expanded", "2001-cafe-0042-0001-0000-0000-0000-0005.default.pod.cluster.local.", dns.TypeAAAA, ok, []string{"AAAA 2001:cafe:42:1::5"}},
		{"pod in another namespace", "10-42-1-5.other.pod.cluster.local.", dns.TypeA, nx, nil},
		{"no such pod", "10-42-9-9.default.pod.cluster.local.", dns.TypeA, nx, nil},
		{"pod name of the wrong family: NODATA", "10-42-1-5.default.pod.cluster.local.", dns.TypeAAAA, ok, nil},
		{"no such service", "nope.default.svc.cluster.local.", dns.TypeA, nx, nil},
		{"service without an address yet", "pending.default.svc.cluster.local.", dns.TypeA, nx, nil},
		{"search-path miss", "web.default.svc.cluster.local.default.svc.cluster.local.", dns.TypeA, nx, nil},
		{"namespace is an empty non-terminal", "default.svc.cluster.local.", dns.TypeA, ok, nil},
		{"apex SOA", "cluster.local.", dns.TypeSOA, ok, []string{"SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := ask(h, c.q, c.qtype)
			if m.Rcode != c.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[c.rcode])
			}
			if got := rdata(m.Answer); !slices.Equal(got, c.want) {
				t.Fatalf("answer %q, want %q", got, c.want)
			}
			if !m.Authoritative {
				t.Error("not authoritative")
			}
			for _, rr := range m.Answer {
				if rr.Header().Name != c.q && rr.Header().Rrtype != dns.TypeA {
					t.Errorf("owner %s, want the question's spelling %s", rr.Header().Name, c.q)
				}
				if rr.Header().Ttl != 5 {
					t.Errorf("TTL %d, want 5", rr.Header().Ttl)
				}
			}
			if c.want == nil && (len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("negative answer without the SOA in authority: %v", m.Ns)
			}
		})
	}
}

func mustReverse(ip string) string {
	r, err := dns.ReverseAddr(ip)
	if err != nil {
		panic(err)
	}
	return r
}

func TestSRVAdditional(t *testing.T) {
	m := ask(testHandler(t, fixture()), "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV)
	if got := rdata(m.Extra); !slices.Equal(got, []string{"A 10.43.0.20", "AAAA 2001:cafe:43::20"}) {
		t.Fatalf("additional %q", got)
	}
}

func TestNotSyncedIsServfail(t *testing.T) {
	h := &handler{clusterOrigin: "cluster.local."}
	if m := ask(h, "kubernetes.default.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s before the first sync, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	if m := ask(h, "example.org.", dns.TypeA); m.Rcode != dns.RcodeRefused {
		t.Fatalf("rcode %s without a forwarder, want REFUSED", dns.RcodeToString[m.Rcode])
	}
}

func TestBadQueries(t *testing.T) {
	h := testHandler(t, fixture())
	none := new(dns.Msg)
	none.Id = 7
	if m, _ := h.respond(none); m.Rcode != dns.RcodeFormatError {
		t.Errorf("no question: %s, want FORMERR", dns.RcodeToString[m.Rcode])
	}
	two := new(dns.Msg)
	two.SetQuestion("a.cluster.local.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m, _ := h.respond(two); m.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[m.Rcode])
	}
	upd := new(dns.Msg)
	upd.SetUpdate("cluster.local.")
	if m, _ := h.respond(upd); m.Rcode != dns.RcodeNotImplemented {
		t.Errorf("update: %s, want NOTIMP", dns.RcodeToString[m.Rcode])
	}
	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	if m, _ := h.respond(chaos); m.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS: %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
}

// TestLargeAnswerTruncatedOverUDP: 100 endpoints do not fit 512 bytes; over UDP the answer
// says TC so the client asks again over TCP, where it comes whole.
func TestLargeAnswerTruncatedOverUDP(t *testing.T) {
	st := fixture()
	big := service("default", "big", []string{corev1.ClusterIPNone})
	var eps []ep
	for i := range 100 {
		eps = append(eps, ep{ip: "10.42.7." + strconv.Itoa(i+1)})
	}
	st.services = append(st.services, big)
	st.slices["default/big"] = []*discoveryv1.EndpointSlice{slice("default", "big", discoveryv1.AddressTypeIPv4, nil, eps...)}
	h := testHandler(t, st)
	req := new(dns.Msg)
	req.SetQuestion("big.default.svc.cluster.local.", dns.TypeA)
	udp := &fakeWriter{local: &net.UDPAddr{}}
	h.ServeDNS(udp, req)
	if !udp.msg.Truncated || len(udp.msg.Answer) >= 100 {
		t.Fatalf("over UDP: TC=%v with %d answers, want TC with fewer than 100", udp.msg.Truncated, len(udp.msg.Answer))
	}
	tcp := &fakeWriter{local: &net.TCPAddr{}}
	h.ServeDNS(tcp, req)
	if tcp.msg.Truncated || len(tcp.msg.Answer) != 100 {
		t.Fatalf("over TCP: TC=%v with %d answers, want all 100", tcp.msg.Truncated, len(tcp.msg.Answer))
	}
}

func TestStripPodKeepsWhatRecordsUse(t *testing.T) {
	p := pod("default", "a", "10.42.1.5")
	p.Spec.Hostname, p.Spec.Subdomain = "h", "s"
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "busybox"}}
	got, _ := stripPod(p)
	s := got.(*corev1.Pod)
	if len(s.Spec.Containers) != 0 || s.Spec.Hostname != "h" || s.Spec.Subdomain != "s" || s.Status.PodIPs[0].IP != "10.42.1.5" {
		t.Fatalf("stripped pod %+v", s)
	}
}

// TestStaticZone is the lab router's: its names answer, every other name does not exist.
func TestStaticZone(t *testing.T) {
	z, err := staticZone("lab.example.", map[string][]netip.Addr{"external.lab.example": {netip.MustParseAddr("192.168.2.10")}}, 60)
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{static: []*zone{z}, root: newZone(".", 60)}
	if got := rdata(ask(h, "EXTERNAL.lab.example.", dns.TypeA).Answer); !slices.Equal(got, []string{"A 192.168.2.10"}) {
		t.Fatalf("answer %q", got)
	}
	if m := ask(h, "kubernetes.default.", dns.TypeA); m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 {
		t.Fatalf("outside the zone: %s %v, want NXDOMAIN with the root SOA", dns.RcodeToString[m.Rcode], m.Ns)
	}
	if _, err := staticZone("lab.example.", map[string][]netip.Addr{"elsewhere.example": {netip.MustParseAddr("192.0.2.1")}}, 60); err == nil {
		t.Fatal("a record outside the zone was accepted")
	}
}

// TestQuestionsWaitForFirstSync: a question that arrives before the first sync is answered
// once it is done; with no sync in time it gets SERVFAIL.
func TestQuestionsWaitForFirstSync(t *testing.T) {
	h := &handler{clusterOrigin: "cluster.local.", synced: make(chan struct{})}
	done := make(chan *dns.Msg)
	go func() { done <- ask(h, "kubernetes.default.svc.cluster.local.", dns.TypeA) }()
	time.Sleep(50 * time.Millisecond)
	h.cluster.Store(buildClusterZone("cluster.local", 5, fixture()))
	close(h.synced)
	if m := <-done; m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("answer after the sync: %v", m)
	}
}
