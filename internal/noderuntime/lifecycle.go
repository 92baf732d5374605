package noderuntime

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// runPreStopHooks runs the preStop hook of every running container, all at once, as the kubelet
// does before it sends SIGTERM; together they get the pod's grace period and no more. A pod
// whose hook sleeps keeps serving (its endpoints marked terminating) until the hook returns.
func (w *podWorker) runPreStopHooks(ctx context.Context, deadline time.Time) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range w.containers {
		if c.spec.Lifecycle == nil || c.spec.Lifecycle.PreStop == nil || !c.running() {
			continue
		}
		wg.Add(1)
		go func(c *container, h *corev1.LifecycleHandler) {
			defer wg.Done()
			if err := w.runHook(ctx, c, h); err != nil {
				w.rt.events.record(w.pod, corev1.EventTypeWarning, "FailedPreStopHook",
					fmt.Sprintf("PreStopHook failed for container %s: %v", c.spec.Name, err))
			}
		}(c, c.spec.Lifecycle.PreStop)
	}
	wg.Wait()
}

// runHook runs one lifecycle handler until it ends or ctx does: a sleep, or an exec, HTTP GET or
// TCP check made the way a probe of the same kind is.
func (w *podWorker) runHook(ctx context.Context, c *container, h *corev1.LifecycleHandler) error {
	if h.Sleep != nil {
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	left := time.Until(deadlineOf(ctx))
	p := &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket},
		TimeoutSeconds: int32(max(left/time.Second, 1)),
	}
	if ok, msg := w.rt.prober.probe(ctx, p, c.spec, w.podIP(), w.execIn(c)); !ok && ctx.Err() == nil {
		return fmt.Errorf("%s", msg)
	}
	return nil
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(30 * time.Second)
}
