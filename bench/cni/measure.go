package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/containernetworking/cni/libcni"

	"github.com/weftnet/weft/bench/internal/stats"
)

// network is one plugin chain under test.
type network struct {
	label string
	list  *libcni.NetworkConfigList
}

// networks returns weft-cni's and the reference's configuration for one address family
// setting, each with its own bridge and ranges in the same node.
func networks(work, family string) (weft, ref network, err error) {
	v4, v6 := []string{"10.42.0.0/24"}, []string{"2001:cafe:42::/64"}
	rv4, rv6 := "10.44.0.0/24", "2001:cafe:44::/64"
	var cidrs []string
	var ranges [][]map[string]string
	var routes []map[string]string
	if family == "ipv4" || family == "dual" {
		cidrs = append(cidrs, v4...)
		ranges = append(ranges, []map[string]string{{"subnet": rv4}})
		routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
	}
	if family == "ipv6" || family == "dual" {
		cidrs = append(cidrs, v6...)
		ranges = append(ranges, []map[string]string{{"subnet": rv6}})
		routes = append(routes, map[string]string{"dst": "::/0"})
	}
	if cidrs == nil {
		return weft, ref, fmt.Errorf("unknown family %q: use ipv4, ipv6 or dual", family)
	}
	weftConf := map[string]any{"type": "weft-cni", "bridge": "weft0", "mtu": 1500, "hairpinMode": true,
		"podCIDRs": cidrs, "dataDir": filepath.Join(work, "weft-ipam", family)}
	refConf := map[string]any{"type": "bridge", "bridge": "cni0", "mtu": 1500, "hairpinMode": true, "isGateway": true,
		"ipam": map[string]any{"type": "host-local", "ranges": ranges, "routes": routes, "dataDir": filepath.Join(work, "host-local", family)}}
	if weft.list, err = confList("weft-"+family, weftConf); err != nil {
		return
	}
	ref.list, err = confList("ref-"+family, refConf)
	weft.label, ref.label = "weft-cni", "bridge+host-local"
	return
}

func confList(name string, plugin map[string]any) (*libcni.NetworkConfigList, error) {
	data, err := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": name, "plugins": []any{plugin}})
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(data)
}

// latencies are the ADD and DEL times of one measurement.
type latencies struct{ add, del []time.Duration }

// measure attaches and detaches n pods through libcni, with parallel workers, each worker
// owning one pod namespace that it attaches and detaches again and again.
func measure(cni *libcni.CNIConfig, net network, pods []*holder, n, parallel int, round string) (latencies, error) {
	var (
		mu   sync.Mutex
		lat  latencies
		next atomic.Int64
		errs = make(chan error, parallel)
		wg   sync.WaitGroup
	)
	for w := range parallel {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				rt := &libcni.RuntimeConf{ContainerID: fmt.Sprintf("%s-%s-%d", net.list.Name, round, i), NetNS: pods[w].path, IfName: "eth0"}
				start := time.Now()
				if _, err := cni.AddNetworkList(context.Background(), net.list, rt); err != nil {
					errs <- fmt.Errorf("%s ADD: %w", net.label, err)
					return
				}
				add := time.Since(start)
				start = time.Now()
				if err := cni.DelNetworkList(context.Background(), net.list, rt); err != nil {
					errs <- fmt.Errorf("%s DEL: %w", net.label, err)
					return
				}
				del := time.Since(start)
				mu.Lock()
				lat.add = append(lat.add, add)
				lat.del = append(lat.del, del)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return lat, err
	}
	return lat, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(d))
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// runInside runs in the node namespace: it makes the pod namespaces, measures, and prints
// the table.
func runInside(opts options) error {
	work := os.Getenv(insideEnv)
	var levels []int
	for _, f := range strings.Split(opts.parallel, ",") {
		p, err := strconv.Atoi(f)
		if err != nil || p < 1 {
			return fmt.Errorf("--parallel %q: want positive numbers", opts.parallel)
		}
		levels = append(levels, p)
	}
	pods := make([]*holder, slices.Max(levels))
	for i := range pods {
		h, err := holdNamespace()
		if err != nil {
			return err
		}
		defer h.kill()
		pods[i] = h
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{filepath.Join(work, "bin")}, filepath.Join(work, "cache"), nil)

	fmt.Printf("%d ADD+DEL per cell and run, %d runs, through libcni; figures: median [min..max] of the runs' percentiles;\n", opts.n, opts.runs)
	fmt.Printf("ratio = weft-cni / bridge+host-local run by run, median (worst) (below 1: weft-cni is faster)\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "family\top\tpar\tweft-cni p50\tp99\treference p50\tp99\tratio p50\tratio p99")
	for _, family := range strings.Split(opts.families, ",") {
		weft, ref, err := networks(work, family)
		if err != nil {
			return err
		}
		for _, par := range levels {
			for _, net := range []network{weft, ref} {
				// One warm-up attachment creates the bridge and fills the page cache.
				if _, err := measure(cni, net, pods, 1, 1, "warm"); err != nil {
					return err
				}
			}
			// runs[op][figure] holds one value per run: weft p50, weft p99, reference p50, p99.
			runs := map[string]*[4][]float64{"ADD": {}, "DEL": {}}
			for run := range opts.runs {
				res, err := interleaved(cni, weft, ref, pods, opts.n, par, run)
				if err != nil {
					return err
				}
				for op, lat := range map[string][2][]time.Duration{"ADD": {res[0].add, res[1].add}, "DEL": {res[0].del, res[1].del}} {
					for i, f := range []float64{seconds(percentile(lat[0], .5)), seconds(percentile(lat[0], .99)), seconds(percentile(lat[1], .5)), seconds(percentile(lat[1], .99))} {
						runs[op][i] = append(runs[op][i], f)
					}
				}
			}
			for _, op := range []string{"ADD", "DEL"} {
				r := runs[op]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", family, op, par,
					stats.Of(r[0]).Format(ms), stats.Of(r[1]).Format(ms), stats.Of(r[2]).Format(ms), stats.Of(r[3]).Format(ms),
					stats.Ratios(r[0], r[2], false).Format(), stats.Ratios(r[1], r[3], false).Format())
			}
		}
	}
	return tw.Flush()
}

// interleaved measures n attachments of each plugin, taking turns in small chunks so that a
// busy moment of the machine weighs on both alike.
func interleaved(cni *libcni.CNIConfig, weft, ref network, pods []*holder, n, par, run int) ([2]latencies, error) {
	var res [2]latencies
	chunk := max(2*par, 10)
	for done, round := 0, 0; done < n; done, round = done+chunk, round+1 {
		size := min(chunk, n-done)
		for i, net := range []network{weft, ref} {
			lat, err := measure(cni, net, pods, size, par, fmt.Sprintf("p%d-run%d-r%d", par, run, round))
			if err != nil {
				return res, err
			}
			res[i].add = append(res[i].add, lat.add...)
			res[i].del = append(res[i].del, lat.del...)
		}
	}
	return res, nil
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func ms(s float64) string { return fmt.Sprintf("%.1fms", s*1000) }
