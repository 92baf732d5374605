package dns

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// TestFollowFilesEachEvent drives the informer handlers through a fake API: a Service, its
// endpoints and a pod are answerable once their events arrive, a change replaces the old
// answer, and a deletion takes the name away.
func TestFollowFilesEachEvent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := dnsInformers{services: factory.Core().V1().Services(), slices: factory.Discovery().V1().EndpointSlices(), pods: factory.Core().V1().Pods()}
	s := &Server{opts: Defaults()}
	z := newClusterZone("cluster.local", 5, 0)
	synced, err := s.follow(inf, z, func() {})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("no sync")
	}
	h := &handler{clusterOrigin: "cluster.local."}
	h.cluster.Store(z)
	eventually := func(what, name string, qtype uint16, want []string) {
		t.Helper()
		var got []string
		for range 200 {
			m := ask(h, name, qtype)
			if got = rdata(m.Answer); len(got) == len(want) && (len(want) == 0 || got[0] == want[0]) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: %s answers %q, want %q", what, name, got, want)
	}
	svcs, slices, pods := client.CoreV1().Services("default"), client.DiscoveryV1().EndpointSlices("default"), client.CoreV1().Pods("default")
	web := service("default", "web", []string{"10.43.0.20"})
	if _, err := svcs.Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("created", "web.default.svc.cluster.local.", dns.TypeA, []string{"A 10.43.0.20"})
	eventually("its PTR", "20.0.43.10.in-addr.arpa.", dns.TypePTR, []string{"PTR web.default.svc.cluster.local."})

	web.Spec.ClusterIPs, web.Spec.ClusterIP, web.ResourceVersion = []string{"10.43.0.21"}, "10.43.0.21", "2"
	if _, err := svcs.Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("changed", "web.default.svc.cluster.local.", dns.TypeA, []string{"A 10.43.0.21"})

	db := service("default", "db", []string{corev1.ClusterIPNone})
	if _, err := svcs.Create(ctx, db, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := slices.Create(ctx, slice("default", "db", discoveryv1.AddressTypeIPv4, nil, ep{ip: "10.42.1.5", hostname: "db-0"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("endpoints", "db-0.db.default.svc.cluster.local.", dns.TypeA, []string{"A 10.42.1.5"})
	if err := slices.Delete(ctx, "db-ipv4", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("endpoints gone", "db-0.db.default.svc.cluster.local.", dns.TypeA, nil)

	if _, err := pods.Create(ctx, pod("default", "a", "10.42.1.7"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("pod", "10-42-1-7.default.pod.cluster.local.", dns.TypeA, []string{"A 10.42.1.7"})
	if err := pods.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("pod gone", "10-42-1-7.default.pod.cluster.local.", dns.TypeA, nil)

	if err := svcs.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("deleted", "web.default.svc.cluster.local.", dns.TypeA, nil)
	eventually("its PTR gone", "21.0.43.10.in-addr.arpa.", dns.TypePTR, nil)
}
