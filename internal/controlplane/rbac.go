package controlplane

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	clusterdns "github.com/weftnet/weft/internal/dns"
	"github.com/weftnet/weft/internal/egressroute"
	"github.com/weftnet/weft/internal/proxy"
)

// AgentRole is what weft agents may do; deploy/ grants the same to the DaemonSet's account.
var AgentRole = []rbacv1.PolicyRule{
	// Nodes: every agent reads them all for routes, and patches its own with its overlay
	// annotations and its WeftOverlayReady condition.
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes/status"}, Verbs: []string{"patch"}},
}

// AgentRules are every feature's rules together: the ClusterRole weft-agent of a lab, and
// what deploy/weft.yaml must grant the DaemonSet's account (its test checks they allow the same).
func AgentRules() []rbacv1.PolicyRule {
	rules := append(append([]rbacv1.PolicyRule{}, AgentRole...), egressroute.RBACRules...)
	rules = append(rules, clusterdns.RBACRules...)
	return append(rules, proxy.RBACRules...)
}

// EnsureAgentRBAC creates (or updates) the ClusterRole weft-agent and binds it to AgentGroup.
func EnsureAgentRBAC(ctx context.Context, client kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "weft-agent"}, Rules: AgentRules()}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "weft-agent"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "weft-agent"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: AgentGroup}},
	}
	roles, bindings := client.RbacV1().ClusterRoles(), client.RbacV1().ClusterRoleBindings()
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = roles.Update(ctx, role, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("ClusterRole weft-agent: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("ClusterRole weft-agent: %w", err)
	}
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("ClusterRoleBinding weft-agent: %w", err)
	}
	return nil
}
