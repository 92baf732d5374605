// Command overlay measures pod-to-pod networking across nodes: TCP throughput (iperf3), TCP
// request/response rate and TCP connect rate, for weft's host-gw and vxlan backends and for the
// same paths built by hand in namespaces of its own (routed veth, and a plain VXLAN link), plus
// how long a new node's or a new pod's address takes to become reachable from another node.
// Every figure that is compared is measured in the same run, paths taking turns round by round,
// because the machines are noisy: ratios hold where absolute figures do not.
//
//	sudo go run ./bench/overlay --parts hand --duration 5s --rounds 3
//	sudo go run ./bench/overlay --weft bin/weft --backends host-gw,vxlan
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	parts, backends    []string
	duration           time.Duration
	rounds, rrSize     int
	weft, lab, dataDir string
	manageLabs         bool
	apiPort            int
	labTimeout         time.Duration
	backend            string
}

func main() {
	// The request/response client and server are this same program, run again inside a namespace.
	if len(os.Args) == 3 && os.Args[1] == "wg-device" {
		if err := wgDeviceMain(os.Args[2]); err != nil {
			fail(err)
		}
		return
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "rr-") {
		if err := rrMain(os.Args[1], os.Args[2:]); err != nil {
			fail(err)
		}
		return
	}
	var o options
	var parts, backends string
	flag.StringVar(&parts, "parts", "hand,lab,join", "what to run, comma-separated: hand (baselines built by hand), lab (weft's pod-to-pod paths), join (time to reachability)")
	flag.StringVar(&backends, "backends", "host-gw,vxlan", "weft backends to measure, in turn, each in a lab of its own (with --manage-labs)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each throughput and rate measurement (whole seconds)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds per path; paths take turns within a round and figures are medians")
	flag.IntVar(&o.rrSize, "rr-size", 1, "bytes in each request and each response")
	flag.StringVar(&o.weft, "weft", "bin/weft", "weft binary")
	flag.BoolVar(&o.manageLabs, "manage-labs", true, "bring a 2-node lab up and down for each backend; false: measure the running lab --lab")
	flag.StringVar(&o.lab, "lab", "benchoverlay", "lab name (with --manage-labs=false: a running lab, e.g. \"default\")")
	flag.StringVar(&o.dataDir, "data-dir", "", "lab data directory (default: a temporary one with --manage-labs, else /var/lib/weft)")
	flag.StringVar(&o.backend, "backend", "", "with --manage-labs=false: label for the running lab's backend (default: read from its lab.json)")
	flag.IntVar(&o.apiPort, "api-port", 16502, "loopback API port of the labs this command brings up")
	flag.DurationVar(&o.labTimeout, "lab-timeout", 5*time.Minute, "longest wait for a lab, a pod or a reply")
	flag.Parse()
	o.parts, o.backends = split(parts), split(backends)
	if err := o.validate(); err != nil {
		fail(err)
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func (o *options) validate() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("needs root (sudo): it creates namespaces and runs labs"))
	}
	for _, p := range o.parts {
		if !slices.Contains([]string{"hand", "lab", "join"}, p) {
			errs = append(errs, fmt.Errorf("--parts: unknown part %q: use hand, lab, join", p))
		}
	}
	for _, b := range o.backends {
		if !slices.Contains([]string{"host-gw", "vxlan", "wireguard"}, b) {
			errs = append(errs, fmt.Errorf("--backends: unknown backend %q: use host-gw, vxlan, wireguard", b))
		}
	}
	if (o.has("lab") || o.has("join")) && o.manageLabs {
		if _, err := os.Stat(o.weft); err != nil {
			errs = append(errs, fmt.Errorf("--weft: %w (build it with make, or point to /usr/local/bin/weft)", err))
		}
	}
	if o.duration < time.Second || o.rounds < 1 || o.rrSize < 1 {
		errs = append(errs, errors.New("--duration must be 1s or more, --rounds and --rr-size 1 or more"))
	}
	return errors.Join(errs...)
}

func (o *options) has(part string) bool { return slices.Contains(o.parts, part) }

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.has("lab") || o.has("join") {
		// A lab next to a test run would disturb both.
		if pid := findProcess("e2e.test"); pid != 0 {
			return fmt.Errorf("an e2e test run is going on (pid %d): run the lab parts later, or only --parts hand", pid)
		}
	}
	var hand *handNet
	if o.has("hand") || o.has("lab") { // the lab part compares with the hand-made paths
		var err error
		hand, err = buildHand(ctx)
		defer hand.teardown()
		if err != nil {
			return err
		}
	}
	res := newResults()
	if o.has("hand") {
		fmt.Printf("hand-made paths: %d rounds of %s\n", o.rounds, o.duration)
		kinds := []string{"node", "raw", "vxlan"}
		if slices.Contains(o.backends, "wireguard") {
			kinds = append(kinds, "wireguard")
		}
		if err := measureRounds(ctx, o, res, hand.paths("hand", kinds...)); err != nil {
			return err
		}
	}
	var joins []joinFigure
	if o.has("lab") || o.has("join") {
		var err error
		if joins, err = runLabs(ctx, o, res, hand); err != nil {
			res.print(os.Stdout)
			return err
		}
	}
	res.print(os.Stdout)
	printJoins(os.Stdout, joins)
	return nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// findProcess returns the pid of a process whose command line contains s, other than this one.
func findProcess(s string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(b), s) {
			return pid
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/overlay:", err)
	os.Exit(1)
}
