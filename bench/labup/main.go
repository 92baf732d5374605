// Command labup measures how long `weft lab up` takes until every node is Ready, and the lab's
// peak memory (the sum of the proportional set sizes of the supervisor and every process in the
// lab's namespaces, sampled every 100 ms during start-up and a settling period).
//
//	sudo go run ./bench/labup --weft bin/weft --nodes 1,3,5
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	weft := flag.String("weft", "bin/weft", "weft binary")
	nodeCounts := flag.String("nodes", "1,3,5", "lab sizes to measure, comma-separated")
	settle := flag.Duration("settle", 10*time.Second, "how long to keep sampling memory after the lab is ready")
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

	fmt.Printf("%-6s %-14s %-16s %s\n", "nodes", "up-to-Ready", "peak-memory", "processes")
	for _, f := range strings.Split(*nodeCounts, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			fail(fmt.Errorf("--nodes %q: %w", f, err))
		}
		r, err := measure(*weft, dataDir, n, *settle)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%-6d %-14s %-16s %d\n", n, r.up.Round(100*time.Millisecond), fmt.Sprintf("%.0f MiB", float64(r.peakBytes)/(1<<20)), r.processes)
	}
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
