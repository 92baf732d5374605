package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// results holds every round's figure per phase, path and metric.
type results struct {
	rows []row
}

type row struct {
	p      path
	m      metric
	rounds []float64 // indexed by round, so ratios pair figures of the same round
}

func newResults() *results { return &results{} }

func (r *results) find(phase, name, metric string) *row {
	for i := range r.rows {
		if x := &r.rows[i]; x.p.phase == phase && x.p.name == name && x.m.name == metric {
			return x
		}
	}
	return nil
}

func (r *results) add(p path, m metric, round int, v float64) {
	x := r.find(p.phase, p.name, m.name)
	if x == nil {
		r.rows = append(r.rows, row{p: p, m: m})
		x = &r.rows[len(r.rows)-1]
	}
	for len(x.rounds) <= round {
		x.rounds = append(x.rounds, 0)
	}
	x.rounds[round] = v
}

// print writes one line per phase, metric and path: the median over rounds, the spread, and
// the median of the per-round ratios to the path's reference (pairing rounds cancels slow
// drifts of the machine that a ratio of medians would keep).
func (r *results) print(w io.Writer) {
	if len(r.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-14s %-4s %-34s %16s %15s  %-6s %s\n", "phase", "", "path", "median", "min..max", "ratio", "vs (goal)")
	// Rows were added in the order round 1 ran them: by phase, then metric, then path.
	for _, x := range r.rows {
		lo, hi := slices.Min(x.rounds), slices.Max(x.rounds)
		f := func(v float64) string { return strconv.FormatFloat(v/x.m.scale, 'f', x.m.prec, 64) }
		line := fmt.Sprintf("%-14s %-4s %-34s %8s %-7s %15s", x.p.phase, x.m.name, x.p.name,
			f(median(x.rounds)), x.m.unit, f(lo)+".."+f(hi))
		if ref := r.find(x.p.phase, x.p.ref, x.m.name); ref != nil {
			var ratios []float64
			for i := range min(len(x.rounds), len(ref.rounds)) {
				if ref.rounds[i] > 0 {
					ratios = append(ratios, x.rounds[i]/ref.rounds[i])
				}
			}
			line += fmt.Sprintf("  %-6.3f %s", median(ratios), x.p.ref)
			if x.p.goal > 0 {
				verdict := "met"
				if median(ratios) < x.p.goal {
					verdict = "NOT met"
				}
				line += fmt.Sprintf(" (goal >= %.2f: %s)", x.p.goal, verdict)
			}
		}
		fmt.Fprintln(w, line)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// joinFigure is one timing of part (c), with a note on what bounds it.
type joinFigure struct {
	backend, name string
	d             time.Duration
	note          string
}

func printJoins(w io.Writer, joins []joinFigure) {
	if len(joins) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-8s %-50s %10s  %s\n", "backend", "time to reachability", "", "")
	for _, j := range joins {
		fmt.Fprintf(w, "%-8s %-50s %10s  %s\n", j.backend, j.name, j.d.Round(time.Millisecond), j.note)
	}
}
