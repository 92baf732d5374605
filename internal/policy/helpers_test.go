package policy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/nft"
)

// cluster is a small cluster for the tests: namespaces x and y (labelled ns=x, ns=y), pods
// a and b in each; x/a and x/b on node-1, the rest on node-2.
type cluster struct {
	pods     []*corev1.Pod
	ns       []*corev1.Namespace
	policies []*networkingv1.NetworkPolicy
	cnps     []*cnp.ClusterNetworkPolicy
}

func newCluster() *cluster {
	c := &cluster{}
	for _, n := range []string{"x", "y"} {
		c.ns = append(c.ns, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"ns": n, "kubernetes.io/metadata.name": n}}})
	}
	c.addPod("x", "a", "node-1", "10.42.1.2", "2001:cafe:42:1::2")
	c.addPod("x", "b", "node-1", "10.42.1.3", "2001:cafe:42:1::3")
	c.addPod("y", "a", "node-2", "10.42.2.2", "2001:cafe:42:2::2")
	c.addPod("y", "b", "node-2", "10.42.2.3", "2001:cafe:42:2::3")
	return c
}

func (c *cluster) addPod(ns, name, node string, ips ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"pod": name}},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "serve-80", ContainerPort: 80}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	c.pods = append(c.pods, p)
	return p
}

func (c *cluster) sources() sources {
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a"}}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.1.0/24", "2001:cafe:42:1::/64"}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.11"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-2", Labels: map[string]string{"zone": "b"}}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.2.0/24", "2001:cafe:42:2::/64"}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.12"}}}},
	}
	return sources{
		pods:       func(labels.Selector) ([]*corev1.Pod, error) { return c.pods, nil },
		namespaces: func(labels.Selector) ([]*corev1.Namespace, error) { return c.ns, nil },
		policies:   func(labels.Selector) ([]*networkingv1.NetworkPolicy, error) { return c.policies, nil },
		nodes:      func(labels.Selector) ([]*corev1.Node, error) { return nodes, nil },
		cnps:       func() ([]*cnp.ClusterNetworkPolicy, error) { return c.cnps, nil },
	}
}

// syncNode1 syncs node-1's table from c into fake, and returns what it sent ("": nothing).
func syncNode1(t *testing.T, p *Policy, c *cluster) string {
	t.Helper()
	tx, err := p.sync(context.Background(), c.sources())
	if err != nil {
		t.Fatal(err)
	}
	if tx == nil {
		return ""
	}
	return tx.String()
}

func newFake() (*Policy, *nft.Fake) {
	fake := nft.NewFake(nft.InetFamily, Table)
	return New(Options{NodeName: "node-1"}, nil, fake), fake
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}

// elements is the set elements of the fake's dump, skeleton left out: what policy decided,
// sorted.
func elements(fake *nft.Fake) string {
	var out []string
	for _, l := range strings.SplitAfter(fake.DumpSorted(), "\n") {
		if strings.HasPrefix(l, "add element") && !strings.Contains(l, " known-") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// Helpers that spell policies briefly.

func np(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func port(proto corev1.Protocol, p intstr.IntOrString, end ...int32) networkingv1.NetworkPolicyPort {
	out := networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
	if len(end) > 0 {
		out.EndPort = &end[0]
	}
	return out
}
