// Command dns measures weft's cluster DNS side by side with CoreDNS (built from its Go module
// in test/coredns: kubernetes, cache and forward plugins), both following the same API server
// of a 1-node lab this command brings up, both pinned to the same core, both asked by dnsperf
// pinned to another: queries per second and latency for a mix of cluster and forwarded names,
// memory at --services Services, the time from a Service's creation to its name answering, and
// the queries lost while the node's agent restarts under load. Configurations take turns within
// each round; every figure and ratio is printed as min, median and max over rounds.
//
//	make build && sudo go run ./bench/dns --weft bin/weft
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// options travel from the outer command (host side: lab, builds) to the inner one (inside the
// node's network namespace: servers, load, API writes) as JSON in innerEnv.
type options struct {
	Weft, CoreDNS, Lab, DataDir string
	APIPort                     int
	Rounds, Services            int
	NewServices, Restarts       int
	Duration                    time.Duration
	ServerCPU, ClientCPU        int
	Nice                        int
	Upstream                    string
	Kubeconfig                  string // admin kubeconfig that reaches the API server from the node
	Work                        string // temporary directory: query files, Corefile, logs
	LabTimeout                  time.Duration
	KeepLab                     bool
}

const innerEnv = "WEFT_BENCH_DNS_INNER"

func main() {
	if s := os.Getenv(innerEnv); s != "" {
		var o options
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			fail(err)
		}
		if err := inner(o); err != nil {
			fail(err)
		}
		return
	}
	o := options{}
	flag.StringVar(&o.Weft, "weft", "bin/weft", "weft binary (with `weft internal dns-server`)")
	flag.StringVar(&o.CoreDNS, "coredns", "", "CoreDNS binary (default: built from test/coredns into a temporary directory)")
	flag.StringVar(&o.Lab, "lab", "dnsbench", "name of the 1-node lab this command brings up and down")
	flag.StringVar(&o.DataDir, "data-dir", "", "lab data directory (default: a temporary one; with --keep-lab /var/lib/weft)")
	flag.BoolVar(&o.KeepLab, "keep-lab", false, "leave the lab (and its Services) up at the end, and use it if it is up already: for runs one after another")
	flag.IntVar(&o.APIPort, "api-port", 6470, "loopback API port of the lab")
	flag.IntVar(&o.Rounds, "rounds", 3, "rounds; weft and CoreDNS take turns within each")
	flag.IntVar(&o.Services, "services", 10000, "Services in the cluster while measuring")
	flag.IntVar(&o.NewServices, "new-services", 30, "Services created and timed to their first answer, per round")
	flag.IntVar(&o.Restarts, "restarts", 3, "agent restarts under load (0: none)")
	flag.DurationVar(&o.Duration, "duration", 8*time.Second, "length of each dnsperf run (whole seconds)")
	flag.IntVar(&o.ServerCPU, "server-cpu", 1, "the core both DNS servers are pinned to")
	flag.IntVar(&o.ClientCPU, "client-cpu", 0, "the core dnsperf and the timing client are pinned to")
	flag.IntVar(&o.Nice, "nice", -10, "nice value of both servers and dnsperf, the same for all, so the machine's other jobs weigh less on the latencies (0: as they come)")
	flag.StringVar(&o.Upstream, "upstream", "192.168.1.1", "the node's resolver (the lab router), where both servers forward other names")
	flag.DurationVar(&o.LabTimeout, "lab-timeout", 5*time.Minute, "longest wait for the lab or a server")
	flag.Parse()
	if os.Geteuid() != 0 {
		fail(errors.New("run as root: the lab and the node's namespace need it"))
	}
	if o.Rounds < 1 || o.Services < 1 || o.Duration < time.Second {
		fail(errors.New("--rounds and --services must be at least 1, --duration at least 1s"))
	}
	if err := outer(o); err != nil {
		fail(err)
	}
}

func outer(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	work, err := os.MkdirTemp("", "weft-bench-dns-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	o.Work = work
	if o.Weft, err = filepath.Abs(o.Weft); err != nil {
		return err
	}
	if o.CoreDNS == "" {
		o.CoreDNS = filepath.Join(work, "coredns")
		fmt.Println("building CoreDNS from test/coredns ...")
		if out, err := exec.CommandContext(ctx, "go", "build", "-C", "test/coredns", "-o", o.CoreDNS, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("build CoreDNS (run from the repository's root): %w\n%s", err, out)
		}
	}
	switch {
	case o.DataDir != "":
	case o.KeepLab:
		o.DataDir = "/var/lib/weft"
	default:
		o.DataDir = filepath.Join(work, "lab")
	}
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	fmt.Printf("bench/dns %s, commit %s", time.Now().UTC().Format(time.RFC3339), commit)
	admin := filepath.Join(o.DataDir, "labs", o.Lab, "control-plane", "admin.kubeconfig")
	if !o.KeepLab {
		defer labDown(o)
	}
	if _, err := os.Stat("/run/netns/weft-" + o.Lab + "-node-1"); err == nil && o.KeepLab {
		fmt.Printf("using the running lab %s\n", o.Lab)
	} else {
		fmt.Printf("weft lab up --name %s (1 node) ...\n", o.Lab)
		up := exec.CommandContext(ctx, o.Weft, "lab", "up", "--name", o.Lab, "--data-dir", o.DataDir, "--nodes", "1",
			"--https-listen-port", strconv.Itoa(o.APIPort))
		if out, err := up.CombinedOutput(); err != nil {
			return fmt.Errorf("weft lab up: %w\n%s", err, out)
		}
	}
	if o.Kubeconfig, err = nodeKubeconfig(admin, work); err != nil {
		return err
	}
	js, err := json.Marshal(o)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Only the network namespace is entered: the host's files (binaries, the work directory)
	// stay visible.
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/weft-"+o.Lab+"-node-1", self)
	cmd.Env = append(os.Environ(), innerEnv+"="+string(js))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd.Run()
}

func labDown(o options) {
	out, err := exec.Command(o.Weft, "lab", "down", "--name", o.Lab, "--data-dir", o.DataDir).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/dns: weft lab down: %v\n%s", err, out)
	}
}

// nodeKubeconfig is the admin kubeconfig pointed at the API server's LAN address, which the
// node reaches (the host's loopback port is not in the node's namespace).
func nodeKubeconfig(admin, dir string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		return "", fmt.Errorf("admin kubeconfig: %w", err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://192.168.1.2:6443"
	}
	out := filepath.Join(dir, "node-admin.kubeconfig")
	return out, clientcmd.WriteToFile(*cfg, out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/dns:", err)
	os.Exit(1)
}
