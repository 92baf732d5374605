// Command proxy compares weft's service proxy with upstream kube-proxy (v1.37.2, nftables and
// iptables modes) in one run: the first full sync and peak memory, the sync that applies one
// service or endpoint change, and connections through a ClusterIP. Each proxier runs alone in a
// child process (this command again) inside fresh network namespaces that the command creates
// and removes, fed the same synthetic Services and EndpointSlices from a fake clientset.
//
//	sudo go run ./bench/proxy -services 1,1000,10000,30000
//
// It needs root and leaves nothing behind; it is run by hand, never by CI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childEnv carries "proxy:services" to the copy of this command that runs one proxier.
const childEnv = "WEFT_PROXY_BENCH_CHILD"

var allProxies = []string{"weft", "nftables", "iptables"}

type options struct {
	runs     int
	services []int
	proxies  []string
	// changes is how many times each kind of change is applied and timed.
	changes int
	// connect is how long connections are made through the ClusterIP, per proxier and size.
	connect time.Duration
	// minSyncPeriod is kube-proxy's --min-sync-period and weft's MinSyncInterval; syncPeriod
	// is kube-proxy's sync period and weft's resync (long, so no periodic sync falls in a
	// measurement).
	minSyncPeriod, syncPeriod time.Duration
	// timeout bounds the wait for one sync.
	timeout time.Duration
	logDir  string
	// cpuProfile is a directory where each child writes its CPU profile ("" for none).
	cpuProfile string
	// iptables is the backend kube-proxy's iptables mode uses: nft or legacy.
	iptables string
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.Func("services", "service counts, comma-separated (default 1,1000,10000,30000)", func(s string) error {
		o.services = nil
		for f := range strings.SplitSeq(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > maxServices {
				return fmt.Errorf("service count %q: want 1 to %d", f, maxServices)
			}
			o.services = append(o.services, n)
		}
		return nil
	})
	fs.Func("proxies", "proxies to run, comma-separated: weft, nftables, iptables (default all)", func(s string) error {
		o.proxies = nil
		for f := range strings.SplitSeq(s, ",") {
			if !slices.Contains(allProxies, f) {
				return fmt.Errorf("proxy %q: want one of %s", f, strings.Join(allProxies, ", "))
			}
			o.proxies = append(o.proxies, f)
		}
		return nil
	})
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "directory where each proxier's run writes its CPU profile, <proxy>-<services>-<pid>.pprof (go tool pprof reads it)")
	fs.IntVar(&o.runs, "runs", 5, "runs of every proxier and size, interleaved (a run of each proxier, then the next round); figures are the median with the minimum and maximum, ratios the median and the worst")
	fs.IntVar(&o.changes, "changes", 5, "repetitions of each change (service add, endpoint add, endpoint remove)")
	fs.DurationVar(&o.connect, "connect", 3*time.Second, "connect test length per proxy and size (0: skip)")
	fs.DurationVar(&o.minSyncPeriod, "min-sync-period", time.Second, "kube-proxy's --min-sync-period and weft's minimum sync interval")
	fs.DurationVar(&o.syncPeriod, "sync-period", time.Hour, "kube-proxy's sync period and weft's resync")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "longest wait for one sync")
	fs.StringVar(&o.iptables, "iptables", "legacy", "iptables backend for kube-proxy's iptables mode: legacy or nft")
	fs.StringVar(&o.logDir, "log-dir", "", "keep each proxier's log here (default: a temporary directory, removed on success)")
}

func (o *options) defaults() {
	if o.services == nil {
		o.services = []int{1, 1000, 10000, 30000}
	}
	if o.proxies == nil {
		o.proxies = allProxies
	}
}

func (o *options) validate() error {
	var errs []error
	if o.runs < 1 {
		errs = append(errs, fmt.Errorf("-runs %d: want at least 1", o.runs))
	}
	if o.changes < 1 {
		errs = append(errs, fmt.Errorf("-changes %d: want at least 1", o.changes))
	}
	if o.minSyncPeriod < 0 || o.syncPeriod <= o.minSyncPeriod {
		errs = append(errs, fmt.Errorf("-min-sync-period %s, -sync-period %s: want 0 <= min < sync period", o.minSyncPeriod, o.syncPeriod))
	}
	if o.iptables != "nft" && o.iptables != "legacy" {
		errs = append(errs, fmt.Errorf("-iptables %q: want nft or legacy", o.iptables))
	}
	if o.connect < 0 {
		errs = append(errs, fmt.Errorf("-connect %s: want 0 or more", o.connect))
	}
	return errors.Join(errs...)
}

// quiet is how long no sync must happen before a change counts as fully applied: longer than
// kube-proxy's rate limit, which may hold back a second sync that far.
func (o *options) quiet() time.Duration { return o.minSyncPeriod + 500*time.Millisecond }

func main() {
	opts := options{}
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	opts.addFlags(fs)
	_ = fs.Parse(os.Args[1:])
	opts.defaults()
	if err := opts.validate(); err != nil {
		fail(err)
	}
	if os.Geteuid() != 0 {
		fail(errors.New("needs root (sudo): it creates network namespaces, veths and nftables/iptables rules inside them"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if c := os.Getenv(childEnv); c != "" {
		err = runChild(ctx, opts, c)
	} else {
		err = runParent(ctx, opts)
	}
	if err != nil {
		stop()
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/proxy:", err)
	os.Exit(1)
}
