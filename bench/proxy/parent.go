package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weftnet/weft/internal/netns"
)

// runResult is one proxier at one size.
type runResult struct {
	childResult
	VmHWMKiB  int64 // the proxier process's own peak
	MaxRSSKiB int64 // wait4's ru_maxrss: that or the peak of a program it ran, whichever is larger
	Connect   *connectResult
	Err       error
}

type runKey struct {
	proxy    string
	services int
	run      int
}

func runParent(ctx context.Context, opts options) error {
	if err := sweepStale(); err != nil {
		return fmt.Errorf("remove namespaces of an earlier run: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logDir, keepLogs := opts.logDir, opts.logDir != ""
	if !keepLogs {
		if logDir, err = os.MkdirTemp("", "weft-proxy-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	results := map[runKey]*runResult{}
	failed := false
	// Rounds interleave the proxiers, so a slow spell of the machine falls on all of them, and
	// alternate their order, so none always runs first.
	for run := range opts.runs {
		for _, n := range opts.services {
			for _, p := range roundOrder(opts.proxies, run) {
				fmt.Fprintf(os.Stderr, "bench: run %d/%d: %s with %d services ...\n", run+1, opts.runs, p, n)
				t := time.Now()
				r := runOne(ctx, opts, self, logDir, p, n, run)
				results[runKey{p, n, run}] = r
				if r.Err != nil {
					failed = true
					fmt.Fprintf(os.Stderr, "bench: %s with %d services failed: %v\n", p, n, r.Err)
					if ctx.Err() != nil {
						fmt.Fprintf(os.Stderr, "bench: stopped; proxier logs: %s\n", logDir)
						return ctx.Err()
					}
					continue
				}
				fmt.Fprintf(os.Stderr, "bench: %s with %d services done in %s\n", p, n, time.Since(t).Round(time.Second))
			}
		}
	}
	printTables(os.Stdout, opts, results)
	if failed || keepLogs {
		fmt.Printf("\nproxier logs: %s\n", logDir)
	} else {
		os.RemoveAll(logDir)
	}
	return nil
}

// roundOrder is the proxiers' order in a round: as given, reversed every other round.
func roundOrder(proxies []string, run int) []string {
	if run%2 == 0 {
		return proxies
	}
	r := slices.Clone(proxies)
	slices.Reverse(r)
	return r
}

// runOne runs one proxier in fresh namespaces and removes them, whatever happens.
func runOne(ctx context.Context, opts options, self, logDir, proxy string, n, run int) (r *runResult) {
	r = &runResult{}
	bn, err := newBenchNet(ctx, n)
	defer func() { r.Err = errors.Join(r.Err, bn.close()) }()
	if err != nil {
		r.Err = err
		return r
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d-run%d.log", proxy, n, run+1))
	logf, err := os.Create(logPath)
	if err != nil {
		r.Err = err
		return r
	}
	defer logf.Close()
	// nsenter execs this command in place, so wait4 on its pid covers the proxier's whole life.
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + netns.Path(bn.node), "--", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+proxy+":"+strconv.Itoa(n))
	if proxy == "iptables" {
		path, err := iptablesPath(opts.iptables, logDir)
		if err != nil {
			r.Err = err
			return r
		}
		cmd.Env = append(cmd.Env, "PATH="+path)
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		r.Err = err
		return r
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.Err = err
		return r
	}
	if err := cmd.Start(); err != nil {
		r.Err = fmt.Errorf("start %s: %w", proxy, err)
		return r
	}
	r.Err = talk(ctx, opts, bn, stdin, stdout, r)
	stdin.Close()
	werr := cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKiB = ru.Maxrss
	}
	if werr != nil {
		r.Err = errors.Join(r.Err, fmt.Errorf("%s exited: %w; %s", proxy, werr, logTail(logPath)))
	}
	return r
}

// talk reads the child's report, connects through its rules while it waits, then lets it end.
func talk(ctx context.Context, opts options, bn *benchNet, stdin io.Closer, stdout io.Reader, r *runResult) error {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		tag, body, _ := strings.Cut(sc.Text(), " ")
		switch tag {
		case tagReady:
			if err := json.Unmarshal([]byte(body), &r.childResult); err != nil {
				return fmt.Errorf("child report: %w", err)
			}
			if opts.connect > 0 {
				var dsts []netip.AddrPort
				for _, i := range connectTargets(r.Services) {
					dsts = append(dsts, netip.AddrPortFrom(clusterIP(i), servicePort))
				}
				c, err := connectTest(ctx, netns.Path(bn.node), dsts, opts.connect)
				if err != nil {
					return fmt.Errorf("connect test: %w", err)
				}
				if bn.accepted.Load() == 0 {
					return errors.New("connect test: connections succeeded but none reached the listener")
				}
				r.Connect = &c
			}
			stdin.Close()
		case tagDone:
			var d childDone
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				return fmt.Errorf("child report: %w", err)
			}
			r.VmHWMKiB = d.VmHWMKiB
			return nil
		}
	}
	return errors.Join(errors.New("child ended without reporting"), sc.Err())
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "log " + path + ":\n" + strings.Join(lines, "\n")
}
