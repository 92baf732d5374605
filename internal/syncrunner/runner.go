// Package syncrunner runs a controller's one sync function on request, no more often than the
// kernel and the API server can bear, and at least every so often. Every weft feature has the
// same shape: informers only say "something changed", and one sync builds the whole desired
// state. What runs that sync is the same for all of them: requests that arrive while a sync
// waits or runs fold into one next sync; syncs are spaced by a minimum interval once a burst is
// spent; a quiet feature still syncs after a maximum interval, which repairs what someone else
// changed in the kernel; a failed sync is retried with exponential back-off. kube-proxy's
// BoundedFrequencyRunner has these semantics; this is weft's own, with a context and an error
// so the runner itself can retry.
package syncrunner

import (
	"context"
	"time"
)

// Options bound when the sync runs. The zero value runs on every request, without delay or
// periodic runs, and retries from 5ms up to 1000s as client-go's default controller does.
type Options struct {
	// MinInterval is the least time from the end of one sync to the start of the next once
	// Burst syncs were spent; 0 for none. Counting from the end, as kube-proxy does, keeps a
	// sync that takes longer than the interval from running back to back without rest.
	MinInterval time.Duration
	// Burst is how many syncs may start back to back after a quiet spell (at least 1). A quiet
	// spell of MinInterval gives back one.
	Burst int
	// MaxInterval is the most time from the end of one sync to the start of the next when
	// nobody asks for one: the periodic resync; 0 for none.
	MaxInterval time.Duration
	// RetryMin and RetryMax bound the back-off after a failed sync: the first retry waits
	// RetryMin, each next failure doubles it, up to RetryMax. A success starts over.
	RetryMin, RetryMax time.Duration
}

// Runner runs one sync function as Options allow. Make it with New, start Loop once, and call
// Run from anywhere (event handlers, other goroutines) to ask for a sync.
type Runner struct {
	sync    func(context.Context) error
	opts    Options
	request chan struct{}
}

// New makes a Runner for sync. sync gets Loop's context; its error makes the runner retry.
func New(sync func(context.Context) error, opts Options) *Runner {
	if opts.Burst < 1 {
		opts.Burst = 1
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 5 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(1000*time.Second, opts.RetryMin)
	}
	return &Runner{sync: sync, opts: opts, request: make(chan struct{}, 1)}
}

// Run asks for a sync and returns at once. Requests made before a sync starts are served by
// it; a request made while a sync runs gets one more sync after it.
func (r *Runner) Run() {
	select {
	case r.request <- struct{}{}:
	default: // one is pending already: it covers this one
	}
}

// Loop runs syncs until ctx ends, then returns ctx's error. It runs nothing before the first
// request or the first MaxInterval.
func (r *Runner) Loop(ctx context.Context) error {
	b := bucket{size: r.opts.Burst, every: r.opts.MinInterval, tokens: float64(r.opts.Burst), at: time.Now()}
	periodic := newTimer(r.opts.MaxInterval)
	retry := newTimer(0)
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.request:
		case <-periodic.C:
		case <-retry.C:
		}
		if wait := b.take(time.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		// What was asked until now, this sync serves.
		select {
		case <-r.request:
		default:
		}
		err := r.sync(ctx)
		b.rest(time.Now())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			retry.reset(backoff(r.opts.RetryMin, r.opts.RetryMax, failures))
			failures++
		} else {
			retry.reset(0)
			failures = 0
		}
		periodic.reset(r.opts.MaxInterval)
	}
}

// backoff is the wait before retry number n+1: lo doubled n times, at most hi.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for range n {
		if d >= hi/2 {
			return hi
		}
		d *= 2
	}
	return d
}

// bucket is a token bucket: size tokens, one more every `every`. A sync takes one.
type bucket struct {
	size   int
	every  time.Duration
	tokens float64
	at     time.Time // when tokens was counted
}

// rest starts the refill anew at now, the end of a sync: time spent syncing earns no token.
func (b *bucket) rest(now time.Time) {
	if now.After(b.at) {
		b.at = now
	}
}

// take takes a token at now and says how long to wait until it is really there (0 at once).
func (b *bucket) take(now time.Time) time.Duration {
	if b.every <= 0 {
		return 0
	}
	b.tokens = min(float64(b.size), b.tokens+float64(now.Sub(b.at))/float64(b.every))
	b.at = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens * float64(b.every))
}

// timer is a time.Timer that may be off (d 0): then its channel never fires.
type timer struct {
	t *time.Timer
	C <-chan time.Time
}

func newTimer(d time.Duration) *timer {
	t := &timer{t: time.NewTimer(time.Hour)}
	t.reset(d)
	return t
}

func (t *timer) reset(d time.Duration) {
	t.t.Stop()
	if d <= 0 {
		t.C = nil
		return
	}
	t.t.Reset(d)
	t.C = t.t.C
}
