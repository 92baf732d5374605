package agent

import (
	rbacv1 "k8s.io/api/rbac/v1"

	clusterdns "github.com/weftnet/weft/internal/dns"
	"github.com/weftnet/weft/internal/egressroute"
	"github.com/weftnet/weft/internal/policy"
	"github.com/weftnet/weft/internal/proxy"
)

// ownRules are what the agent itself needs, beside its features' rules.
var ownRules = []rbacv1.PolicyRule{
	// Nodes: every agent reads them all for routes, and patches its own with its overlay
	// annotations and its WeftOverlayReady condition.
	{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch"}},
	{APIGroups: []string{""}, Resources: []string{"nodes/status"}, Verbs: []string{"patch"}},
}

// RBACRules are everything a weft agent may do: its own rules and each feature's, kept beside
// the code that needs them. The lab grants them as ClusterRole weft-agent; deploy/weft.yaml must
// grant the DaemonSet's account the same (its test compares the two).
func RBACRules() []rbacv1.PolicyRule {
	rules := append(append([]rbacv1.PolicyRule{}, ownRules...), egressroute.RBACRules...)
	rules = append(rules, clusterdns.RBACRules...)
	rules = append(rules, policy.RBACRules...)
	return append(rules, proxy.RBACRules...)
}
