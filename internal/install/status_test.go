package install

import (
	"bytes"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weftnet/weft/internal/agent"
)

func TestStatusListsEveryNodeAndItsProblems(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	node := func(name string) corev1.Node { return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	lease := func(node, status string, renewed time.Time) coordinationv1.Lease {
		t := metav1.NewMicroTime(renewed)
		return coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: agent.StatusLeaseName(node), Annotations: map[string]string{agent.StatusAnnotation: status}},
			Spec: coordinationv1.LeaseSpec{RenewTime: &t}}
	}
	healthy := `{"version":"v1.2.3","backend":"vxlan","proxy":"weft","dns":"weft","lastSync":"2026-12-04T11:59:50Z"}`
	failing := `{"version":"v1.2.3","backend":"host-gw","proxy":"none","dns":"weft","problems":["node sync failed: boom"]}`
	got := nodeStatuses(
		[]corev1.Node{node("node-3"), node("node-1"), node("node-2"), node("node-4")},
		[]coordinationv1.Lease{lease("node-1", healthy, now.Add(-10*time.Second)), lease("node-2", failing, now),
			lease("node-3", healthy, now.Add(-time.Hour))}, now)
	var out bytes.Buffer
	PrintStatus(&out, got, now)
	text := out.String()
	for _, want := range []string{
		"node-1  v1.2.3   vxlan    weft   weft  10s ago    none",
		"node-2  v1.2.3   host-gw  none   weft  never      node sync failed: boom",
		"node-3", "has not reported for 1h0m0s",
		"node-4  -        -        -      -     never      no weft agent has reported from this node",
		"4 node(s), 3 with problems",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "node-1") > strings.Index(text, "node-2") {
		t.Errorf("nodes not sorted:\n%s", text)
	}
}
