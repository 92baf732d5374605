package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// The child runs one proxier inside the namespace the parent made, reports on stdout in lines
// "<tag> <json>", and stays up (so the parent can connect through its rules) until its stdin
// closes.
const (
	tagReady = "READY"
	tagDone  = "DONE"
)

var changeKinds = []string{"service-add", "endpoint-add", "endpoint-remove"}

type childResult struct {
	Proxy    string
	Services int
	// Start is every sync from start until the proxier went quiet; the first is the full sync.
	Start      syncs
	Changes    map[string][]syncs
	BaseRSSKiB int64
}

type childDone struct {
	VmHWMKiB int64
}

// BaseRSSKiB in childResult is the resident set once the fake clientset holds the objects,
// before any proxier exists: the part of every peak that stands for the API server.

func runChild(ctx context.Context, opts options, spec string) error {
	name, count, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(count)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", childEnv, spec, err)
	}
	// The fake clientset stands for the API server: both kinds of proxier list and watch it
	// through informers, so its memory weighs the same on each.
	client := fake.NewSimpleClientset(cluster(n)...)
	if opts.cpuProfile != "" {
		stop, err := startCPUProfile(filepath.Join(opts.cpuProfile, fmt.Sprintf("%s-%d-%d.pprof", name, n, os.Getpid())))
		if err != nil {
			return err
		}
		defer stop()
	}
	base, err := procStatus("VmRSS")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errc := make(chan error, 1)
	go func() {
		select {
		case err := <-errc:
			cancel(err)
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	var src syncSource
	switch name {
	case "weft":
		src, err = startWeft(ctx, opts, client, errc)
	default:
		src, err = startKubeProxy(ctx, opts, name, client)
	}
	if err != nil {
		return err
	}
	res := childResult{Proxy: name, Services: n, Changes: map[string][]syncs{}, BaseRSSKiB: base}
	if res.Start, err = src.waitSyncs(ctx, reading{}, start, opts.timeout, opts.quiet()); err != nil {
		return fmt.Errorf("%s, first sync of %d services: %w", name, n, errors.Join(err, context.Cause(ctx)))
	}
	full := res.Start.Each[0].Seconds
	fmt.Fprintf(os.Stderr, "bench: %s: first sync of %d services took %.3fs\n", name, n, full)
	// A slice created ahead of its Service may or may not cause a sync; wait for one long
	// enough that a slow one is not taken for the Service's.
	prepTimeout := opts.quiet() + time.Duration(2*full*float64(time.Second))
	for r := range opts.changes {
		i, j := n+r, (n/2+7*r)%n
		steps := []struct {
			kind string
			prep func() error
			do   func() error
		}{
			{"service-add", func() error { return createSlice(ctx, client, i, endpointCount(i)) },
				func() error { return createService(ctx, client, i) }},
			{"endpoint-add", nil, func() error { return updateSlice(ctx, client, j, endpointCount(j)+1) }},
			{"endpoint-remove", nil, func() error { return updateSlice(ctx, client, j, endpointCount(j)) }},
		}
		for _, st := range steps {
			if st.prep != nil {
				before, t, err := readNow(src)
				if err != nil {
					return err
				}
				if err := st.prep(); err != nil {
					return err
				}
				if _, err := src.waitSyncs(ctx, before, t, prepTimeout, opts.quiet()); err != nil && !errors.Is(err, errNoSync) {
					return err
				}
			}
			before, t, err := readNow(src)
			if err != nil {
				return err
			}
			if err := st.do(); err != nil {
				return err
			}
			s, err := src.waitSyncs(ctx, before, t, opts.timeout, opts.quiet())
			if err != nil {
				return fmt.Errorf("%s, %s at %d services: %w", name, st.kind, n, errors.Join(err, context.Cause(ctx)))
			}
			res.Changes[st.kind] = append(res.Changes[st.kind], s)
		}
	}
	if err := report(tagReady, res); err != nil {
		return err
	}
	// The parent connects through the rules now; it closes stdin when done.
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	hwm, err := procStatus("VmHWM")
	if err != nil {
		return err
	}
	return errors.Join(report(tagDone, childDone{VmHWMKiB: hwm}), context.Cause(ctx))
}

func readNow(src syncSource) (reading, time.Time, error) {
	r, err := src.read()
	return r, time.Now(), err
}

func createService(ctx context.Context, c kubernetes.Interface, i int) error {
	_, err := c.CoreV1().Services(benchNS).Create(ctx, stamp(service(i)), metav1.CreateOptions{})
	return err
}

func createSlice(ctx context.Context, c kubernetes.Interface, i, k int) error {
	_, err := c.DiscoveryV1().EndpointSlices(benchNS).Create(ctx, stamp(endpointSlice(i, k)), metav1.CreateOptions{})
	return err
}

func updateSlice(ctx context.Context, c kubernetes.Interface, i, k int) error {
	_, err := c.DiscoveryV1().EndpointSlices(benchNS).Update(ctx, stamp(endpointSlice(i, k)), metav1.UpdateOptions{})
	return err
}

func report(tag string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s %s\n", tag, b)
	return err
}

// procStatus reads a size in KiB from /proc/self/status. VmHWM is this process's peak resident
// set; the parent also gets ru_maxrss from wait4, the larger of this and the peak of any program
// the process ran (nft, iptables-restore).
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.Join(fmt.Errorf("no %s in /proc/self/status", field), sc.Err())
}

// startCPUProfile profiles the child into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
