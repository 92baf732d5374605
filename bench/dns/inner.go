package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const benchNS = "bench"

// runID keeps the new Services of one run apart from a kept lab's earlier ones.
var runID = time.Now().Unix()

// inner runs inside node-1's network namespace: it reaches the API server on the lab LAN, the
// node's resolver, and the agent's DNS address.
func inner(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("load: %s", uptime())
	start := time.Now()
	if err := createServices(ctx, client, o.Services); err != nil {
		return err
	}
	fmt.Printf("%d Services created in %s\n", o.Services, time.Since(start).Round(time.Millisecond))
	queries := filepath.Join(o.Work, "queries.txt")
	if err := writeQueries(queries, o.Services); err != nil {
		return err
	}
	res := &results{}
	var ttaWeft, ttaCore []time.Duration
	for round := range o.Rounds {
		fmt.Printf("round %d/%d, load: %s", round+1, o.Rounds, uptime())
		w, c, err := oneRound(ctx, o, client, res, round, queries)
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
		ttaWeft, ttaCore = append(ttaWeft, w...), append(ttaCore, c...)
	}
	var restarts []perf
	for i := range o.Restarts {
		p, err := restartUnderLoad(ctx, o, queries)
		if err != nil {
			return fmt.Errorf("restart %d: %w", i+1, err)
		}
		restarts = append(restarts, p)
		fmt.Printf("agent restart %d: %d queries due, sent %d, completed %d, lost %d, unanswered %d (%s)\n",
			i+1, restartDue(o), p.sent, p.completed, p.lost, restartDue(o)-p.completed, p.rcodes)
	}
	fmt.Printf("\nload at the end: %s", uptime())
	report(os.Stdout, o, res, ttaWeft, ttaCore, restarts)
	return nil
}

// oneRound starts both servers fresh, measures their memory at --services Services, their
// top rate and their latency at a rate both sustain (taking turns, the first one alternating
// by round), then times new Services to their first answer on both at once.
func oneRound(ctx context.Context, o options, client kubernetes.Interface, res *results, round int, queries string) ([]time.Duration, []time.Duration, error) {
	w, err := startWeft(o, round)
	if err != nil {
		return nil, nil, err
	}
	defer w.stop()
	c, err := startCoreDNS(o, round)
	if err != nil {
		return nil, nil, err
	}
	defer c.stop()
	last := svcName(o.Services-1) + "." + benchNS + ".svc.cluster.local"
	for _, s := range []*server{w, c} {
		t0 := time.Now()
		if err := s.waitAnswers(ctx, last, o.LabTimeout); err != nil {
			return nil, nil, err
		}
		fmt.Printf("  %s answers the last Service %s after start\n", s.name, time.Since(t0).Round(time.Millisecond))
	}
	time.Sleep(3 * time.Second) // let start-up garbage go
	for _, s := range []*server{w, c} {
		m, err := readMemory(s.pid())
		if err != nil {
			return nil, nil, err
		}
		res.add(s.name, "memory anon at rest (MiB)", round, m.anon)
		res.add(s.name, "memory RSS at rest (MiB)", round, m.rss)
		res.add(s.name, "memory PSS at rest (MiB)", round, m.pss)
	}
	order := []*server{w, c}
	if round%2 == 1 {
		order = []*server{c, w}
	}
	var top []float64
	for _, s := range order {
		cpu0, wall0 := cpuSeconds(s.pid()), time.Now()
		p, err := dnsperf(ctx, o, s.addr, queries, 0, 2*time.Second)
		if err != nil {
			return nil, nil, err
		}
		cpu, wall := cpuSeconds(s.pid())-cpu0, time.Since(wall0).Seconds()
		fmt.Printf("  %-8s top rate %8.0f q/s  lost %d  server busy %.0f%% of its core, %.0f answers per CPU second  (%s)\n",
			s.name, p.qps, p.lost, 100*cpu/wall, float64(p.completed)/cpu, p.rcodes)
		res.add(s.name, "top rate (q/s)", round, p.qps)
		// The rate is the client's when the server's core was not busy: answers per CPU
		// second are the server's own, whatever the client sends.
		res.add(s.name, "answers per CPU second", round, float64(p.completed)/cpu)
		res.add(s.name, "server busy at top rate (%)", round, 100*cpu/wall)
		top = append(top, p.qps)
	}
	rate := int(min(top[0], top[1]) / 2)
	for _, s := range order {
		p, err := dnsperf(ctx, o, s.addr, queries, rate, 2*time.Second)
		if err != nil {
			return nil, nil, err
		}
		fmt.Printf("  %-8s at %d q/s: p50 %s p99 %s lost %d\n", s.name, rate, p.p50, p.p99, p.lost)
		res.add(s.name, "p50 at half the lower top rate (µs)", round, float64(p.p50.Microseconds()))
		res.add(s.name, "p99 at half the lower top rate (µs)", round, float64(p.p99.Microseconds()))
	}
	tw, tc, err := timeToAnswer(ctx, o, client, round, w, c)
	if err != nil {
		return nil, nil, err
	}
	res.add(w.name, "new Service to answer p50 (ms)", round, ms(quantileD(tw, 0.5)))
	res.add(c.name, "new Service to answer p50 (ms)", round, ms(quantileD(tc, 0.5)))
	res.add(w.name, "new Service to answer p99 (ms)", round, ms(quantileD(tw, 0.99)))
	res.add(c.name, "new Service to answer p99 (ms)", round, ms(quantileD(tc, 0.99)))
	// The peak covers start-up (the first list), the load and the new Services.
	for _, s := range []*server{w, c} {
		res.add(s.name, "memory anon peak (MiB)", round, s.peak())
	}
	return tw, tc, nil
}

// maxWait is the longest a new Service is waited for; CoreDNS's negative cache holds a miss
// for the SOA minimum (5 s) when a question comes before its informer saw the Service.
const maxWait = 6 * time.Second

// timeToAnswer creates Services one at a time and asks both servers for each name every
// millisecond (20 ms timeout) from just before the create call until it answers.
func timeToAnswer(ctx context.Context, o options, client kubernetes.Interface, round int, servers ...*server) ([]time.Duration, []time.Duration, error) {
	out := make([][]time.Duration, len(servers))
	for k := range o.NewServices {
		name := fmt.Sprintf("new-%x-%d-%03d", runID, round, k)
		fqdn := name + "." + benchNS + ".svc.cluster.local"
		var wg sync.WaitGroup
		got := make([]time.Duration, len(servers))
		t0 := time.Now()
		for i, s := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(t0) < maxWait && ctx.Err() == nil {
					if ok, _ := answers(s.addr, fqdn, 20*time.Millisecond); ok {
						got[i] = time.Since(t0)
						return
					}
					time.Sleep(time.Millisecond)
				}
				got[i] = maxWait
			}()
		}
		if _, err := client.CoreV1().Services(benchNS).Create(ctx, service(name), metav1.CreateOptions{}); err != nil {
			return nil, nil, err
		}
		wg.Wait()
		for i := range servers {
			out[i] = append(out[i], got[i])
		}
		time.Sleep(150 * time.Millisecond) // a quiet spell, as between unrelated changes
	}
	return out[0], out[1], nil
}

func service(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}
}

// createServices makes namespace bench and svc-00000 ... (ClusterIP, no selector) with 32
// writers; ones that exist already (a kept lab) count.
func createServices(ctx context.Context, client kubernetes.Interface, n int) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	have := map[string]bool{}
	list, err := client.CoreV1().Services(benchNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, s := range list.Items {
		have[s.Name] = true
	}
	next := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := client.CoreV1().Services(benchNS).Create(ctx, service(svcName(i)), metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					select {
					case errs <- fmt.Errorf("create Service %s: %w", svcName(i), err):
					default:
					}
					return
				}
			}
		}()
	}
	for i := range n {
		if have[svcName(i)] {
			continue
		}
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

const restartRate = 2000

// restartDue is how many queries a restart run sends if nothing stops it. dnsperf counts as
// lost only what it sent and timed out; a send that fails (ICMP port unreachable while no
// socket is bound, reported on its connected socket) is not sent at all, so what counts is
// the queries due less the ones answered.
func restartDue(o options) int { return restartRate * int(o.Duration/time.Second) }

// restartUnderLoad sends the query mix at 2000 q/s to the agent's own DNS address (the node's
// cluster DNS, 10.43.0.10) while the agent gets SIGTERM after 2 s; the lab's node runtime
// starts it again, as a DaemonSet's kubelet would.
func restartUnderLoad(ctx context.Context, o options, queries string) (perf, error) {
	pid := agentPID(o.Lab)
	if pid == 0 {
		return perf{}, fmt.Errorf("no weft agent in lab %s's node-1", o.Lab)
	}
	type result struct {
		p   perf
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := dnsperf(ctx, o, "10.43.0.10:53", queries, restartRate, 2*time.Second)
		done <- result{p, err}
	}()
	time.Sleep(2 * time.Second)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return perf{}, err
	}
	r := <-done
	// The next restart starts from a running agent that answers again.
	deadline := time.Now().Add(o.LabTimeout)
	for time.Now().Before(deadline) {
		if p := agentPID(o.Lab); p != 0 && p != pid {
			if ok, _ := answers("10.43.0.10:53", "kubernetes.default.svc.cluster.local", 500*time.Millisecond); ok {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r.p, r.err
}

// agentPID is the weft agent in this lab's node-1 (a process in its network namespace whose
// first argument is "agent").
func agentPID(labName string) int {
	out, _ := exec.Command("ip", "netns", "pids", "weft-"+labName+"-node-1").Output()
	for _, f := range strings.Fields(string(out)) {
		cmdline, _ := os.ReadFile("/proc/" + f + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[1] == "agent" {
			var pid int
			fmt.Sscan(f, &pid)
			return pid
		}
	}
	return 0
}

func uptime() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return "loadavg " + string(b)
}
