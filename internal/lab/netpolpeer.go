package lab

import (
	"github.com/weftnet/weft/internal/controlplane"
)

// What enforces NetworkPolicy on the nodes (--policy). kube-network-policies runs the upstream
// agent of that name, compiled into weft, so that users and benchmarks compare weft's
// enforcement with it like for like, as --proxy does for kube-proxy.
const (
	PolicyWeft                = "weft"
	PolicyNone                = "none"
	PolicyKubeNetworkPolicies = "kube-network-policies"
)

// Policies are the accepted values of --policy.
var Policies = []string{PolicyWeft, PolicyNone, PolicyKubeNetworkPolicies}

// weftPolicy tells whether weft's agents enforce NetworkPolicy; plans older than the flag
// leave Policy empty, and their agents did.
func (p Plan) weftPolicy() bool { return p.Policy == "" || p.Policy == PolicyWeft }

// kubeNetworkPoliciesArgs are one node's kube-network-policies flags: the node's own agent
// credentials, which read exactly what it reads (Pods, Namespaces, NetworkPolicies), and its
// metrics on the node's loopback, where nothing else listens on that port.
func kubeNetworkPoliciesArgs(n Node, kubeconfig string) []string {
	return []string{
		"kube-network-policies",
		"--kubeconfig=" + kubeconfig,
		"--hostname-override=" + n.Name,
		"--metrics-bind-address=127.0.0.1:9080",
	}
}

// addKubeNetworkPolicies adds one supervised kube-network-policies per node, in the node's
// namespaces, as its DaemonSet pod would run with host networking. Node runtimes must have
// started: it joins the namespaces they made.
func (s *supervisor) addKubeNetworkPolicies(cp controlplane.Config) {
	for _, nc := range s.nodeChildren() {
		c := &child{name: "kube-network-policies-" + nc.node.Name, netns: nc.netns,
			args: kubeNetworkPoliciesArgs(*nc.node, cp.AgentKubeconfig(nc.node.Name))}
		if nc.nodeNS != nil {
			c.node, c.nodeNS = nc.node, nc.nodeNS
		}
		s.add(c)
	}
}
