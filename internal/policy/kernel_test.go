package policy

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	cnp "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
	"github.com/weftnet/weft/internal/nft"
)

// The kernel takes policy's table as policy writes it: the skeleton through nft, then every
// kind of element (ranges of IPv4 and IPv6 peers, port ranges, three protocols, the tiers'
// verdicts, comments) as element transactions, which go over netlink; and a full sync after
// each finds the kernel's table as it was left, and sends nothing.
func TestKernelTable(t *testing.T) {
	ns := netnstest.Scratch(t, "polk")
	k, err := nft.New(nft.InetFamily, Table, netns.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{NodeName: "node-1"}, nil, k)
	c := newCluster()
	if tx, err := p.sync(context.Background(), c.sources()); err != nil || tx == nil || tx.ElementsOnly() {
		t.Fatalf("the first sync: want the table written whole; sent %v, %v", tx, err)
	}

	tcp, udp, sctp := corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP
	deny := clusterPolicy("deny-y-to-x", cnp.AdminTier, 10, inNamespace("x"))
	deny.Spec.Ingress = []cnp.ClusterNetworkPolicyIngressRule{{Action: cnp.ClusterNetworkPolicyRuleActionDeny, From: fromNamespace("y")}}
	pass := clusterPolicy("pass-y-80", cnp.AdminTier, 5, inNamespace("x"))
	pass.Spec.Ingress = []cnp.ClusterNetworkPolicyIngressRule{{Action: cnp.ClusterNetworkPolicyRuleActionPass,
		Protocols: []cnp.ClusterNetworkPolicyProtocol{{TCP: &cnp.ClusterNetworkPolicyProtocolTCP{DestinationPort: &cnp.Port{Number: 80}}}}, From: fromNamespace("y")}}
	baseline := clusterPolicy("baseline", cnp.BaselineTier, 0, inNamespace("x"))
	baseline.Spec.Egress = []cnp.ClusterNetworkPolicyEgressRule{
		{Action: cnp.ClusterNetworkPolicyRuleActionAccept, To: []cnp.ClusterNetworkPolicyEgressPeer{{Networks: []cnp.CIDR{"192.168.2.0/24"}}}},
		{Action: cnp.ClusterNetworkPolicyRuleActionDeny, To: []cnp.ClusterNetworkPolicyEgressPeer{{Networks: []cnp.CIDR{"0.0.0.0/0", "::/0"}}}},
	}
	steps := []struct {
		what     string
		policies []*networkingv1.NetworkPolicy
		cnps     []*cnp.ClusterNetworkPolicy
		listed   string
	}{
		{what: "every kind of element", cnps: []*cnp.ClusterNetworkPolicy{deny, pass, baseline}, policies: []*networkingv1.NetworkPolicy{
			np("x", "block", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16", Except: []string{"10.42.2.2/32", "10.42.3.0/24"}}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "2001:cafe:42::/56", Except: []string{"2001:cafe:42:2::/64"}}}}}},
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
					port(tcp, intstr.FromInt32(80), 90), port(udp, intstr.FromInt32(53)), port(sctp, intstr.FromInt32(9000)), port(tcp, intstr.FromString("serve-80"))}}}}),
		}, listed: `10.42.1.2 . 10.42.2.2/31 . tcp . 80 comment "cnp pass-y-80 ingress 0" : goto ingress-np-v4`},
		{what: "policies go, a namespace is relabelled", cnps: []*cnp.ClusterNetworkPolicy{pass, baseline},
			listed: `10.42.1.2 . 192.168.2.0/24 . tcp . 0-65535 comment "cnp baseline egress 0" : return`},
		{what: "no policy"},
	}
	for _, step := range steps {
		c.policies, c.cnps = step.policies, step.cnps
		if step.what == "policies go, a namespace is relabelled" {
			c.ns[1].Labels = map[string]string{"ns": "elsewhere"}
		}
		tx, err := p.sync(context.Background(), c.sources())
		if err != nil || tx == nil || !tx.ElementsOnly() {
			t.Fatalf("%s: want an element transaction; sent %v, %v", step.what, tx, err)
		}
		p.needFull = true
		if tx, err := p.sync(context.Background(), c.sources()); err != nil || tx != nil {
			t.Errorf("%s: a full sync of the table as left sent %v, %v", step.what, tx, err)
		}
		out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", Table).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), step.listed) {
			t.Errorf("%s: the table lacks %q:\n%s", step.what, step.listed, out)
		}
	}
}
