package noderuntime

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// eventRecorder writes pod events as the kubelet does (source component "kubelet").
type eventRecorder struct {
	client kubernetes.Interface
	node   string
	log    *slog.Logger

	mu   sync.Mutex
	seen map[string]bool
}

// warnOnce records a warning once per pod, reason and message: a retry loop must not flood.
func (r *eventRecorder) warnOnce(pod *corev1.Pod, reason, message string) {
	k := string(pod.UID) + "\x00" + reason + "\x00" + message
	r.mu.Lock()
	if r.seen[k] {
		r.mu.Unlock()
		return
	}
	r.seen[k] = true
	r.mu.Unlock()
	r.record(pod, corev1.EventTypeWarning, reason, message)
}

func (r *eventRecorder) record(pod *corev1.Pod, eventType, reason, message string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		},
		Reason: reason, Message: message, Type: eventType,
		Source:         corev1.EventSource{Component: "kubelet", Host: r.node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		r.log.Info("cannot record event", "pod", key(pod), "reason", reason, "err", err)
	}
}

func (r *eventRecorder) forget(pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := string(pod.UID) + "\x00"
	for k := range r.seen {
		if strings.HasPrefix(k, prefix) {
			delete(r.seen, k)
		}
	}
}
