package policy

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestSkeleton: the chains and sets, whatever the policies.
func TestSkeleton(t *testing.T) {
	p, fake := newFake()
	syncNode1(t, p, newCluster())
	golden(t, "skeleton.nft", fake.DumpSorted())
}

// TestFeatures: for each feature of the API, the elements node-1 holds (x/a and x/b are its
// pods). The golden files are the reviewable truth: each says who may reach whom.
func TestFeatures(t *testing.T) {
	tcp, udp, sctp := corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	cases := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		change   func(c *cluster)
	}{
		{name: "no-policy"},
		{name: "deny-all-ingress", policies: []*networkingv1.NetworkPolicy{np("x", "deny", networkingv1.NetworkPolicySpec{})}},
		{name: "deny-all-egress", policies: []*networkingv1.NetworkPolicy{np("x", "deny", networkingv1.NetworkPolicySpec{PolicyTypes: egress})}},
		{name: "egress-defaulted", policies: []*networkingv1.NetworkPolicy{np("x", "out", networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("pod", "b")}}}}})}},
		{name: "allow-all-ingress", policies: []*networkingv1.NetworkPolicy{np("x", "all", networkingv1.NetworkPolicySpec{
			PolicyTypes: ingress, Ingress: []networkingv1.NetworkPolicyIngressRule{{}}})}},
		{name: "pod-selector", policies: []*networkingv1.NetworkPolicy{np("x", "from-b", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("pod", "b")}}}}})}},
		{name: "namespace-selector", policies: []*networkingv1.NetworkPolicy{np("x", "from-y", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}},
				Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(80))}}}})}},
		{name: "and-peer", policies: []*networkingv1.NetworkPolicy{np("x", "and", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y"), PodSelector: sel("pod", "b")}}}}})}},
		{name: "or-peers", policies: []*networkingv1.NetworkPolicy{np("x", "or", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}, {PodSelector: sel("pod", "b")}}}}})}},
		{name: "match-expressions", policies: []*networkingv1.NetworkPolicy{np("x", "expr", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{},
				PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "pod", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a"}}}}}}}}})}},
		{name: "ipblock-except", policies: []*networkingv1.NetworkPolicy{np("x", "block", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16", Except: []string{"10.42.2.2/32", "10.42.3.0/24"}}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "2001:cafe:42::/56", Except: []string{"2001:cafe:42:2::/64"}}}}}}})}},
		{name: "ports-endport-protocols", policies: []*networkingv1.NetworkPolicy{np("x", "ports", networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
				port(tcp, intstr.FromInt32(80), 90), port(udp, intstr.FromInt32(53)), port(sctp, intstr.FromInt32(9000)), {Protocol: &udp}}}}})}},
		{name: "stacked-overlapping", policies: []*networkingv1.NetworkPolicy{
			np("x", "one", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(80), 90)}}}}),
			np("x", "two", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16"}}},
				Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(85), 100)}}}})}},
		{name: "named-port-per-pod", change: func(c *cluster) {
			c.pods[1].Spec.Containers[0].Ports[0].ContainerPort = 8080 // x/b calls its serve-80 port 8080
		}, policies: []*networkingv1.NetworkPolicy{np("x", "named", networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("serve-80"))}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("serve-80"))}}}})}},
		{name: "hostnetwork-not-selected", change: func(c *cluster) {
			h := c.addPod("x", "h", "node-1", "192.168.1.11")
			h.Spec.HostNetwork = true
		}, policies: []*networkingv1.NetworkPolicy{np("x", "deny", networkingv1.NetworkPolicySpec{})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster()
			if tc.change != nil {
				tc.change(c)
			}
			c.policies = tc.policies
			p, fake := newFake()
			syncNode1(t, p, c)
			golden(t, tc.name+".nft", elements(fake))
		})
	}
}

// TestPartial: after the first sync, a change sends only the elements it touches, and a
// sync without changes sends nothing.
func TestPartial(t *testing.T) {
	c := newCluster()
	c.policies = []*networkingv1.NetworkPolicy{np("x", "deny", networkingv1.NetworkPolicySpec{})}
	p, _ := newFake()
	syncNode1(t, p, c)
	if tx := syncNode1(t, p, c); tx != "" {
		t.Errorf("a sync without changes ran a transaction:\n%s", tx)
	}
	c.policies = append(c.policies, np("x", "from-y", networkingv1.NetworkPolicySpec{PodSelector: *sel("pod", "a"),
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("ns", "y")}}}}}))
	tx := syncNode1(t, p, c)
	if strings.Contains(tx, "chain") || strings.Contains(tx, "flush") {
		t.Errorf("a policy added rewrote more than elements:\n%s", tx)
	}
	golden(t, "partial-add.nft", tx)
	c.ns[1].Labels = map[string]string{"ns": "elsewhere"}
	golden(t, "partial-relabel.nft", syncNode1(t, p, c))
	// A pod comes to node-1, and one goes: their own elements, nothing else.
	c.addPod("x", "c", "node-1", "10.42.1.4", "2001:cafe:42:1::4")
	c.pods = slices.DeleteFunc(c.pods, func(p *corev1.Pod) bool { return p.Namespace == "x" && p.Name == "b" })
	golden(t, "partial-pods.nft", syncNode1(t, p, c))
}
