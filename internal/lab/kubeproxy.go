package lab

import (
	"strings"

	"github.com/weftnet/weft/internal/cidr"
	"github.com/weftnet/weft/internal/controlplane"
)

// What serves Services on the nodes (--proxy). The kube-proxy modes run the upstream kube-proxy,
// compiled into weft, so that users and benchmarks compare weft's proxy with it like for like.
const (
	ProxyWeft              = "weft"
	ProxyKubeProxyNFTables = "kube-proxy-nftables"
	ProxyKubeProxyIPTables = "kube-proxy-iptables"
)

// Proxies are the accepted values of --proxy.
var Proxies = []string{ProxyWeft, ProxyKubeProxyNFTables, ProxyKubeProxyIPTables}

// Where kube-proxy serves inside each node's network namespace. Every node has its own, so the
// upstream defaults clash with nothing.
const (
	kubeProxyHealthzPort = "10256"
	kubeProxyMetrics     = "127.0.0.1:10249"
)

// KubeProxyMode is kube-proxy's --proxy-mode, or "" when weft's own proxy serves Services.
func (p Plan) KubeProxyMode() string {
	mode, ok := strings.CutPrefix(p.Proxy, "kube-proxy-")
	if !ok {
		return ""
	}
	return mode
}

// ProxyDescription says in a few words what serves Services, for `lab up` and `lab status`.
func (p Plan) ProxyDescription() string {
	if mode := p.KubeProxyMode(); mode != "" {
		return "kube-proxy (upstream, " + mode + " mode) on every node; weft agents run with --proxy none"
	}
	return "weft (each node's weft agent, nftables table inet weft-proxy)"
}

// kubeProxyArgs are one node's kube-proxy flags. Each keeps kube-proxy inside the node's
// network namespace: nothing it does may reach the machine's own network or global settings.
func (p Plan) kubeProxyArgs(n Node, kubeconfig string) []string {
	healthz := "0.0.0.0:" + kubeProxyHealthzPort
	if p.HasIPv6() {
		healthz = "[::]:" + kubeProxyHealthzPort // both families
	}
	args := []string{
		"kube-proxy",
		"--kubeconfig=" + kubeconfig,
		"--hostname-override=" + n.Name,
		"--proxy-mode=" + p.KubeProxyMode(),
		"--cluster-cidr=" + cidr.Join(p.ClusterCIDRs),
		"--healthz-bind-address=" + healthz,
		"--metrics-bind-address=" + kubeProxyMetrics,
		// NodePorts on the Node's own addresses in both modes, as nftables mode and weft's
		// proxy do by default (iptables mode's default is every local address).
		"--nodeport-addresses=primary",
		// nf_conntrack_max and the conntrack hash size are one for the whole machine: 0 leaves
		// them alone. The TCP timeouts kube-proxy also sets are per network namespace.
		"--conntrack-max-per-core=0",
	}
	if p.KubeProxyMode() == "iptables" {
		// Localhost NodePorts would need route_localnet on the node; the lab keeps to what
		// nftables mode and weft's proxy do.
		args = append(args, "--iptables-localhost-nodeports=false")
	}
	return args
}

// addKubeProxies adds one supervised kube-proxy per node, in the node's network, mount and UTS
// namespaces, as kube-proxy's DaemonSet pod would run with host networking. Node runtimes must
// have started: kube-proxy joins the namespaces they made.
func (s *supervisor) addKubeProxies(cp controlplane.Config) {
	for _, nc := range s.nodeChildren() {
		kp := &child{name: "kube-proxy-" + nc.node.Name, netns: nc.netns, args: s.plan.kubeProxyArgs(*nc.node, cp.KubeProxyKubeconfig(nc.node.Name))}
		// Without the node's namespaces held open, a child with node set would build a second,
		// empty node world; kube-proxy then runs in the node's network namespace alone.
		if nc.nodeNS != nil {
			kp.node, kp.nodeNS = nc.node, nc.nodeNS
		} else {
			s.log.Warn("the node's mount namespace is not held; kube-proxy runs in its network namespace only", "node", nc.node.Name)
		}
		s.add(kp)
	}
}

// nodeChildren are the node runtimes among the supervised children.
func (s *supervisor) nodeChildren() []*child {
	s.mu.Lock()
	defer s.mu.Unlock()
	var nodes []*child
	for _, c := range s.children {
		if c.node != nil {
			nodes = append(nodes, c)
		}
	}
	return nodes
}
