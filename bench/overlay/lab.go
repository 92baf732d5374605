package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weftnet/weft/internal/lab"
)

// Goals from the issue: weft's path against the same path built by hand.
var goals = map[string]float64{"host-gw": 0.90, "vxlan": 0.95, "wireguard": 0.95}

// baselineKind is the hand-made path each backend is compared with.
var baselineKind = map[string]string{"host-gw": "raw", "vxlan": "vxlan", "wireguard": "wireguard"}

// runLabs measures weft's pod-to-pod path for each backend: in a 2-node lab it brings up for
// the purpose, or in the running lab --lab.
func runLabs(ctx context.Context, o options, res *results, hand *handNet) ([]joinFigure, error) {
	if !o.manageLabs {
		if o.dataDir == "" {
			o.dataDir = lab.Defaults().DataDir
		}
		if o.backend == "" {
			plan, err := lab.LoadPlan(o.dataDir, o.lab)
			if err != nil {
				return nil, fmt.Errorf("--lab %s: %w", o.lab, err)
			}
			o.backend = plan.Backend
		}
		if _, ok := goals[o.backend]; !ok {
			return nil, fmt.Errorf("lab %s has backend %q: only host-gw, vxlan and wireguard have a hand-made twin to compare with", o.lab, o.backend)
		}
		return oneLab(ctx, o, res, hand, o.backend, nil)
	}
	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "weft-bench-overlay-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.dataDir = dir
	}
	var joins []joinFigure
	for _, b := range o.backends {
		j, err := oneLab(ctx, o, res, hand, b, labUp(o, b))
		joins = append(joins, j...)
		if err != nil {
			return joins, fmt.Errorf("backend %s: %w", b, err)
		}
	}
	return joins, nil
}

// labUp is the `weft lab up` of a managed lab; oneLab starts it and times what follows.
func labUp(o options, backend string) *exec.Cmd {
	return exec.Command(o.weft, "lab", "up", "--name", o.lab, "--data-dir", o.dataDir, "--nodes", "2",
		"--backend", backend, "--https-listen-port", strconv.Itoa(o.apiPort))
}

func labDown(o options) {
	out, err := exec.Command(o.weft, "lab", "down", "--name", o.lab, "--data-dir", o.dataDir).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/overlay: weft lab down: %v\n%s", err, out)
	}
}

// oneLab runs parts lab and join against one lab; with up set, it brings the lab up first
// (timing node join to reachability meanwhile) and down again at the end.
func oneLab(ctx context.Context, o options, res *results, hand *handNet, backend string, up *exec.Cmd) ([]joinFigure, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var upOut bytes.Buffer
	upDone := make(chan struct{})
	start := time.Now()
	if up != nil {
		labDown(o) // a lab of this name left over by a killed run
		fmt.Fprintf(os.Stderr, "%s: weft lab up --backend %s --nodes 2\n", backend, backend)
		up.Stdout, up.Stderr = &upOut, &upOut
		if err := up.Start(); err != nil {
			return nil, err
		}
		defer func() {
			up.Process.Kill() // when interrupted while it runs; the lab's own processes go with down
			<-upDone
			labDown(o)
		}()
		go func() {
			if err := up.Wait(); err != nil {
				cancel(fmt.Errorf("weft lab up: %w\n%s", err, upOut.String()))
			}
			close(upDone)
		}()
	} else {
		close(upDone)
	}
	client, err := connect(ctx, o)
	if err != nil {
		return nil, err
	}
	t := startTimeline(ctx, client)
	a, b := pod{name: podName("bench-a"), node: "node-1"}, pod{name: podName("bench-b"), node: "node-2"}
	for _, p := range []*pod{&a, &b} {
		if err := createPod(ctx, client, *p, o.labTimeout); err != nil {
			return nil, err
		}
		if up == nil {
			defer deletePod(client, p.name)
		}
	}
	// Pod A's namespace and pod B's address are all the reachability check needs, so it starts
	// before pod B's namespace is looked for.
	if err := findPod(ctx, t, o.labTimeout, &a, true); err != nil {
		return nil, err
	}
	if err := findPod(ctx, t, o.labTimeout, &b, false); err != nil {
		return nil, err
	}
	timeJoin := up != nil && o.has("join")
	var reached time.Time
	var first bool
	if timeJoin {
		if reached, first, err = pingUntilReply(ctx, a.ns, b.ip, o.labTimeout); err != nil {
			return nil, err
		}
	}
	// Nothing is measured while the lab is still starting; node-2 is Ready by then.
	select {
	case <-upDone:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	var joins []joinFigure
	if timeJoin {
		if _, err := t.wait(ctx, "ready:"+b.node, o.labTimeout); err != nil {
			return nil, err
		}
		joins = nodeJoinFigures(backend, t, b, start, reached, first)
	}
	if err := findPod(ctx, t, o.labTimeout, &b, true); err != nil {
		return joins, err
	}
	fmt.Fprintf(os.Stderr, "%s: %s %s (MTU %d) on %s, %s %s (MTU %d) on %s\n", backend,
		a.name, a.ip, a.mtu, a.node, b.name, b.ip, b.mtu, b.node)
	if o.has("lab") {
		phase := "lab " + backend
		ps := hand.paths(phase, baselineKind[backend])
		ps = append(ps, path{phase: phase, name: "weft " + backend + " pod->pod", client: a.ns, server: b.ns,
			dst: b.ip, ref: ps[0].name, goal: goals[backend]})
		fmt.Fprintf(os.Stderr, "%s: %d rounds of %s\n", phase, o.rounds, o.duration)
		if err := measureRounds(ctx, o, res, ps); err != nil {
			return joins, err
		}
	}
	if o.has("join") {
		j, err := podReachability(ctx, o, client, t, backend, a)
		joins = append(joins, j...)
		if err != nil {
			return joins, err
		}
	}
	return joins, nil
}

// connect waits for the lab's admin kubeconfig and for the API server to be ready.
func connect(ctx context.Context, o options) (kubernetes.Interface, error) {
	path := lab.AdminKubeconfig(lab.StateDir(o.dataDir, o.lab))
	deadline := time.Now().Add(o.labTimeout)
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err == nil {
			cfg.Timeout = 5 * time.Second
			var c *kubernetes.Clientset
			if c, err = kubernetes.NewForConfig(cfg); err == nil {
				if _, err = c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err == nil {
					return c, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lab %s: API server not ready after %s: %w", o.lab, o.labTimeout, err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(d):
		return nil
	}
}
