package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/weftnet/weft/internal/overlay"
)

// ConditionOverlay is the Node condition where the agent says whether it reaches every peer.
const ConditionOverlay corev1.NodeConditionType = "WeftOverlayReady"

// publish writes this node's overlay annotations when they differ, and removes weft annotations
// the backend no longer uses, in one merge patch.
func (a *Agent) publish(ctx context.Context, self *corev1.Node, want map[string]string) error {
	patch := map[string]any{}
	for k, v := range want {
		if self.Annotations[k] != v {
			patch[k] = v
		}
	}
	for k := range self.Annotations {
		if _, ok := want[k]; !ok && isOverlayAnnotation(k) {
			patch[k] = nil
		}
	}
	if len(patch) == 0 {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": patch}})
	if _, err := a.client.CoreV1().Nodes().Patch(ctx, self.Name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("publish overlay annotations on Node %s: %w", self.Name, err)
	}
	a.log.Info("published overlay data on the Node", "annotations", want)
	return nil
}

func isOverlayAnnotation(k string) bool {
	for _, o := range append([]string{overlay.AnnotationBackend, overlay.AnnotationPublicIPv4, overlay.AnnotationPublicIPv6, overlay.AnnotationVtepMACv4, overlay.AnnotationVtepMACv6}, overlay.WireGuardAnnotations...) {
		if k == o {
			return true
		}
	}
	return false
}

// reportOverlay sets the Node condition WeftOverlayReady when its status or message changes:
// `kubectl describe node` then says which peer this node cannot reach and what to do about it.
func (a *Agent) reportOverlay(ctx context.Context, self *corev1.Node, res overlay.Result) error {
	want := corev1.NodeCondition{Type: ConditionOverlay, Status: corev1.ConditionTrue, Reason: "PeersReachable",
		Message: fmt.Sprintf("backend %s routes to %d peer(s)", a.opts.Backend, res.Peers)}
	if a.opts.Backend == overlay.BackendNone {
		want.Reason, want.Message = "BackendNone", "backend none: another CNI or the network routes between nodes"
	}
	if len(res.Unreachable) > 0 {
		want.Status, want.Reason = corev1.ConditionFalse, "PeersUnreachable"
		want.Message = strings.Join(res.Unreachable, "; ")
	}
	for _, c := range self.Status.Conditions {
		if c.Type == want.Type && c.Status == want.Status && c.Reason == want.Reason && c.Message == want.Message {
			return nil
		}
	}
	now := metav1.Now()
	want.LastHeartbeatTime, want.LastTransitionTime = now, now
	body, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{want}}})
	if _, err := a.client.CoreV1().Nodes().PatchStatus(ctx, self.Name, body); err != nil {
		return fmt.Errorf("report condition %s on Node %s: %w", want.Type, self.Name, err)
	}
	return nil
}
