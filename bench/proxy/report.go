package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

var proxyTitle = map[string]string{"weft": "weft", "nftables": "kube-proxy nftables", "iptables": "kube-proxy iptables"}

// cell is one figure; ok is false where a proxier was not run or failed.
type cell struct {
	v  float64
	ok bool
}

// row is one line of a table: a label and a figure per proxy.
type row struct {
	label string
	cells map[string]cell
}

// table prints the rows with a column per proxy and, when weft ran, weft's ratio to each peer
// (below 1: weft's figure is smaller, which is better for times and memory, worse for rates).
func table(w io.Writer, title, unit string, opts options, rows []row, format func(float64) string) {
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
			if c := r.cells[p]; c.ok {
				line = append(line, format(c.v))
			} else {
				line = append(line, "-")
			}
		}
		for _, p := range peers {
			w, o := r.cells["weft"], r.cells[p]
			if w.ok && o.ok && o.v > 0 {
				line = append(line, fmt.Sprintf("%.2f", w.v/o.v))
			} else {
				line = append(line, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	tw.Flush()
}

func printTables(w io.Writer, opts options, results map[runKey]*runResult) {
	rowsOf := func(label func(n int) string, value func(r *runResult) (float64, bool)) []row {
		var rows []row
		for _, n := range opts.services {
			rw := row{label: label(n), cells: map[string]cell{}}
			for _, p := range opts.proxies {
				if r := results[runKey{p, n}]; r != nil && r.Err == nil {
					v, ok := value(r)
					rw.cells[p] = cell{v, ok}
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
		rowsOf(svc, func(r *runResult) (float64, bool) { return r.Start.Each[0].Seconds, true }), ms)
	table(w, "Peak memory of the proxier process (VmHWM)", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.VmHWMKiB), true }), mib)
	table(w, "Peak memory, ru_maxrss (the larger of the process and any nft/iptables-restore it ran)", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.MaxRSSKiB), true }), mib)
	table(w, "Resident memory before the proxier started: the fake clientset's objects, included in both peaks", "MiB", opts,
		rowsOf(svc, func(r *runResult) (float64, bool) { return float64(r.BaseRSSKiB), true }), mib)

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
	table(w, fmt.Sprintf("One change: time spent in the sync(s) it caused, median of %d", opts.changes), "ms", opts, sync, ms)
	table(w, fmt.Sprintf("One change: from the API write to the end of its last sync, median of %d (includes each proxier's batching delay)", opts.changes), "ms", opts, wall, ms)

	if opts.connect > 0 {
		var conn []row
		us := func(v float64) string { return fmt.Sprintf("%.0f", v*1e6) }
		conn = append(conn, rowsOf(func(n int) string { return fmt.Sprintf("%d services, conn/s", n) },
			func(r *runResult) (float64, bool) { return r.Connect.Rate, true })...)
		table(w, fmt.Sprintf("Connections to up to 8 ClusterIPs in turn from the proxier's namespace (nat output), one client, %s each (weft/peer above 1: weft faster)", opts.connect), "connections per second", opts, conn,
			func(v float64) string { return fmt.Sprintf("%.0f", v) })
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
		table(w, "Connect latency (SYN to established)", "µs", opts, lat, us)
	}
	printKinds(w, opts, results)
}

// printKinds says which kinds of sync each change caused, since a proxier that rewrites
// everything for one change is not doing the same work as one that sends a diff.
func printKinds(w io.Writer, opts options, results map[runKey]*runResult) {
	fmt.Fprintln(w, "\nSyncs per change (kinds as each proxier labels them), and failures:")
	for _, n := range opts.services {
		for _, p := range opts.proxies {
			r := results[runKey{p, n}]
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
