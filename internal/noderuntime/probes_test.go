package noderuntime

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestProbeThresholds(t *testing.T) {
	p := &corev1.Probe{PeriodSeconds: 1, SuccessThreshold: 2, FailureThreshold: 3}
	var s probeState
	now := time.Now()
	steps := []struct {
		ok               bool
		decided, verdict bool
	}{
		{true, false, false}, // one success of two
		{true, true, true},   // ready
		{false, true, true},  // one failure of three: still ready
		{false, true, true},
		{false, true, false}, // third failure in a row: not ready
		{true, true, false},  // one success is not enough to come back
		{true, true, true},
	}
	for i, st := range steps {
		s.record(p, st.ok, now)
		if s.decided != st.decided || (s.decided && s.result != st.verdict) {
			t.Fatalf("step %d (ok=%v): decided=%v result=%v, want decided=%v result=%v", i, st.ok, s.decided, s.result, st.decided, st.verdict)
		}
	}
}

func TestProbeDue(t *testing.T) {
	p := &corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 10}
	start := time.Now()
	var s probeState
	if s.due(p, start, start.Add(4*time.Second)) {
		t.Error("due before initialDelaySeconds")
	}
	if !s.due(p, start, start.Add(5*time.Second)) {
		t.Error("not due at initialDelaySeconds")
	}
	s.last = start.Add(5 * time.Second)
	if s.due(p, start, start.Add(14*time.Second)) || !s.due(p, start, start.Add(15*time.Second)) {
		t.Error("period not honoured")
	}
}
