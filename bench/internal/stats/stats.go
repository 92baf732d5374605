// Package stats summarises repeated benchmark runs the way weft reports them: a figure is the
// median of several runs with their minimum and maximum beside it, and a ratio to a peer is
// taken run by run (weft's run i against the peer's run i, which ran next to it), reported as
// the median and the worst of those ratios, never the best run.
package stats

import (
	"fmt"
	"slices"
)

// Spread is the minimum, median and maximum of some runs' values.
type Spread struct {
	Min, Median, Max float64
	N                int
}

// Of summarises vs (N is 0 when vs is empty). An even count takes the lower middle value, so
// the median is always a figure some run produced.
func Of(vs []float64) Spread {
	if len(vs) == 0 {
		return Spread{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return Spread{Min: s[0], Median: s[(len(s)-1)/2], Max: s[len(s)-1], N: len(s)}
}

// Format prints "median [min..max]" with f, or the one value of a single run.
func (s Spread) Format(f func(float64) string) string {
	if s.N == 0 {
		return "-"
	}
	if s.N == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", f(s.Median), f(s.Min), f(s.Max))
}

// Ratio is weft's figure over a peer's, run by run.
type Ratio struct {
	Median, Worst float64
	N             int
}

// Ratios divides ours[i] by theirs[i] for every run both have (NaN marks a run that failed
// or lacks the figure, and is left out). higherIsBetter says which end is worst: for times
// and memory the largest ratio, for rates the smallest.
func Ratios(ours, theirs []float64, higherIsBetter bool) Ratio {
	var rs []float64
	for i := range min(len(ours), len(theirs)) {
		if ours[i] != ours[i] || theirs[i] != theirs[i] || theirs[i] == 0 {
			continue
		}
		rs = append(rs, ours[i]/theirs[i])
	}
	if len(rs) == 0 {
		return Ratio{}
	}
	s := Of(rs)
	r := Ratio{Median: s.Median, Worst: s.Max, N: s.N}
	if higherIsBetter {
		r.Worst = s.Min
	}
	return r
}

// Format prints "median (worst w)", or "-" without runs to compare.
func (r Ratio) Format() string {
	switch r.N {
	case 0:
		return "-"
	case 1:
		return fmt.Sprintf("%.2f", r.Median)
	}
	return fmt.Sprintf("%.2f (worst %.2f)", r.Median, r.Worst)
}
