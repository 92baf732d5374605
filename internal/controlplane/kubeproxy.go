package controlplane

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/weftnet/weft/internal/pki"
)

// The upstream kube-proxy's identity when a lab runs it in place of weft's proxy: one user per
// node, so the API server's audit and events name the node, and one group that RBAC binds.
const (
	KubeProxyUserPrefix = "weft:kube-proxy:"
	KubeProxyGroup      = "weft:kube-proxies"
	// kubeProxyRole is the bootstrap ClusterRole the API server keeps in step with what its own
	// kube-proxy reads; binding it rather than copying its rules keeps the two from drifting.
	kubeProxyRole    = "system:node-proxier"
	kubeProxyBinding = "weft-kube-proxy"
)

// KubeProxyKubeconfig is the path of the kubeconfig a node's kube-proxy runs under.
func (c Config) KubeProxyKubeconfig(node string) string {
	return c.path("nodes", node, "kube-proxy.kubeconfig")
}

// WriteKubeProxyCredentials gives every node's kube-proxy a client certificate from the cluster
// CA, which WriteCredentials must have made, and a kubeconfig pointing at server.
func WriteKubeProxyCredentials(c Config, server string, nodes []Node) error {
	ca, err := pki.LoadCA(c.CACert(), c.path("pki", "ca.key"))
	if err != nil {
		return err
	}
	for _, n := range nodes {
		client, err := issueClient(ca, KubeProxyUserPrefix+n.Name, KubeProxyGroup)
		if err != nil {
			return err
		}
		if err := pki.WriteKubeconfig(c.KubeProxyKubeconfig(n.Name), pki.Kubeconfig(c.ClusterName, server, ca.CertPEM, client), 0o600); err != nil {
			return fmt.Errorf("kube-proxy kubeconfig for %s: %w", n.Name, err)
		}
	}
	return nil
}

// EnsureKubeProxyRBAC binds system:node-proxier to KubeProxyGroup.
func EnsureKubeProxyRBAC(ctx context.Context, client kubernetes.Interface) error {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: kubeProxyBinding},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: kubeProxyRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: KubeProxyGroup}},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("ClusterRoleBinding %s: %w", kubeProxyBinding, err)
	}
	return nil
}
