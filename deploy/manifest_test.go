package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifest decodes weft.yaml strictly: a misspelt field fails here, not on a user's cluster.
func manifest(t *testing.T) (*rbacv1.ClusterRole, *appsv1.DaemonSet) {
	t.Helper()
	data, err := os.ReadFile("weft.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	var ds *appsv1.DaemonSet
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch meta.Kind {
		case "":
			continue // the leading comment
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "ClusterRole":
			role = &rbacv1.ClusterRole{}
			obj = role
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "ClusterRoleBinding":
			obj = &rbacv1.ClusterRoleBinding{}
		case "DaemonSet":
			ds = &appsv1.DaemonSet{}
			obj = ds
		default:
			t.Fatalf("unexpected kind %s", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %v", meta.Kind, err)
		}
	}
	if role == nil || ds == nil {
		t.Fatal("weft.yaml lacks the ClusterRole or the DaemonSet")
	}
	return role, ds
}

func TestDaemonSetRunsTheAgentOnTheNode(t *testing.T) {
	_, ds := manifest(t)
	spec := ds.Spec.Template.Spec
	agent := spec.Containers[0]
	if !spec.HostNetwork || agent.SecurityContext == nil || !*agent.SecurityContext.Privileged {
		t.Error("the agent must run in the node's network namespace, privileged")
	}
	if agent.Command[0] != "weft" || agent.Command[1] != "agent" || !slices.Contains(agent.Command, "--node-name=$(NODE_NAME)") {
		t.Errorf("command %v", agent.Command)
	}
	if spec.ServiceAccountName != "weft-agent" || ds.Namespace != "kube-system" {
		t.Errorf("account %s in %s", spec.ServiceAccountName, ds.Namespace)
	}
}
