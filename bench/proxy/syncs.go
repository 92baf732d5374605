package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Sync durations come from each proxier's own histogram, so the figure is what the proxier
// itself calls one sync: kube-proxy's full and partial sync histograms, weft's sync duration
// (by its kind label when it has one). A histogram's sum grows by exactly the duration of each
// sync it observes, so the difference of two readings is the time spent syncing in between.

// gatherer is what both registries offer (prometheus.Registry and component-base's legacy one).
type gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// syncSource reads one proxier's sync histograms: family name to the kind it reports, and the
// label that names the kind inside a family, if any.
type syncSource struct {
	g         gatherer
	families  map[string]string
	kindLabel string
}

var errNoSync = errors.New("no sync")

type hist struct {
	count uint64
	sum   float64
}

// reading is the histograms by kind at one moment.
type reading map[string]hist

func (r reading) total() hist {
	var t hist
	for _, h := range r {
		t.count += h.count
		t.sum += h.sum
	}
	return t
}

func (s syncSource) read() (reading, error) {
	fams, err := s.g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	r := reading{}
	for _, f := range fams {
		kind, ok := s.families[f.GetName()]
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			k := kind
			for _, l := range m.GetLabel() {
				if s.kindLabel != "" && l.GetName() == s.kindLabel {
					k = l.GetValue()
				}
			}
			h := r[k]
			h.count += m.GetHistogram().GetSampleCount()
			h.sum += m.GetHistogram().GetSampleSum()
			r[k] = h
		}
	}
	return r, nil
}

// oneSync is one sync seen by polling: its kind, its duration by the proxier's own measure,
// and when the poll saw it end.
type oneSync struct {
	Kind    string
	Seconds float64
	At      time.Time `json:"-"`
}

// syncs is what happened after a change (or start): each sync, the time spent in all of them,
// and the wall time from the change to the end of the last one.
type syncs struct {
	Each    []oneSync
	Seconds float64
	Wall    float64
}

// Kinds is e.g. "partial" or "full+partial".
func (s syncs) Kinds() string {
	var k []string
	for _, o := range s.Each {
		k = append(k, o.Kind)
	}
	return strings.Join(k, "+")
}

// newSyncs lists what changed from prev to cur. Two syncs of a kind between two polls (a
// millisecond apart) share their time equally; it does not happen for syncs that take longer.
func newSyncs(prev, cur reading, at time.Time) []oneSync {
	var out []oneSync
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		n := cur[k].count - prev[k].count
		for range n {
			out = append(out, oneSync{Kind: k, Seconds: (cur[k].sum - prev[k].sum) / float64(n), At: at})
		}
	}
	return out
}

// waitSyncs waits for at least one sync after before (read at since), then for quiet without
// another, and returns them. Polling every millisecond costs one Gather, a few microseconds.
func (s syncSource) waitSyncs(ctx context.Context, before reading, since time.Time, timeout, quiet time.Duration) (syncs, error) {
	deadline := since.Add(timeout)
	prev := before
	var out syncs
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
		cur, err := s.read()
		if err != nil {
			return out, err
		}
		now := time.Now()
		if n := newSyncs(prev, cur, now); len(n) > 0 {
			out.Each = append(out.Each, n...)
			prev = cur
			continue
		}
		switch {
		case len(out.Each) == 0 && now.After(deadline):
			return out, fmt.Errorf("%w within %s", errNoSync, timeout)
		case now.After(deadline.Add(quiet)):
			return out, fmt.Errorf("still syncing after %s (%d syncs)", timeout, len(out.Each))
		case len(out.Each) > 0 && now.Sub(out.Each[len(out.Each)-1].At) >= quiet:
			for _, o := range out.Each {
				out.Seconds += o.Seconds
			}
			out.Wall = out.Each[len(out.Each)-1].At.Sub(since).Seconds()
			return out, nil
		}
	}
}
