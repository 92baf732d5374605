package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The query mix, in percent of the query file's lines. A pod in namespace bench resolving
// "svc-N.bench" with ndots:5 first asks svc-N.bench.bench.svc.cluster.local (a miss), and one
// resolving "www.lab.example" asks it under each of the three cluster search domains first.
const (
	mixA       = 35 // svc-N.bench.svc.cluster.local A
	mixAAAA    = 15 // the same name's AAAA (no IPv6 in this lab: NOERROR, no answer, the SOA)
	mixMiss    = 30 // search-path misses, NXDOMAIN
	mixForward = 20 // names outside the cluster domain, forwarded to the router (then cached)
)

func svcName(i int) string { return fmt.Sprintf("svc-%05d", i) }

// writeQueries writes the dnsperf input: lines of "name type" in the mix above, in random order.
func writeQueries(path string, services int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	const lines = 20000
	forwarded := []string{"external.lab.example", "router.lab.example", "www.lab.example", "api.lab.example", "mirror.lab.example"}
	for range lines {
		svc := svcName(rng.IntN(services)) + ".bench"
		switch p := rng.IntN(100); {
		case p < mixA:
			fmt.Fprintf(&b, "%s.svc.cluster.local A\n", svc)
		case p < mixA+mixAAAA:
			fmt.Fprintf(&b, "%s.svc.cluster.local AAAA\n", svc)
		case p < mixA+mixAAAA+mixMiss:
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "%s.bench.svc.cluster.local A\n", svc)
			} else {
				suffix := []string{"bench.svc.cluster.local", "svc.cluster.local", "cluster.local"}[rng.IntN(3)]
				fmt.Fprintf(&b, "%s.%s A\n", forwarded[rng.IntN(len(forwarded))], suffix)
			}
		default:
			fmt.Fprintf(&b, "%s A\n", forwarded[rng.IntN(len(forwarded))])
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// perf is what one dnsperf run reports.
type perf struct {
	sent, completed, lost int
	qps                   float64
	p50, p99              time.Duration // from the per-query latencies (-v), when asked for
	rcodes                string
}

// dnsperf runs dnsperf pinned to the client core against addr for o.Duration; rate 0 is as
// fast as it goes (up to 200 queries outstanding), otherwise that many queries per second with
// every query's latency recorded.
func dnsperf(ctx context.Context, o options, addr, queries string, rate int, timeout time.Duration) (perf, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-n", strconv.Itoa(o.Nice), "taskset", "-c", strconv.Itoa(o.ClientCPU), "dnsperf", "-s", host, "-p", port, "-d", queries,
		"-l", strconv.Itoa(int(o.Duration / time.Second)), "-c", "8", "-T", "2", "-q", "200",
		"-t", strconv.Itoa(max(1, int(timeout/time.Second)))}
	if rate > 0 {
		args = append(args, "-Q", strconv.Itoa(rate), "-v")
	}
	out, err := exec.CommandContext(ctx, "nice", args...).Output()
	if err != nil {
		return perf{}, fmt.Errorf("dnsperf against %s: %w", addr, err)
	}
	return parsePerf(out)
}

func parsePerf(out []byte) (perf, error) {
	var p perf
	var lat []float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "> ") && len(f) >= 5:
			// "> NOERROR name type latency" per query with -v
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lat = append(lat, v)
			}
		case strings.HasPrefix(line, "Queries sent:"):
			p.sent, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(line, "Queries completed:"):
			p.completed, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(line, "Queries lost:"):
			p.lost, _ = strconv.Atoi(f[2])
		case strings.HasPrefix(line, "Queries per second:"):
			p.qps, _ = strconv.ParseFloat(f[3], 64)
		case strings.HasPrefix(line, "Response codes:"):
			p.rcodes = strings.TrimPrefix(line, "Response codes: ")
		}
	}
	if p.sent == 0 {
		return p, fmt.Errorf("dnsperf printed no summary:\n%s", out)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		p.p50 = secs(quantile(lat, 0.50))
		p.p99 = secs(quantile(lat, 0.99))
	}
	return p, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
