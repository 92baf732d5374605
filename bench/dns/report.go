package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// results hold each figure per server and round, so ratios pair figures of the same round.
type results struct{ rows []row }

type row struct {
	server, metric string
	rounds         []float64
}

func (r *results) add(server, metric string, round int, v float64) {
	i := slices.IndexFunc(r.rows, func(x row) bool { return x.server == server && x.metric == metric })
	if i < 0 {
		r.rows = append(r.rows, row{server: server, metric: metric})
		i = len(r.rows) - 1
	}
	for len(r.rows[i].rounds) <= round {
		r.rows[i].rounds = append(r.rows[i].rounds, 0)
	}
	r.rows[i].rounds[round] = v
}

func (r *results) get(server, metric string) []float64 {
	for _, x := range r.rows {
		if x.server == server && x.metric == metric {
			return x.rounds
		}
	}
	return nil
}

// goal is what the issue asks of weft / CoreDNS for a metric: at least (or at most) the ratio.
type goal struct {
	ratio   float64
	atLeast bool
}

var goals = map[string]goal{
	"top rate (q/s)":                      {2, true},
	"answers per CPU second":              {2, true},
	"p99 at half the lower top rate (µs)": {1, false}, // lower p99: below 1 (equal is not lower)
	"memory anon at rest (MiB)":           {0.5, false},
	"memory anon peak (MiB)":              {0.5, false},
}

func report(w io.Writer, o options, res *results, ttaWeft, ttaCore []time.Duration, restarts []perf) {
	fmt.Fprintf(w, "\n%d rounds, %d Services, dnsperf %s per run; servers on core %d, dnsperf on core %d, nice %d\n",
		o.Rounds, o.Services, o.Duration, o.ServerCPU, o.ClientCPU, o.Nice)
	fmt.Fprintf(w, "%-38s %-8s %10s %10s %10s\n", "figure", "server", "min", "median", "max")
	var metrics []string
	for _, x := range res.rows {
		if !slices.Contains(metrics, x.metric) {
			metrics = append(metrics, x.metric)
		}
	}
	for _, m := range metrics {
		for _, s := range []string{"weft", "CoreDNS"} {
			lo, med, hi := spread(res.get(s, m))
			fmt.Fprintf(w, "%-38s %-8s %10.1f %10.1f %10.1f\n", m, s, lo, med, hi)
		}
		wv, cv := res.get("weft", m), res.get("CoreDNS", m)
		var ratios []float64
		for i := range min(len(wv), len(cv)) {
			if cv[i] != 0 {
				ratios = append(ratios, wv[i]/cv[i])
			}
		}
		lo, med, hi := spread(ratios)
		line := fmt.Sprintf("%-38s %-8s %10.2f %10.2f %10.2f", m, "ratio", lo, med, hi)
		if g, ok := goals[m]; ok {
			worst, met := hi, hi <= g.ratio
			if g.ratio == 1 && !g.atLeast {
				met = hi < 1
			}
			if g.atLeast {
				worst, met = lo, lo >= g.ratio
			}
			cmp := "<="
			if g.atLeast {
				cmp = ">="
			}
			line += fmt.Sprintf("  goal %s %.2f: worst %.2f, %s", cmp, g.ratio, worst, metWord(met))
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\nnew Service to answer, all %d rounds: weft p50 %s p99 %s max %s; CoreDNS p50 %s p99 %s max %s\n",
		o.Rounds, quantileD(ttaWeft, 0.5), quantileD(ttaWeft, 0.99), quantileD(ttaWeft, 1),
		quantileD(ttaCore, 0.5), quantileD(ttaCore, 0.99), quantileD(ttaCore, 1))
	p99 := quantileD(ttaWeft, 0.99)
	fmt.Fprintf(w, "goal: weft answers a new Service within 100ms p99: %s\n", metWord(p99 <= 100*time.Millisecond))
	if len(restarts) > 0 {
		var lost []float64
		for _, p := range restarts {
			lost = append(lost, float64(max(p.lost, restartDue(o)-p.completed)))
		}
		lo, med, hi := spread(lost)
		fmt.Fprintf(w, "agent restarts under load (%d q/s to 10.43.0.10 for %s): queries unanswered min %.0f median %.0f max %.0f of %d each; goal zero: %s\n",
			restartRate, o.Duration, lo, med, hi, restartDue(o), metWord(hi == 0))
	}
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func spread(v []float64) (lo, med, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}

func quantileD(d []time.Duration, q float64) time.Duration {
	f := make([]float64, len(d))
	for i, x := range d {
		f[i] = float64(x)
	}
	slices.Sort(f)
	return time.Duration(quantile(f, q))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
