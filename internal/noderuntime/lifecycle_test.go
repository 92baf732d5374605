package noderuntime

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A preStop hook holds SIGTERM back while it runs, but never past the grace period.
func TestPreStopHookRunsWithinTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sleep   int64
		grace   time.Duration
		atLeast time.Duration
		atMost  time.Duration
	}{
		{"the hook ends first", 0, 5 * time.Second, 0, 2 * time.Second},
		{"the grace period ends first", 60, 300 * time.Millisecond, 250 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := runningWorker(t)
			w.containers[0].spec.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: tc.sleep}}}
			start := time.Now()
			w.runPreStopHooks(context.Background(), start.Add(tc.grace))
			if took := time.Since(start); took < tc.atLeast || took > tc.atMost {
				t.Errorf("hooks took %s, want between %s and %s", took, tc.atLeast, tc.atMost)
			}
		})
	}
}
