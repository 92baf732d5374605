package egressroute

import (
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/nft"
)

const self = "node-1"

// quiet keeps sync's logs out of the test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is the lab's dual-stack cluster: pod and service ranges.
var cluster = prefixes("10.42.0.0/16", "10.43.0.0/16", "2001:cafe:42::/56", "2001:cafe:43::/112")

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// created orders test routes: the n-th route was created n minutes after the first.
func created(n int) metav1.Time {
	return metav1.NewTime(time.Date(2026, 11, 25, 10, n, 0, 0, time.UTC))
}

func route(name string, n int, spec Spec) *EgressRoute {
	return &EgressRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: "weft.dev/v1alpha1", Kind: "EgressRoute"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1, CreationTimestamp: created(n), ResourceVersion: "1"},
		Spec:       spec,
	}
}

func toUnstructured(t testing.TB, er *EgressRoute) *unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(er)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func pod(ns, name, node string, phase corev1.PodPhase, labels map[string]string, ips ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	p.Spec.NodeName, p.Status.Phase = node, phase
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

func newDynamic(t testing.TB, routes ...*EgressRoute) *dynamicfake.FakeDynamicClient {
	var objs []runtime.Object
	for _, er := range routes {
		objs = append(objs, toUnstructured(t, er))
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GVR: "EgressRouteList"}, objs...)
}

// testNode is a controller on fakes of every kind.
type testNode struct {
	c   *Controller
	nft *nft.Fake
	nl  *fakeNetlink
	sys fakeSysctl
	dyn *dynamicfake.FakeDynamicClient
}

func newTestNode(t testing.TB, routes ...*EgressRoute) *testNode {
	t.Helper()
	n := &testNode{
		nft: nft.NewFake(nft.InetFamily, Table),
		nl:  newFakeNetlink(),
		sys: fakeSysctl{"net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/eth0/rp_filter": "0", "net/ipv4/conf/eth1/rp_filter": "1"},
		dyn: newDynamic(t, routes...),
	}
	c, err := New(Options{NodeName: self, ClusterCIDRs: cluster[:1], ServiceCIDRs: cluster[1:2], Log: quiet}, nil, n.dyn,
		Kernel{NFT: n.nft, Netlink: n.nl, Sysctl: n.sys})
	if err != nil {
		t.Fatal(err)
	}
	c.cluster = cluster // dual-stack
	n.c = c
	return n
}

// snap is a snapshot of the given routes on a three-node cluster whose node-1 has podCIDRs.
func snap(t testing.TB, routes []*EgressRoute, pods ...*corev1.Pod) snapshot {
	var us []*unstructured.Unstructured
	for _, er := range routes {
		us = append(us, toUnstructured(t, er))
	}
	s := snapshot{
		pods:       pods,
		namespaces: map[string]labels.Set{"default": {}, "data": {"team": "data"}},
		podCIDRs:   prefixes("10.42.1.0/24", "2001:cafe:42:1::/64"),
		nodes:      []string{"node-1", "node-2", "node-3"},
		objects:    map[string]*unstructured.Unstructured{},
	}
	for _, u := range us {
		s.objects[u.GetName()] = u
	}
	s.routes, s.broken = parseAll(us)
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got)
}
