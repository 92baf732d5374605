package dns

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// bigState is n ClusterIP Services with a named port, and n headless ones with 3 endpoints.
func bigState(n int) clusterState {
	st := clusterState{slices: map[string][]*discoveryv1.EndpointSlice{}}
	for i := range n {
		ip := fmt.Sprintf("10.43.%d.%d", i/250, i%250+1)
		st.services = append(st.services, service("ns"+fmt.Sprint(i%50), fmt.Sprintf("svc-%d", i), []string{ip}, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}))
		if i%10 == 0 {
			h := service("ns"+fmt.Sprint(i%50), fmt.Sprintf("hl-%d", i), []string{corev1.ClusterIPNone})
			st.services = append(st.services, h)
			st.slices[h.Namespace+"/"+h.Name] = []*discoveryv1.EndpointSlice{slice(h.Namespace, h.Name, discoveryv1.AddressTypeIPv4, nil,
				ep{ip: fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)}, ep{ip: fmt.Sprintf("10.42.%d.%d", 100+i/250, i%250+1)})}
		}
	}
	return st
}

// BenchmarkAnswer is the server's own work per question (no sockets): a Service's A record,
// and the search-path miss that ndots:5 makes of every external name.
func BenchmarkAnswer(b *testing.B) {
	h := &handler{clusterOrigin: "cluster.local."}
	h.cluster.Store(buildClusterZone("cluster.local", 5, bigState(10000)))
	for _, c := range []struct{ name, q string }{
		{"service-A", "svc-777.ns27.svc.cluster.local."},
		{"search-miss-NXDOMAIN", "www.example.com.ns27.svc.cluster.local."},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := question(c.q, dns.TypeA)
			w := &fakeWriter{local: &net.UDPAddr{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeDNS(w, req)
			}
			if w.msg.Rcode == dns.RcodeServerFailure {
				b.Fatal("SERVFAIL")
			}
		})
	}
}

// BenchmarkBuildZone is one rebuild at 10k Services (and 1k headless ones): the time from a
// change to the new answers, and the memory of a snapshot.
func BenchmarkBuildZone(b *testing.B) {
	st := bigState(10000)
	b.ReportAllocs()
	for b.Loop() {
		_ = buildClusterZone("cluster.local", 5, st)
	}
}

// BenchmarkUpdateService is one Service's change filed in a zone of 10k Services (and 1k
// headless ones with their endpoints): what a new Service waits for before it answers.
func BenchmarkUpdateService(b *testing.B) {
	st := bigState(10000)
	z := buildClusterZone("cluster.local", 5, st)
	hl := st.services[1] // headless, with two endpoints
	b.Run("ClusterIP", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			svc := service("ns1", "svc-new", []string{fmt.Sprintf("10.44.%d.%d", i/250%250, i%250+1)}, corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})
			z.setService("ns1/svc-new", svc, nil)
		}
	})
	b.Run("headless", func(b *testing.B) {
		key := hl.Namespace + "/" + hl.Name
		b.ReportAllocs()
		for b.Loop() {
			z.setService(key, hl, st.slices[key])
		}
	})
}

// BenchmarkZoneMemory reports the heap a zone of 10k Services (and 1k headless ones) keeps,
// per Service: the DNS's own memory beside the informers' objects.
func BenchmarkZoneMemory(b *testing.B) {
	st := bigState(10000)
	var z *zone
	for b.Loop() {
		before := liveHeap()
		z = buildClusterZone("cluster.local", 5, st)
		b.ReportMetric(float64(liveHeap()-before)/float64(len(st.services)), "heap-B/service")
	}
	runtime.KeepAlive(z)
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
