// Command labup measures how long `weft lab up` takes until every node is Ready, and the lab's
// peak memory (the sum of the proportional set sizes of the supervisor and every process in the
// lab's namespaces, sampled every 100 ms during start-up and a settling period).
//
//	sudo go run ./bench/labup --weft bin/weft --nodes 1,3,5 --runs 3
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/weftnet/weft/bench/internal/stats"
)

func main() {
	weft := flag.String("weft", "bin/weft", "weft binary")
	nodeCounts := flag.String("nodes", "1,3,5", "lab sizes to measure, comma-separated")
	settle := flag.Duration("settle", 10*time.Second, "how long to keep sampling memory after the lab is ready")
	runs := flag.Int("runs", 3, "labs brought up per size; figures are the median with the minimum and maximum")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "labup: needs root (sudo), like weft lab up")
		os.Exit(1)
	}
	dataDir, err := os.MkdirTemp("", "weft-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dataDir)

	if *runs < 1 {
		fail(fmt.Errorf("-runs %d: want at least 1", *runs))
	}
	var sizes []int
	for _, f := range strings.Split(*nodeCounts, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			fail(fmt.Errorf("--nodes %q: %w", f, err))
		}
		sizes = append(sizes, n)
	}
	// Rounds go through every size before the next, so a slow spell of the machine does not
	// fall on one size only.
	up, peak, procs := map[int][]float64{}, map[int][]float64{}, map[int]int{}
	for run := range *runs {
		for _, n := range sizes {
			fmt.Fprintf(os.Stderr, "labup: run %d/%d, %d nodes ...\n", run+1, *runs, n)
			r, err := measure(*weft, dataDir, n, *settle)
			if err != nil {
				fail(err)
			}
			up[n] = append(up[n], r.up.Seconds())
			peak[n] = append(peak[n], float64(r.peakBytes)/(1<<20))
			procs[n] = r.processes
		}
	}
	fmt.Printf("%d runs per size: median [min..max]\n", *runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\tup-to-Ready\tpeak memory (PSS sum)\tprocesses")
	for _, n := range sizes {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", n,
			stats.Of(up[n]).Format(func(s float64) string { return fmt.Sprintf("%.1fs", s) }),
			stats.Of(peak[n]).Format(func(m float64) string { return fmt.Sprintf("%.0f MiB", m) }), procs[n])
	}
	tw.Flush()
}

type result struct {
	up        time.Duration
	peakBytes int64
	processes int
}

func measure(weft, dataDir string, nodes int, settle time.Duration) (result, error) {
	name := fmt.Sprintf("bench%d", nodes)
	labArgs := []string{"--name", name, "--data-dir", dataDir}
	down := func() { _ = exec.Command(weft, append([]string{"lab", "down"}, labArgs...)...).Run() }
	down()
	defer down()

	var (
		mu    sync.Mutex
		peak  int64
		procs int
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			total, count := labMemory(dataDir, name)
			mu.Lock()
			if total > peak {
				peak, procs = total, count
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	out, err := exec.Command(weft, append([]string{"lab", "up", "--nodes", strconv.Itoa(nodes), "--https-listen-port", "16500"}, labArgs...)...).CombinedOutput()
	up := time.Since(start)
	if err != nil {
		close(stop)
		<-done
		return result{}, fmt.Errorf("lab up --nodes %d: %w\n%s", nodes, err, out)
	}
	time.Sleep(settle)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	return result{up: up, peakBytes: peak, processes: procs}, nil
}

// labMemory sums Pss over the supervisor and every process in the lab's network namespaces.
// Pss splits shared pages (every process maps the same weft binary) fairly, so the sum is real.
func labMemory(dataDir, name string) (int64, int) {
	inodes := map[string]bool{}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "weft-"+name+"-") {
			if link, err := os.Stat("/run/netns/" + e.Name()); err == nil {
				inodes[fmt.Sprint(inodeOf(link))] = true
			}
		}
	}
	supervisor, _ := os.ReadFile(dataDir + "/labs/" + name + "/supervisor.pid")
	supervisorPID := strings.TrimSpace(string(supervisor))
	var total int64
	count := 0
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		link, err := os.Readlink("/proc/" + p.Name() + "/ns/net")
		if err != nil {
			continue
		}
		ino := strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]")
		if !inodes[ino] && p.Name() != supervisorPID {
			continue
		}
		if pss := pssBytes(p.Name()); pss > 0 {
			total += pss
			count++
		}
	}
	return total, count
}

func pssBytes(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "labup:", err)
	os.Exit(1)
}
