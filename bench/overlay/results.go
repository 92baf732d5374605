package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/weftnet/weft/bench/internal/stats"
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
// the median and the worst of the per-round ratios to the path's reference (pairing rounds
// cancels slow drifts of the machine that a ratio of medians would keep). Every metric is a
// rate, so the worst ratio is the smallest; a goal is met only when it holds in every round.
func (r *results) print(w io.Writer) {
	if len(r.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-14s %-4s %-34s %16s %15s  %-19s %s\n", "phase", "", "path", "median", "min..max", "ratio (worst)", "vs (goal)")
	// Rows were added in the order round 1 ran them: by phase, then metric, then path.
	for _, x := range r.rows {
		spread := stats.Of(x.rounds)
		f := func(v float64) string { return strconv.FormatFloat(v/x.m.scale, 'f', x.m.prec, 64) }
		line := fmt.Sprintf("%-14s %-4s %-34s %8s %-7s %15s", x.p.phase, x.m.name, x.p.name,
			f(spread.Median), x.m.unit, f(spread.Min)+".."+f(spread.Max))
		if ref := r.find(x.p.phase, x.p.ref, x.m.name); ref != nil {
			ratio := stats.Ratios(x.rounds, ref.rounds, true)
			line += fmt.Sprintf("  %-19s %s", ratio.Format(), x.p.ref)
			if x.p.goal > 0 {
				verdict := "met in every round"
				switch {
				case ratio.N == 0 || ratio.Median < x.p.goal:
					verdict = "NOT met"
				case ratio.Worst < x.p.goal:
					verdict = "met at the median, NOT in every round"
				}
				line += fmt.Sprintf(" (goal >= %.2f: %s)", x.p.goal, verdict)
			}
		}
		fmt.Fprintln(w, line)
	}
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
