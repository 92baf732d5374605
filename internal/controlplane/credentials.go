package controlplane

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/weftnet/weft/internal/pki"
)

// A lab lives for days at most; a year keeps certificates out of the way without being forever.
const certLifetime = 365 * 24 * time.Hour

// Endpoints are the API server URLs as seen from each place that talks to it.
type Endpoints struct {
	Host         string // from the machine, through the lab's loopback port
	ControlPlane string // from inside the control plane's namespace
	LAN          string // from the nodes
}

// Node is what a node's credentials name: its identity and the addresses its kubelet API serves on.
type Node struct {
	Name string
	IPs  []netip.Addr
}

// The weft agents' identity: one user per node, one group that RBAC binds.
const (
	AgentUserPrefix = "weft:agent:"
	AgentGroup      = "weft:agents"
)

// KubeletAPIClient is the common name the API server presents to kubelets; nodes serve logs and
// exec to it alone.
const KubeletAPIClient = "kube-apiserver-kubelet-client"

// WriteCredentials creates the CA, the API server's serving certificate, the service-account key
// pair, a kubeconfig for the admin, the controller-manager, the scheduler and every node, and
// every node's kubelet serving certificate.
func WriteCredentials(c Config, ep Endpoints, nodes []Node, adminMode os.FileMode) error {
	ca, err := pki.NewCA("weft-lab-ca", 10*certLifetime)
	if err != nil {
		return err
	}
	if err := ca.WriteFiles(c.path("pki", "ca.crt"), c.path("pki", "ca.key")); err != nil {
		return err
	}
	serving, err := ca.Issue(pki.Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   c.servingNames(),
		IPs:        c.servingIPs(),
		Server:     true,
		ValidFor:   certLifetime,
	})
	if err != nil {
		return fmt.Errorf("API server certificate: %w", err)
	}
	if err := serving.WriteFiles(c.path("pki", "apiserver.crt"), c.path("pki", "apiserver.key")); err != nil {
		return err
	}
	kubeletClient, err := issueClient(ca, KubeletAPIClient)
	if err != nil {
		return err
	}
	if err := kubeletClient.WriteFiles(c.path("pki", "apiserver-kubelet-client.crt"), c.path("pki", "apiserver-kubelet-client.key")); err != nil {
		return err
	}
	if err := writeFrontProxy(c); err != nil {
		return err
	}
	if err := writeServiceAccountKeys(c); err != nil {
		return err
	}

	kubeconfigs := []struct {
		path, server, user string
		groups             []string
		mode               os.FileMode
	}{
		{c.AdminKubeconfig(), ep.Host, "weft-admin", []string{"system:masters"}, adminMode},
		{c.path("controller-manager.kubeconfig"), ep.ControlPlane, "system:kube-controller-manager", nil, 0o600},
		{c.path("scheduler.kubeconfig"), ep.ControlPlane, "system:kube-scheduler", nil, 0o600},
	}
	for _, n := range nodes {
		kubeconfigs = append(kubeconfigs, struct {
			path, server, user string
			groups             []string
			mode               os.FileMode
		}{c.NodeKubeconfig(n.Name), ep.LAN, "system:node:" + n.Name, []string{"system:nodes"}, 0o600})
		// The agent acts as itself, not as the node: the Node authorizer lets a node read only
		// its own Node, and the agent needs them all. RBAC grants the group what it needs.
		kubeconfigs = append(kubeconfigs, struct {
			path, server, user string
			groups             []string
			mode               os.FileMode
		}{c.AgentKubeconfig(n.Name), ep.LAN, AgentUserPrefix + n.Name, []string{AgentGroup}, 0o600})
		if err := writeKubeletServing(c, ca, n); err != nil {
			return err
		}
	}
	for _, k := range kubeconfigs {
		client, err := issueClient(ca, k.user, k.groups...)
		if err != nil {
			return err
		}
		if err := pki.WriteKubeconfig(k.path, pki.Kubeconfig(c.ClusterName, k.server, ca.CertPEM, client), k.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeKubeletServing(c Config, ca *pki.CA, n Node) error {
	ips := make([]net.IP, len(n.IPs))
	for i, a := range n.IPs {
		ips[i] = net.IP(a.AsSlice())
	}
	kp, err := ca.Issue(pki.Leaf{CommonName: "system:node:" + n.Name, Organization: []string{"system:nodes"}, DNSNames: []string{n.Name}, IPs: ips, Server: true, ValidFor: certLifetime})
	if err != nil {
		return fmt.Errorf("kubelet serving certificate for %s: %w", n.Name, err)
	}
	cert, key := c.NodeServingCert(n.Name)
	return kp.WriteFiles(cert, key)
}

func issueClient(ca *pki.CA, user string, groups ...string) (pki.KeyPair, error) {
	kp, err := ca.Issue(pki.Leaf{CommonName: user, Organization: groups, Client: true, ValidFor: certLifetime})
	if err != nil {
		return kp, fmt.Errorf("client certificate for %s: %w", user, err)
	}
	return kp, nil
}

// writeFrontProxy makes the separate CA that aggregated API servers trust for proxied requests.
func writeFrontProxy(c Config) error {
	ca, err := pki.NewCA("weft-lab-front-proxy-ca", 10*certLifetime)
	if err != nil {
		return err
	}
	if err := ca.WriteFiles(c.path("pki", "front-proxy-ca.crt"), c.path("pki", "front-proxy-ca.key")); err != nil {
		return err
	}
	client, err := issueClient(ca, FrontProxyClient)
	if err != nil {
		return err
	}
	return client.WriteFiles(c.path("pki", "front-proxy-client.crt"), c.path("pki", "front-proxy-client.key"))
}

func writeServiceAccountKeys(c Config) error {
	key, pub, err := pki.NewServiceAccountKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.path("pki", "sa.key"), key, 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	if err := os.WriteFile(c.path("pki", "sa.pub"), pub, 0o644); err != nil {
		return fmt.Errorf("write service-account public key: %w", err)
	}
	return nil
}

// servingNames are the names clients use for the API server: the in-cluster service names and localhost.
func (c Config) servingNames() []string {
	return []string{
		"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + c.ClusterDomain, "localhost", "control-plane",
	}
}

// servingIPs are loopback (the host's port-forward), the LAN addresses, and the kubernetes
// Service's ClusterIP, the first address of each service range.
func (c Config) servingIPs() []net.IP {
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback(), c.AdvertiseAddress}
	addrs = append(addrs, c.ServingIPs...)
	for _, s := range c.ServiceCIDRs {
		addrs = append(addrs, s.Addr().Next())
	}
	ips := make([]net.IP, 0, len(addrs))
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			ips = append(ips, net.IP(a.AsSlice()))
		}
	}
	return ips
}
