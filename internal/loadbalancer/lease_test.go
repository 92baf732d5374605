package loadbalancer

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// Two agents compete for the status Lease: exactly one writes statuses, and when it stops the
// other takes over without waiting for the Lease to expire.
func TestOneStatusWriterAndHandOver(t *testing.T) {
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var a, b statusLease
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan struct{})
	go func() { defer close(doneA); a.run(ctxA, client, "node-a", log, func() {}) }()
	waitFor(t, "one agent to hold the Lease", func() bool { return a.held.Load() })
	go b.run(ctxB, client, "node-b", log, func() {})
	time.Sleep(2 * statusLeaseRetry) // b has tried at least once
	if b.held.Load() {
		t.Fatal("both agents hold the status Lease")
	}
	stopA()
	<-doneA
	waitFor(t, "the other agent to take the Lease over", func() bool { return b.held.Load() })
	if a.held.Load() {
		t.Error("the stopped agent still says it holds the Lease")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(statusLeaseDuration + 10*time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
