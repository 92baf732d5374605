// An external test package: controlplane, which holds the agent's rules, imports deploy.
package deploy_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/weftnet/weft/internal/agent"
)

// permissions flattens rules into "verb resource.group" lines, sorted and without repeats:
// two rule lists grant the same when these are equal, however they are grouped.
func permissions(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, fmt.Sprintf("%s %s.%s", v, res, g))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestClusterRoleIsTheAgentsRole: weft.yaml's ClusterRole grants exactly what the lab's
// ClusterRole weft-agent grants, the agent's features' rules, no less (the agent would fail
// on a real cluster) and no more (a DaemonSet on every node should hold no spare rights).
func TestClusterRoleIsTheAgentsRole(t *testing.T) {
	data, err := os.ReadFile("weft.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var r rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &r); err == nil && r.Kind == "ClusterRole" {
			role = &r
		}
	}
	if role == nil {
		t.Fatal("weft.yaml has no ClusterRole")
	}
	got, want := permissions(role.Rules), permissions(agent.RBACRules())
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("weft.yaml's ClusterRole lacks %q, which the agent needs (agent.RBACRules)", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("weft.yaml's ClusterRole grants %q, which no feature asks for: remove it, or add it to the feature's RBACRules", p)
		}
	}
}
