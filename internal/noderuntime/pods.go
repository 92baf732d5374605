package noderuntime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// PodsNotSupportedReason is the event reason a pod gets while this runtime cannot run pods.
const PodsNotSupportedReason = "PodRuntimeUnavailable"

// podNotifier tells every pod bound to this node, once, why it is not starting: a pod must
// never hang in Pending without a word.
type podNotifier struct {
	client kubernetes.Interface
	node   string
	log    *slog.Logger

	mu   sync.Mutex
	told map[types.UID]bool
}

func (p *podNotifier) observe(ctx context.Context, pod *corev1.Pod) {
	if pod.Spec.NodeName != p.node || pod.DeletionTimestamp != nil {
		return
	}
	p.mu.Lock()
	if p.told[pod.UID] {
		p.mu.Unlock()
		return
	}
	p.told[pod.UID] = true
	p.mu.Unlock()
	if err := p.event(ctx, pod); err != nil {
		p.log.Error("cannot record pod event", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		p.mu.Lock()
		delete(p.told, pod.UID) // try again on the next update or resync
		p.mu.Unlock()
	}
}

func (p *podNotifier) forget(pod *corev1.Pod) {
	p.mu.Lock()
	delete(p.told, pod.UID)
	p.mu.Unlock()
}

func (p *podNotifier) event(ctx context.Context, pod *corev1.Pod) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		},
		Reason:         PodsNotSupportedReason,
		Message:        fmt.Sprintf("node %s cannot start pods: this weft node runtime registers the node but has no pod sandboxes or CNI plugin yet; the pod stays Pending", p.node),
		Type:           corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "kubelet", Host: p.node},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	_, err := p.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	return err
}
