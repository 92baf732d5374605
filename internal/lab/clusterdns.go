package lab

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// The lab's cluster DNS: every node's agent answers the kube-dns Service's addresses itself
// (internal/dns), the Service exists so clients and tools find it where they expect, and the
// router answers the small upstream zone lab.example for the nodes.

// UpstreamZone is the zone the lab's router answers as the nodes' resolver.
const UpstreamZone = "lab.example."

// upstreamRecords are the router's names: the external host and the site host, as far as the
// lab has them in each family (names without a host answer nothing).
func (p Plan) upstreamRecords() map[string][]netip.Addr {
	recs := map[string][]netip.Addr{
		"external.lab.example.": {hostAddr(ExternalV4, 10)},
		"site.lab.example.":     {hostAddr(SiteV4, 10)},
	}
	if p.HasIPv6() {
		recs["external.lab.example."] = append(recs["external.lab.example."], hostAddr(ExternalV6, 10))
		recs["site.lab.example."] = append(recs["site.lab.example."], hostAddr(SiteV6, 10))
	}
	return recs
}

// routerDNSArgs run `weft internal lab-dns` in the router's namespace.
func (p Plan) routerDNSArgs() []string {
	args := []string{"internal", "lab-dns", "--zone", UpstreamZone}
	recs := p.upstreamRecords()
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		for _, a := range recs[name] {
			args = append(args, "--record", name+"="+a.String())
		}
	}
	return args
}

// dnsAgentArgs hand the cluster domain to every agent's DNS server.
func (p Plan) dnsAgentArgs() []string {
	return []string{"--agent-arg=--cluster-domain=" + p.ClusterDomain}
}

// writeNodeResolvConf makes the router the node's resolver, in the upper layer of the node's
// /etc overlay (see PrepareNode): the node's agent forwards there, and pods with dnsPolicy
// Default inherit it. The host's own resolv.conf is never touched.
func writeNodeResolvConf(p Plan, n Node) error {
	upper := filepath.Join(p.StateDir, nodesDir, n.Name, "rootfs", "etc", "upper")
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return fmt.Errorf("node %s's /etc: %w", n.Name, err)
	}
	var b strings.Builder
	b.WriteString("# weft lab: the lab's router answers " + UpstreamZone + "\n")
	// The cluster's families only, in its order: pods with dnsPolicy Default inherit this
	// file, and busybox's nslookup gives up when any server in it is unreachable (an IPv6-only
	// pod and 192.168.1.1).
	for _, c := range p.ClusterCIDRs {
		a := p.Router.IPv4
		if c.Addr().Is6() {
			a = p.Router.IPv6
		}
		if a.IsValid() && !strings.Contains(b.String(), "nameserver "+a.String()+"\n") {
			b.WriteString("nameserver " + a.String() + "\n")
		}
	}
	b.WriteString("options timeout:2 attempts:2\n")
	path := filepath.Join(upper, "resolv.conf")
	// A symlink in the upper layer (the host's resolv.conf often is one) would send the write
	// to the host: replace it with a file.
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("node %s's resolv.conf: %w", n.Name, err)
	}
	return nil
}

// kubeDNSService is kube-system/kube-dns at --cluster-dns (and the 10th address of the other
// family's service range on dual-stack), without a selector: the agents answer it on every
// node, before the service proxy.
func (p Plan) kubeDNSService() *corev1.Service {
	ips := []string{p.ClusterDNS.String()}
	policy := corev1.IPFamilyPolicySingleStack
	for _, s := range p.ServiceCIDRs {
		if s.Addr().Is4() != p.ClusterDNS.Is4() {
			ips = append(ips, nthAddr(s, 10).String())
			policy = corev1.IPFamilyPolicyPreferDualStack
			break
		}
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "weft-dns",
		}},
		Spec: corev1.ServiceSpec{
			ClusterIP: ips[0], ClusterIPs: ips, IPFamilyPolicy: ptr.To(policy),
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}

// ensureKubeDNS creates the Service, waiting for kube-system, which the API server makes
// shortly after it is ready.
func ensureKubeDNS(ctx context.Context, client kubernetes.Interface, p Plan) error {
	svc := p.kubeDNSService()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		return last == nil || apierrors.IsAlreadyExists(last), nil
	})
	if err != nil {
		return fmt.Errorf("create Service kube-system/kube-dns at %s: %v", strings.Join(svc.Spec.ClusterIPs, ","), last)
	}
	return nil
}
