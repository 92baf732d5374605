package syncrunner

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recorder is a sync function that notes when each call started and fails as told.
type recorder struct {
	mu     sync.Mutex
	starts []time.Time
	fail   int           // how many calls fail, from the first
	block  chan struct{} // when set, a call waits for it
	takes  time.Duration // how long a call takes
}

func (r *recorder) sync(context.Context) error {
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	n, block := len(r.starts), r.block
	r.mu.Unlock()
	time.Sleep(r.takes)
	if block != nil {
		<-block
	}
	if n <= r.fail {
		return errors.New("failed")
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts)
}

func (r *recorder) gaps() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(r.starts); i++ {
		g = append(g, r.starts[i].Sub(r.starts[i-1]))
	}
	return g
}

func start(t *testing.T, rec *recorder, o Options) *Runner {
	t.Helper()
	r := New(rec.sync, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Loop(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Loop returned %v, want context.Canceled", err)
		}
	})
	return r
}

func waitFor(t *testing.T, rec *recorder, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); rec.count() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d syncs after 5s, want %d", rec.count(), n)
		}
	}
}

func TestRunner(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name  string
		opts  Options
		fail  int
		takes time.Duration
		// act asks for syncs; then the test waits for want syncs, checks that no more come
		// within quiet, and that every gap between starts lies in [minGap, maxGap].
		act            func(r *Runner)
		want           int
		quiet          time.Duration
		minGap, maxGap time.Duration
	}{
		{name: "nothing asked, nothing runs", act: func(*Runner) {}, want: 0, quiet: 50 * ms},
		{name: "requests before the sync starts fold into it", opts: Options{MinInterval: 100 * ms},
			act: func(r *Runner) {
				for range 10 {
					r.Run()
				}
			}, want: 1, quiet: 150 * ms},
		{name: "min interval spaces syncs", opts: Options{MinInterval: 60 * ms},
			act: func(r *Runner) {
				for range 3 {
					r.Run()
					time.Sleep(5 * ms)
				}
			}, want: 2, quiet: 100 * ms, minGap: 55 * ms, maxGap: 500 * ms},
		{name: "min interval counts from the end of a sync", opts: Options{MinInterval: 40 * ms},
			act: func(r *Runner) {
				r.Run()
				time.Sleep(5 * ms)
				r.Run() // asked while the first sync (sleeping 30ms) runs
			}, takes: 30 * ms, want: 2, quiet: 100 * ms, minGap: 65 * ms, maxGap: 500 * ms},
		{name: "a burst runs back to back", opts: Options{MinInterval: time.Hour, Burst: 3},
			act: func(r *Runner) {
				for range 5 {
					r.Run()
					time.Sleep(20 * ms)
				}
			}, want: 3, quiet: 100 * ms, maxGap: 500 * ms},
		{name: "max interval runs without requests", opts: Options{MaxInterval: 20 * ms},
			act: func(*Runner) {}, want: 3, minGap: 15 * ms, maxGap: 500 * ms},
		{name: "failures retry with back-off", opts: Options{RetryMin: 20 * ms, RetryMax: 40 * ms}, fail: 3,
			act: func(r *Runner) { r.Run() }, want: 4, quiet: 150 * ms, minGap: 15 * ms, maxGap: 500 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{fail: tc.fail, takes: tc.takes}
			r := start(t, rec, tc.opts)
			tc.act(r)
			waitFor(t, rec, tc.want)
			time.Sleep(tc.quiet)
			if got := rec.count(); tc.quiet > 0 && got != tc.want {
				t.Errorf("%d syncs, want %d", got, tc.want)
			}
			for i, g := range rec.gaps() {
				if g < tc.minGap || (tc.maxGap > 0 && g > tc.maxGap) {
					t.Errorf("gap %d is %s, want %s to %s", i, g, tc.minGap, tc.maxGap)
				}
			}
		})
	}
}

// TestRunDuringSync: a request that arrives while a sync runs gets exactly one more sync, since
// the running sync may have read the state before the change.
func TestRunDuringSync(t *testing.T) {
	rec := &recorder{block: make(chan struct{})}
	r := start(t, rec, Options{})
	r.Run()
	waitFor(t, rec, 1)
	for range 5 {
		r.Run()
	}
	rec.mu.Lock()
	block := rec.block
	rec.block = nil
	rec.mu.Unlock()
	close(block)
	waitFor(t, rec, 2)
	time.Sleep(50 * time.Millisecond)
	if got := rec.count(); got != 2 {
		t.Errorf("%d syncs, want 2", got)
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = 5 * time.Millisecond, 40 * time.Millisecond
	for n, want := range []time.Duration{5, 10, 20, 40, 40, 40} {
		if got := backoff(lo, hi, n); got != want*time.Millisecond {
			t.Errorf("backoff after %d failures = %s, want %s", n, got, want*time.Millisecond)
		}
	}
	if got := backoff(time.Second, 1000*time.Second, 100); got != 1000*time.Second {
		t.Errorf("backoff does not stop at its maximum: %s", got)
	}
}

func TestBucket(t *testing.T) {
	now := time.Now()
	b := bucket{size: 2, every: time.Second, tokens: 2, at: now}
	for i, tc := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, 0}, {0, 0}, // the burst
		{0, time.Second}, // then one a second
		{500 * time.Millisecond, 1500 * time.Millisecond}, // the one before still waits
		{10 * time.Second, 0},                             // a quiet spell refills, up to the size
		{0, 0},
		{0, time.Second},
	} {
		now = now.Add(tc.after)
		if got := b.take(now); got != tc.want {
			t.Errorf("take %d: wait %s, want %s", i, got, tc.want)
		}
	}
	if got := (&bucket{size: 1}).take(now); got != 0 {
		t.Errorf("no interval: wait %s", got)
	}
}
