package stats

import (
	"math"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{3}, Spread{3, 3, 3, 1}},
		{[]float64{5, 1, 3}, Spread{1, 3, 5, 3}},
		{[]float64{4, 1, 3, 2}, Spread{1, 2, 4, 4}}, // the lower middle: a value some run had
	} {
		if got := Of(tc.in); got != tc.want {
			t.Errorf("Of(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestRatiosPairRunsAndReportTheWorst(t *testing.T) {
	ours := []float64{1, 2, 1.5, math.NaN()}
	theirs := []float64{10, 10, 5, 10}
	// Times: 0.1, 0.2, 0.3 (the failed run left out): the worst is the largest.
	if got := Ratios(ours, theirs, false); got.N != 3 || got.Median != 0.2 || got.Worst != 0.3 {
		t.Errorf("times: %+v, want median 0.2, worst 0.3 over 3 runs", got)
	}
	// Rates: the worst is the smallest.
	if got := Ratios(ours, theirs, true); got.Worst != 0.1 {
		t.Errorf("rates: worst %v, want 0.1", got.Worst)
	}
	if got := Ratios(nil, theirs, false).Format(); got != "-" {
		t.Errorf("no runs to compare: %q, want -", got)
	}
	if got := (Spread{1, 2, 4, 3}).Format(func(v float64) string { return "x" }); got != "x [x..x]" {
		t.Errorf("Format: %q", got)
	}
}
