// Command pods measures the time from `kubectl apply` of N pods to all of them Running, in a
// lab it brings up and removes again.
//
//	sudo go run ./bench/pods --weft bin/weft --pods 50 --nodes 3 --runs 3
//
// Each run applies the pods, waits for them all Running and deletes them again; the figure is
// the median of the runs with the minimum and maximum.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/weftnet/weft/bench/internal/stats"
)

func main() {
	weft := flag.String("weft", "bin/weft", "weft binary")
	pods := flag.Int("pods", 50, "number of pods")
	nodes := flag.Int("nodes", 3, "lab nodes")
	runs := flag.Int("runs", 3, "times the pods are applied (and deleted again)")
	flag.Parse()
	if *runs < 1 {
		fail(fmt.Errorf("-runs %d: want at least 1", *runs))
	}
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root (sudo), like weft lab up"))
	}
	dataDir, err := os.MkdirTemp("", "weft-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dataDir)
	labArgs := []string{"--name", "benchpods", "--data-dir", dataDir}
	env := append(os.Environ(), "WEFT_LAB=benchpods", "WEFT_DATA_DIR="+dataDir, "KUBECONFIG=")
	run := func(args ...string) []byte {
		cmd := exec.Command(*weft, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			fail(fmt.Errorf("weft %v: %w\n%s", args, err, out))
		}
		return out
	}
	defer exec.Command(*weft, append([]string{"lab", "down"}, labArgs...)...).Run()
	run(append([]string{"lab", "up", "--nodes", strconv.Itoa(*nodes), "--https-listen-port", "16501"}, labArgs...)...)

	var manifest bytes.Buffer
	for i := 0; i < *pods; i++ {
		fmt.Fprintf(&manifest, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bench-%d\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n    command: [\"sleep\", \"86400\"]\n", i)
	}
	path := dataDir + "/pods.yaml"
	if err := os.WriteFile(path, manifest.Bytes(), 0o644); err != nil {
		fail(err)
	}
	var took []float64
	for range *runs {
		took = append(took, applyAndWait(run, path, *pods).Seconds())
		run("kubectl", "delete", "-f", path, "--wait=true", "--timeout=5m")
	}
	fmt.Printf("%d pods on %d nodes: apply to all Running, %d runs, median [min..max]: %s\n", *pods, *nodes, *runs,
		stats.Of(took).Format(func(s float64) string { return fmt.Sprintf("%.1fs", s) }))
}

// applyAndWait applies the pods and returns the time until every one is Running.
func applyAndWait(run func(args ...string) []byte, path string, pods int) time.Duration {
	start := time.Now()
	run("kubectl", "apply", "-f", path)
	for {
		var list struct {
			Items []struct{ Status struct{ Phase string } }
		}
		if err := json.Unmarshal(run("kubectl", "get", "pods", "-o", "json"), &list); err != nil {
			fail(err)
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == "Running" {
				running++
			}
		}
		if running == pods {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Minute {
			fail(fmt.Errorf("only %d of %d pods Running after 5 minutes", running, pods))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pods:", err)
	os.Exit(1)
}
