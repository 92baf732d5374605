package kubenode

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReady(t *testing.T) {
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s}
	}
	for _, tc := range []struct {
		name  string
		conds []corev1.NodeCondition
		want  bool
	}{
		{"no conditions yet", nil, false},
		{"ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, true},
		{"not ready", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, false},
		{"unknown (the node stopped reporting)", []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)}, false},
		{"other conditions do not count", []corev1.NodeCondition{cond(corev1.NodeMemoryPressure, corev1.ConditionTrue), cond(corev1.NodeReady, corev1.ConditionFalse)}, false},
		{"ready among others", []corev1.NodeCondition{cond(corev1.NodeDiskPressure, corev1.ConditionFalse), cond(corev1.NodeReady, corev1.ConditionTrue)}, true},
	} {
		if got := Ready(&corev1.Node{Status: corev1.NodeStatus{Conditions: tc.conds}}); got != tc.want {
			t.Errorf("%s: Ready = %v, want %v", tc.name, got, tc.want)
		}
	}
}
