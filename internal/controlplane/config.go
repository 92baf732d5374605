// Package controlplane prepares and describes the lab's embedded Kubernetes control plane:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler, each run as a child process of
// weft. It writes the credentials they need and builds their command lines; the lab supervises them.
package controlplane

import (
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/weftnet/weft/internal/cidr"
)

// Ports inside the control plane's network namespace. Each lab has its own namespace, so these
// never clash with the host or with another lab.
const (
	APIServerPort = 6443
	// FrontProxyClient is the name the API server uses when it proxies to aggregated APIs.
	FrontProxyClient = "front-proxy-client"
	etcdClientURL    = "http://127.0.0.1:2379"
	etcdPeerURL      = "http://127.0.0.1:2380"
)

// Config is what the control plane needs to know about the cluster.
type Config struct {
	// ClusterName names the cluster, user and context in the kubeconfigs, so that kubeconfigs of
	// labs side by side merge without clashing.
	ClusterName string
	// Dir holds pki/, etcd/ and the kubeconfigs.
	Dir string
	// AdvertiseAddress is the API server's address on the lab LAN (the family of the first service range).
	AdvertiseAddress netip.Addr
	// ServingIPs are extra addresses the API server certificate must carry (the LAN addresses, loopback).
	ServingIPs         []netip.Addr
	ClusterCIDRs       []netip.Prefix
	ServiceCIDRs       []netip.Prefix
	NodeCIDRMaskSizeV4 int
	NodeCIDRMaskSizeV6 int
	ClusterDomain      string
}

func (c Config) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// EtcdArgs runs a single-member etcd on the control plane's loopback. Its data is disposable with
// the lab, so fsync is skipped: it makes start-up and writes several times faster on a small disk.
func (c Config) EtcdArgs() []string {
	return []string{
		"--name=weft",
		"--data-dir=" + c.path("etcd"),
		"--listen-client-urls=" + etcdClientURL,
		"--advertise-client-urls=" + etcdClientURL,
		"--listen-peer-urls=" + etcdPeerURL,
		"--initial-advertise-peer-urls=" + etcdPeerURL,
		"--initial-cluster=weft=" + etcdPeerURL,
		"--listen-metrics-urls=http://127.0.0.1:2381",
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

// APIServerArgs turns on RBAC and Node authorization with NodeRestriction, so every node acts
// under its own identity as a kubelet does.
func (c Config) APIServerArgs() []string {
	return []string{
		"--etcd-servers=" + etcdClientURL,
		"--bind-address=::",
		"--secure-port=" + strconv.Itoa(APIServerPort),
		"--advertise-address=" + c.AdvertiseAddress.String(),
		"--service-cluster-ip-range=" + cidr.Join(c.ServiceCIDRs),
		"--tls-cert-file=" + c.path("pki", "apiserver.crt"),
		"--tls-private-key-file=" + c.path("pki", "apiserver.key"),
		"--client-ca-file=" + c.path("pki", "ca.crt"),
		"--kubelet-client-certificate=" + c.path("pki", "apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + c.path("pki", "apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--service-account-issuer=https://kubernetes.default.svc." + c.ClusterDomain,
		"--service-account-key-file=" + c.path("pki", "sa.pub"),
		"--service-account-signing-key-file=" + c.path("pki", "sa.key"),
		// The front proxy lets aggregated APIs (metrics-server ...) trust the API server, and gives
		// the controllers' own servers the request-header CA they look up at start.
		"--requestheader-client-ca-file=" + c.path("pki", "front-proxy-ca.crt"),
		"--requestheader-allowed-names=" + FrontProxyClient,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + c.path("pki", "front-proxy-client.crt"),
		"--proxy-client-key-file=" + c.path("pki", "front-proxy-client.key"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=1",
	}
}

// ControllerManagerArgs allocates podCIDRs to nodes and runs the default controllers, which
// include endpointslice, namespace, garbage-collector, node-lifecycle and the service-CIDR and
// IP-address controllers. One replica needs no leader election, which would only delay start-up.
func (c Config) ControllerManagerArgs() []string {
	kubeconfig := c.path("controller-manager.kubeconfig")
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--controllers=*",
		"--use-service-account-credentials=true",
		"--allocate-node-cidrs=true",
		"--cluster-cidr=" + cidr.Join(c.ClusterCIDRs),
		"--service-cluster-ip-range=" + cidr.Join(c.ServiceCIDRs),
		"--root-ca-file=" + c.path("pki", "ca.crt"),
		"--client-ca-file=" + c.path("pki", "ca.crt"),
		"--cluster-signing-cert-file=" + c.path("pki", "ca.crt"),
		"--cluster-signing-key-file=" + c.path("pki", "ca.key"),
		"--service-account-private-key-file=" + c.path("pki", "sa.key"),
		"--profiling=false",
		"--v=1",
	}
	// The controller-manager refuses a mask flag for a family the cluster does not have.
	for _, cidr := range c.ClusterCIDRs {
		if cidr.Addr().Is4() {
			args = append(args, "--node-cidr-mask-size-ipv4="+strconv.Itoa(c.NodeCIDRMaskSizeV4))
		} else {
			args = append(args, "--node-cidr-mask-size-ipv6="+strconv.Itoa(c.NodeCIDRMaskSizeV6))
		}
	}
	return args
}

// SchedulerArgs runs a single scheduler replica.
func (c Config) SchedulerArgs() []string {
	kubeconfig := c.path("scheduler.kubeconfig")
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
}

// AdminKubeconfig is the path of the cluster-admin kubeconfig for users on the host.
func (c Config) AdminKubeconfig() string { return c.path("admin.kubeconfig") }

// NodeServingCert is where a node's kubelet API certificate and key are.
func (c Config) NodeServingCert(node string) (cert, key string) {
	return c.path("nodes", node, "kubelet.crt"), c.path("nodes", node, "kubelet.key")
}

// AgentKubeconfig is the path of the kubeconfig the node's weft agent runs under.
func (c Config) AgentKubeconfig(node string) string {
	return c.path("nodes", node, "agent.kubeconfig")
}

// CACert is the cluster CA's certificate.
func (c Config) CACert() string { return c.path("pki", "ca.crt") }

// NodeKubeconfig is the path of the kubeconfig a node runs under.
func (c Config) NodeKubeconfig(node string) string {
	return c.path("nodes", node, "kubelet.kubeconfig")
}
