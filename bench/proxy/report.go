package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weftnet/weft/bench/internal/stats"
)

var proxyTitle = map[string]string{"weft": "weft", "nftables": "kube-proxy nftables", "iptables": "kube-proxy iptables"}

// row is one line of a table: a label and, per proxy, the figure of each run (NaN where that
// run failed or lacks it).
type row struct {
	label string
	runs  map[string][]float64
}

// table prints the rows with a column per proxy (median [min..max] over the runs) and, when
// weft ran, weft's ratio to each peer, run by run: the median and the worst (below 1: weft's
// figure is smaller, which is better for times and memory, worse for rates).
func table(w io.Writer, title, unit string, opts options, rows []row, format func(float64) string, higherIsBetter bool) {
	fmt.Fprintf(w, "\n%s, %s\n", title, unit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{""}
	for _, p := range opts.proxies {
		head = append(head, proxyTitle[p])
	}
	peers := []string{}
	if slices.Contains(opts.proxies, "weft") {
		for _, p := range opts.proxies {
			if p != "weft" {
				peers = append(peers, p)
				head = append(head, "weft/"+p)
			}
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		line := []string{r.label}
		for _, p := range opts.proxies {
			line = append(line, stats.Of(valid(r.runs[p])).Format(format))
		}
		for _, p := range peers {
			line = append(line, stats.Ratios(r.runs["weft"], r.runs[p], higherIsBetter).Format())
		}
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	tw.Flush()
}

func printTables(w io.Writer, opts options, results map[runKey]*runResult) {
	rowsOf := func(label func(n int) string, value func(r *runResult) (float64, bool)) []row {
		var rows []row
		for _, n := range opts.services {
			rw := row{label: label(n), runs: map[string][]float64{}}
			for _, p := range opts.proxies {
				for run := range opts.runs {
					v := math.NaN()
					if r := results[runKey{p, n, run}]; r != nil && r.Err == nil {
						if x, ok := value(r); ok {
							v = x
						}
					}
					rw.runs[p] = append(rw.runs[p], v)
				}
			}
			rows = append(rows, rw)
		}
		return rows
	}
	svc := func(n int) string { return fmt.Sprintf("%d services", n) }
	ms := func(v float64) string { return fmt.Sprintf("%.1f", v*1000) }
	mib := func(v float64) string { return fmt.Sprintf("%.0f", v/1024) }

	table(w, "First full sync, by each proxier's own sync histogram", "ms", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return r.Start.Each[0].Seconds, true }), ms, false)
	table(w, "Peak memory of the proxier process (VmHWM)", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.VmHWMKiB), true }), mib, false)
	table(w, "Peak memory, ru_maxrss (the larger of the process and any nft/iptables-restore it ran)", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.MaxRSSKiB), true }), mib, false)
	table(w, "Resident memory before the proxier started: the fake clientset's objects, included in both peaks", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.BaseRSSKiB), true }), mib, false)

	var sync, wall []row
	for _, k := range changeKinds {
		label := func(n int) string { return fmt.Sprintf("%d services, %s", n, k) }
		sync = append(sync, rowsOf(label, func(r *runResult) (float64, bool) {
			return median(r.Changes[k], func(s syncs) float64 { return s.Seconds })
		})...)
		wall = append(wall, rowsOf(label, func(r *runResult) (float64, bool) {
			return median(r.Changes[k], func(s syncs) float64 { return s.Wall })
		})...)
	}
	table(w, fmt.Sprintf("One change: time spent in the sync(s) it caused, median of %d per run", opts.changes), "ms", opts, sync, ms, false)
	table(w, fmt.Sprintf("One change: from the API write to the end of its last sync, median of %d per run (includes each proxier's batching delay)", opts.changes), "ms", opts, wall, ms, false)

	if opts.connect > 0 {
		var conn []row
		us := func(v float64) string { return fmt.Sprintf("%.0f", v*1e6) }
		conn = append(conn, rowsOf(func(n int) string { return fmt.Sprintf("%d services, conn/s", n) },
			func(r *runResult) (float64, bool) { return r.Connect.Rate, true })...)
		table(w, fmt.Sprintf("Connections to up to 8 ClusterIPs in turn from the proxier's namespace (nat output), one client, %s each (weft/peer above 1: weft faster)", opts.connect), "connections per second", opts, conn,
			func(v float64) string { return fmt.Sprintf("%.0f", v) }, true)
		var lat []row
		for _, q := range []string{"p50", "p99"} {
			lat = append(lat, rowsOf(func(n int) string { return fmt.Sprintf("%d services, %s", n, q) },
				func(r *runResult) (float64, bool) {
					if q == "p50" {
						return r.Connect.P50.Seconds(), true
					}
					return r.Connect.P99.Seconds(), true
				})...)
		}
		table(w, "Connect latency (SYN to established)", "µs", opts, lat, us, false)
	}
	printKinds(w, opts, results)
}

// printKinds says which kinds of sync each change caused, since a proxier that rewrites
// everything for one change is not doing the same work as one that sends a diff.
func printKinds(w io.Writer, opts options, results map[runKey]*runResult) {
	fmt.Fprintln(w, "\nSyncs per change in the first run (kinds as each proxier labels them), and failures of any run:")
	for _, n := range opts.services {
		for _, p := range opts.proxies {
			// The first run stands for the rest; a failure of any run is named.
			for run := 1; run < opts.runs; run++ {
				if r := results[runKey{p, n, run}]; r != nil && r.Err != nil {
					fmt.Fprintf(w, "  %-9s %6d services: run %d failed: %v\n", p, n, run+1, firstLine(r.Err.Error()))
				}
			}
			r := results[runKey{p, n, 0}]
			if r == nil {
				continue
			}
			if r.Err != nil {
				fmt.Fprintf(w, "  %-9s %6d services: failed: %v\n", p, n, firstLine(r.Err.Error()))
				continue
			}
			var parts []string
			for _, k := range changeKinds {
				seen := map[string]int{}
				var order []string
				for _, s := range r.Changes[k] {
					if seen[s.Kinds()] == 0 {
						order = append(order, s.Kinds())
					}
					seen[s.Kinds()]++
				}
				var ks []string
				for _, o := range order {
					ks = append(ks, fmt.Sprintf("%s (%d/%d)", o, seen[o], len(r.Changes[k])))
				}
				parts = append(parts, k+": "+strings.Join(ks, ", "))
			}
			start := fmt.Sprintf("start: %s (wall %s)", r.Start.Kinds(), time.Duration(r.Start.Wall*float64(time.Second)).Round(time.Millisecond))
			fmt.Fprintf(w, "  %-9s %6d services: %s; %s\n", p, n, start, strings.Join(parts, "; "))
			if r.Connect != nil && r.Connect.Failures > 0 {
				fmt.Fprintf(w, "  %-9s %6d services: %d of %d connections failed\n", p, n, r.Connect.Failures, r.Connect.Failures+r.Connect.N)
			}
		}
	}
}

func median(s []syncs, f func(syncs) float64) (float64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2], true
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// valid drops the runs without a figure.
func valid(vs []float64) []float64 {
	var out []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}
