package policy

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

func clusterPolicy(name string, tier cnp.Tier, priority int32, subject cnp.ClusterNetworkPolicySubject) *cnp.ClusterNetworkPolicy {
	return &cnp.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cnp.ClusterNetworkPolicySpec{Tier: tier, Priority: priority, Subject: subject}}
}

func inNamespace(ns string) cnp.ClusterNetworkPolicySubject {
	return cnp.ClusterNetworkPolicySubject{Namespaces: sel("ns", ns)}
}

func fromNamespace(ns string) []cnp.ClusterNetworkPolicyIngressPeer {
	return []cnp.ClusterNetworkPolicyIngressPeer{{Namespaces: sel("ns", ns)}}
}

// TestClusterNetworkPolicy: the tiers' verdict maps node-1 holds for its pods x/a and x/b.
func TestClusterNetworkPolicy(t *testing.T) {
	tcp80 := []cnp.ClusterNetworkPolicyProtocol{{TCP: &cnp.ClusterNetworkPolicyProtocolTCP{DestinationPort: &cnp.Port{Number: 80}}}}
	deny := clusterPolicy("deny-y-to-x", cnp.AdminTier, 10, inNamespace("x"))
	deny.Spec.Ingress = []cnp.ClusterNetworkPolicyIngressRule{{Name: "deny-y", Action: cnp.ClusterNetworkPolicyRuleActionDeny, From: fromNamespace("y")}}
	// Earlier priority: y/a passes to the NetworkPolicy tier on TCP 80, whatever deny-y-to-x says.
	pass := clusterPolicy("pass-ya-80", cnp.AdminTier, 5, inNamespace("x"))
	pass.Spec.Ingress = []cnp.ClusterNetworkPolicyIngressRule{{Action: cnp.ClusterNetworkPolicyRuleActionPass, Protocols: tcp80,
		From: []cnp.ClusterNetworkPolicyIngressPeer{{Pods: &cnp.NamespacedPod{NamespaceSelector: *sel("ns", "y"), PodSelector: *sel("pod", "a")}}}}}
	baseline := clusterPolicy("baseline-deny-egress", cnp.BaselineTier, 0, cnp.ClusterNetworkPolicySubject{Pods: &cnp.NamespacedPod{PodSelector: *sel("pod", "a")}})
	baseline.Spec.Egress = []cnp.ClusterNetworkPolicyEgressRule{
		{Action: cnp.ClusterNetworkPolicyRuleActionAccept, To: []cnp.ClusterNetworkPolicyEgressPeer{{Nodes: sel("zone", "b")}, {Networks: []cnp.CIDR{"192.168.2.0/24"}}}},
		{Action: cnp.ClusterNetworkPolicyRuleActionDeny, To: []cnp.ClusterNetworkPolicyEgressPeer{{Networks: []cnp.CIDR{"0.0.0.0/0", "::/0"}}}},
	}
	unknown := clusterPolicy("domains", cnp.AdminTier, 20, inNamespace("x"))
	unknown.Spec.Egress = []cnp.ClusterNetworkPolicyEgressRule{{Action: cnp.ClusterNetworkPolicyRuleActionDeny, To: []cnp.ClusterNetworkPolicyEgressPeer{{DomainNames: []cnp.DomainName{"example.com"}}}}}
	for _, tc := range []struct {
		name     string
		cnps     []*cnp.ClusterNetworkPolicy
		policies []*networkingv1.NetworkPolicy
	}{
		{name: "cnp-admin-deny", cnps: []*cnp.ClusterNetworkPolicy{deny}},
		{name: "cnp-admin-pass-before-deny", cnps: []*cnp.ClusterNetworkPolicy{deny, pass}},
		{name: "cnp-baseline-egress", cnps: []*cnp.ClusterNetworkPolicy{baseline}},
		{name: "cnp-unknown-peer-fails-closed", cnps: []*cnp.ClusterNetworkPolicy{unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster()
			c.cnps, c.policies = tc.cnps, tc.policies
			p, fake := newFake()
			syncNode1(t, p, c)
			golden(t, tc.name+".nft", elements(fake))
		})
	}
}
