// Command run is `make conformance`: it builds Kubernetes' own e2e suite (the [sig-network]
// specs of the release weft embeds), brings up a weft lab (or uses the cluster KUBECONFIG
// names), runs the specs chosen by -focus and -skip, writes JUnit XML, a Ginkgo JSON report and
// a plain summary that says why each skipped spec was skipped, and takes the lab down again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultFocus is the conformance set: every [sig-network] spec that Kubernetes requires of a
// conformant cluster.
const DefaultFocus = `\[sig-network\].*\[Conformance\]`

type options struct {
	weft       string
	tools      string
	out        string
	focus      string
	skip       string
	labFlags   string
	labName    string
	labPort    int
	kubeconfig string
	parallel   int
	timeout    time.Duration
	known      string
	keepLab    bool
	buildOnly  bool
	list       bool
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.weft, "weft", "bin/weft", "the weft binary that runs the lab")
	fs.StringVar(&o.tools, "tools", ".tools/conformance", "where e2e.test, agnhost, kubectl and ginkgo are built (kept between runs)")
	fs.StringVar(&o.out, "out", "_output/conformance", "where reports go: each run in <out>/<time>, with <out>/latest pointing at the newest")
	fs.StringVar(&o.focus, "focus", DefaultFocus, "regular expression: the specs to run")
	fs.StringVar(&o.skip, "skip", "", "regular expression: specs not to run, even if -focus matches them")
	fs.StringVar(&o.labFlags, "lab-flags", "", "more flags for `weft lab up`, e.g. '--cluster-cidr 2001:cafe:42::/56 --service-cidr 2001:cafe:43::/112'")
	fs.StringVar(&o.labName, "lab-name", "conformance", "name of the lab the run brings up")
	fs.IntVar(&o.labPort, "lab-port", 6460, "loopback port of that lab's API server")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "run against this cluster instead of bringing up a lab (it must run weft and the lab's images)")
	fs.IntVar(&o.parallel, "parallel", 4, "Ginkgo processes; specs marked [Serial] still run alone")
	fs.DurationVar(&o.timeout, "timeout", 90*time.Minute, "the whole suite's time limit")
	fs.StringVar(&o.known, "known-failures", "", "file of specs that fail for a stated reason: they run and are reported, but do not fail the run")
	fs.BoolVar(&o.keepLab, "keep-lab", false, "leave the lab up after the run, to look at what a failed spec left")
	fs.BoolVar(&o.buildOnly, "build-only", false, "build the tools and stop")
	fs.BoolVar(&o.list, "list", false, "list the specs -focus and -skip select, run nothing")
}

func (o *options) validate() error {
	var errs []error
	if o.parallel < 1 {
		errs = append(errs, fmt.Errorf("-parallel %d: give at least 1", o.parallel))
	}
	if o.focus == "" {
		errs = append(errs, fmt.Errorf("-focus is empty: give a regular expression such as %q", DefaultFocus))
	}
	if o.kubeconfig == "" && !o.buildOnly && !o.list {
		if _, err := os.Stat(o.weft); err != nil {
			errs = append(errs, fmt.Errorf("-weft %s: %w: run `make build` first", o.weft, err))
		}
		if os.Geteuid() != 0 {
			errs = append(errs, errors.New("bringing up a lab needs root: run `sudo make conformance`, or give -kubeconfig of a running cluster"))
		}
	}
	return errors.Join(errs...)
}

func main() {
	var o options
	o.addFlags(flag.CommandLine)
	flag.Parse()
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, &o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// run does one whole run and returns how many specs failed.
func run(ctx context.Context, o *options) (int, error) {
	known, err := readKnownFailures(o.known)
	if err != nil {
		return 0, err
	}
	t, err := buildTools(ctx, o.tools)
	if err != nil {
		return 0, err
	}
	if o.buildOnly {
		return 0, nil
	}
	if o.list {
		return 0, listSpecs(ctx, t, o)
	}
	if o.out, err = reportDir(o.out); err != nil {
		return 0, err
	}
	kubeconfig := o.kubeconfig
	if kubeconfig == "" {
		lab := &lab{weft: o.weft, name: o.labName, port: o.labPort, flags: o.labFlags, images: t.imagesDir}
		if kubeconfig, err = lab.up(ctx, filepath.Join(o.out, "lab-up.log")); err != nil {
			return 0, err
		}
		if !o.keepLab {
			defer lab.down(filepath.Join(o.out, "lab-down.log"))
		} else {
			defer fmt.Printf("conformance: the lab stays up: WEFT_LAB=%s weft kubectl ..., then sudo weft lab down --name %s\n", o.labName, o.labName)
		}
	}
	runErr := runSuite(ctx, t, o, kubeconfig)
	report, err := readReport(filepath.Join(o.out, "report.json"))
	if err != nil {
		return 0, errors.Join(runErr, err)
	}
	s := summarize(report, o.focus, o.skip)
	s.applyKnown(known)
	if err := s.write(os.Stdout, filepath.Join(o.out, "summary.txt")); err != nil {
		return 0, err
	}
	fmt.Printf("conformance: reports in %s (junit_01.xml, report.json, e2e.log, summary.txt)\n", o.out)
	if s.failed() == 0 && runErr != nil {
		return 0, runErr // the suite itself broke (set-up, timeout) without a failed spec to show
	}
	return s.failed(), nil
}

// reportDir makes a fresh directory for this run's reports under parent and points
// parent/latest at it.
func reportDir(parent string) (string, error) {
	stamp := time.Now().UTC().Format("20060102-150405")
	dir, err := filepath.Abs(filepath.Join(parent, stamp))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	latest := filepath.Join(parent, "latest")
	_ = os.Remove(latest)
	if err := os.Symlink(stamp, latest); err != nil {
		return "", fmt.Errorf("point %s at this run: %w", latest, err)
	}
	return dir, nil
}
