package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// server is one DNS server under test, started fresh each round, pinned to the server core.
type server struct {
	name string
	addr string // host:port dnsperf and the timing client ask
	cmd  *exec.Cmd

	mu       sync.Mutex
	peakAnon float64 // MiB, sampled every 100 ms while it runs
	done     chan struct{}
}

const (
	weftAddr    = "127.0.0.21:53"
	corednsAddr = "127.0.0.22:5302"
	corednsPort = "5302"
)

// corefile is the peer's configuration: the kubernetes plugin as a cluster's kube-dns runs it,
// a 30 s cache, forwarding to the node's resolver. CoreDNS here has no bind plugin: it listens
// on every address of the node at its own port, and is asked at 127.0.0.22.
func corefile(o options) string {
	return fmt.Sprintf(`.:%s {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    forward . %s
    cache 30
}
`, corednsPort, o.Kubeconfig, o.Upstream)
}

func startWeft(o options, round int) (*server, error) {
	return start(o, "weft", weftAddr, round, o.Weft, "internal", "dns-server", "--kubeconfig", o.Kubeconfig,
		"--dns-address", "127.0.0.21", "--dns-upstream", o.Upstream)
}

func startCoreDNS(o options, round int) (*server, error) {
	conf := filepath.Join(o.Work, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile(o)), 0o644); err != nil {
		return nil, err
	}
	return start(o, "CoreDNS", corednsAddr, round, o.CoreDNS, "-conf", conf)
}

func start(o options, name, addr string, round int, prog string, args ...string) (*server, error) {
	logf, err := os.Create(filepath.Join(o.Work, fmt.Sprintf("%s-%d.log", strings.ToLower(name), round)))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("nice", append([]string{"-n", strconv.Itoa(o.Nice), "taskset", "-c", strconv.Itoa(o.ServerCPU), prog}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &server{name: name, addr: addr, cmd: cmd, done: make(chan struct{})}
	go s.sample()
	return s, nil
}

// sample keeps the peak of the server's anonymous resident memory (its heap and stacks: what
// grows with the cluster; the binary's pages are shared and counted apart).
func (s *server) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if m, err := readMemory(s.pid()); err == nil {
				s.mu.Lock()
				s.peakAnon = max(s.peakAnon, m.anon)
				s.mu.Unlock()
			}
		}
	}
}

func (s *server) peak() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakAnon
}

func (s *server) stop() {
	close(s.done)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// waitAnswers waits until the server answers name with an address.
func (s *server) waitAnswers(ctx context.Context, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok, _ := answers(s.addr, name, 200*time.Millisecond); ok {
			return nil
		}
		if s.cmd.ProcessState != nil {
			return fmt.Errorf("%s exited", s.name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer %s within %s (log in the work directory)", s.name, name, timeout)
}

// answers asks once for name's A record: true when the answer holds one.
func answers(addr, name string, timeout time.Duration) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := dns.Client{Timeout: timeout}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return false, err
	}
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.A); ok {
			return true, nil
		}
	}
	return false, nil
}

// memory is a process's resident set, its anonymous part and its proportional set, in MiB.
type memory struct{ rss, anon, pss float64 }

func readMemory(pid int) (memory, error) {
	var m memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				m.rss = kb / 1024
			case "RssAnon:":
				m.anon = kb / 1024
			}
		}
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(rollup), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			m.pss = kb / 1024
		}
	}
	return m, nil
}

// pid is the server's own process: nice and taskset exec it, so it is the command's.
func (s *server) pid() int { return s.cmd.Process.Pid }

// cpuSeconds is the CPU time (user and system) a process has used so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: fields count from after its ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks: USER_HZ is 100 on Linux
}
