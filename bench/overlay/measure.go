package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// path is one way from a client namespace to a server address in another namespace.
type path struct {
	phase, name    string
	client, server string // network namespace files: /run/netns/... or /proc/PID/ns/net
	dst            string
	ref            string // path of the same phase that this one is compared with
	goal           float64
	prepare        func(context.Context) error // switches shared namespaces to this path
}

// metric is one kind of measurement: TCP throughput, request/response, connect+request/response.
type metric struct {
	name, unit string
	scale      float64
	prec       int // decimals worth printing
	measure    func(ctx context.Context, o options, p path) (float64, error)
}

var metrics = []metric{
	{"tcp", "Gbit/s", 1e9, 2, iperf},
	{"rr", "trans/s", 1, 0, func(ctx context.Context, o options, p path) (float64, error) { return rr(ctx, o, p, false) }},
	{"crr", "conn/s", 1, 0, func(ctx context.Context, o options, p path) (float64, error) { return rr(ctx, o, p, true) }},
}

// measureRounds measures every metric on every path, rounds times. Within a round the paths
// take turns metric by metric, so that a slow spell of the machine weighs on all of them alike,
// and every other round in reverse order, so that a trend across a round does too.
func measureRounds(ctx context.Context, o options, res *results, paths []path) error {
	for r := 0; r < o.rounds; r++ {
		order := slices.Clone(paths)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, m := range metrics {
			for _, p := range order {
				if p.prepare != nil {
					if err := p.prepare(ctx); err != nil {
						return err
					}
				}
				v, err := m.measure(ctx, o, p)
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				if err != nil {
					return fmt.Errorf("%s %s, round %d: %w", p.name, m.name, r+1, err)
				}
				res.add(p, m, r, v)
				fmt.Fprintf(os.Stderr, "  round %d  %-4s %-34s %10.*f %s\n", r+1, m.name, p.name, m.prec, v/m.scale, m.unit)
			}
		}
	}
	return nil
}

// inNS runs argv inside the network namespace at nsPath. It dies with this command, so no
// server is left behind by a crash or an interrupt.
func inNS(ctx context.Context, nsPath string, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + nsPath, "--"}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	return cmd
}

// startServer starts a server and waits until it prints a line containing ready.
func startServer(ctx context.Context, cmd *exec.Cmd, ready string) (stop func(), err error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), ready) {
			go func() { // keep the pipe drained
				for sc.Scan() {
				}
			}()
			return stop, nil
		}
	}
	stop()
	return nil, fmt.Errorf("%s exited before it was ready", cmd.Args)
}

const serverPort = "5201"

// iperf runs one iperf3 TCP stream from the client namespace to a server in the other, and
// returns what the receiver counted, in bit/s. The first second (slow start) is left out.
func iperf(ctx context.Context, o options, p path) (float64, error) {
	stop, err := startServer(ctx, inNS(ctx, p.server, "iperf3", "-s", "-1", "-p", serverPort, "--forceflush"), "Server listening")
	if err != nil {
		return 0, err
	}
	defer stop()
	secs := strconv.Itoa(int(o.duration.Round(time.Second) / time.Second))
	cmd := inNS(ctx, p.client, "iperf3", "-c", p.dst, "-p", serverPort, "-t", secs, "-O", "1", "-J")
	cmd.Stderr = nil
	out, err := cmd.Output()
	var report struct {
		Error string
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		}
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil || report.Error != "" || err != nil {
		return 0, fmt.Errorf("iperf3 -c %s: %v %s %v", p.dst, err, report.Error, jerr)
	}
	return report.End.SumReceived.BitsPerSecond, nil
}

// rr runs this command's own request/response server and client in the two namespaces.
func rr(ctx context.Context, o options, p path, connect bool) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	size := strconv.Itoa(o.rrSize)
	server := []string{self, "rr-server", "-port", serverPort, "-size", size}
	client := []string{self, "rr-client", "-addr", p.dst + ":" + serverPort, "-size", size, "-duration", o.duration.String()}
	if connect {
		server, client = append(server, "-connect"), append(client, "-connect")
	}
	stop, err := startServer(ctx, inNS(ctx, p.server, server...), "ready")
	if err != nil {
		return 0, err
	}
	defer stop()
	out, err := inNS(ctx, p.client, client...).Output()
	if err != nil {
		return 0, fmt.Errorf("rr-client to %s: %w", p.dst, err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}
