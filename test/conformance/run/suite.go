package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runSuite runs e2e.test through the ginkgo CLI, which spreads the specs over -parallel
// processes and merges their reports; its output goes to the terminal and to e2e.log.
func runSuite(ctx context.Context, t *tools, o *options, kubeconfig string) error {
	out, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(out, "e2e.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	args := []string{
		"--procs=" + strconv.Itoa(o.parallel),
		"--timeout=" + o.timeout.String(),
		"--focus=" + o.focus,
		"--json-report=" + filepath.Join(out, "report.json"),
		"--no-color",
	}
	if o.skip != "" {
		args = append(args, "--skip="+o.skip)
	}
	nodes, err := countNodes(ctx, t, kubeconfig)
	if err != nil {
		return err
	}
	args = append(args, t.e2e, "--",
		"--kubeconfig="+kubeconfig,
		// Specs that need several nodes skip themselves unless told how many there are.
		"--num-nodes="+strconv.Itoa(nodes),
		"--kubectl-path="+t.kubectl,
		"--provider=local",
		"--report-dir="+out,
		// The framework's own checks that nodes are Ready and kube-system's pods run.
		"--allowed-not-ready-nodes=0",
	)
	fmt.Printf("conformance: %s %q\n", t.ginkgo, args)
	cmd := exec.CommandContext(ctx, t.ginkgo, args...)
	cmd.Stdout = io.MultiWriter(os.Stdout, log)
	cmd.Stderr = cmd.Stdout
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	// Interrupted (Ctrl-C, a time limit), ginkgo still writes the reports of the specs that ran
	// if it gets SIGINT and a moment, where a kill would lose them all.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("e2e suite: %w (its output is in %s)", err, log.Name())
	}
	return nil
}

// listSpecs prints the specs a run would run, without a cluster: a dry run of the suite.
func listSpecs(ctx context.Context, t *tools, o *options) error {
	dir, err := os.MkdirTemp("", "weft-conformance-list-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "report.json")
	args := []string{"-ginkgo.dry-run", "-ginkgo.focus=" + o.focus, "-ginkgo.json-report=" + report, "-ginkgo.no-color"}
	if o.skip != "" {
		args = append(args, "-ginkgo.skip="+o.skip)
	}
	cmd := exec.CommandContext(ctx, t.e2e, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("e2e.test -ginkgo.dry-run: %w\n%s", err, out)
	}
	r, err := readReport(report)
	if err != nil {
		return err
	}
	s := summarize(r, o.focus, o.skip)
	for _, sp := range s.specs {
		if sp.selected {
			fmt.Println(sp.name)
		}
	}
	fmt.Printf("%d specs selected\n", s.count(func(sp spec) bool { return sp.selected }))
	return nil
}

// countNodes asks the cluster how many Nodes it has.
func countNodes(ctx context.Context, t *tools, kubeconfig string) (int, error) {
	out, err := exec.CommandContext(ctx, t.kubectl, "--kubeconfig", kubeconfig, "get", "nodes", "-o", "name").Output()
	if err != nil {
		return 0, fmt.Errorf("kubectl get nodes: %w", err)
	}
	return strings.Count(string(out), "node/"), nil
}
