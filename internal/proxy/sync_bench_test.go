package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/weftnet/weft/internal/nft"
)

var benchServiceCIDRs, benchClusterCIDRs = labServiceCIDRs[:1], labClusterCIDRs[:1]

// syntheticService is the i-th of the benchmarks' services: one TCP port, IPv4, with two to
// four endpoints (the shape of kube-proxy's published sync benchmarks).
func syntheticService(i, endpoints int) []*servicePort {
	sp := &servicePort{namespace: "bench", name: fmt.Sprintf("svc-%d", i), protocol: "tcp", port: 80,
		clusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)})}
	for e := range endpoints {
		ip := netip.AddrFrom4([4]byte{10, 42, byte(i >> 6), byte(i&63)<<2 | byte(e)})
		sp.endpoints = append(sp.endpoints, endpoint{ip: ip, port: 8080})
	}
	sp.allEndpoints = sp.endpoints
	return []*servicePort{sp}
}

func syntheticServices(n int) map[string][]*servicePort {
	out := map[string][]*servicePort{}
	for i := range n {
		out[fmt.Sprintf("bench/svc-%d", i)] = syntheticService(i, 2+i%3)
	}
	return out
}

// discard is a kernel that takes every transaction and holds nothing: what building a sync
// costs without the kernel. Only the first sync of a table meets it.
type discard struct{ nft.Kernel }

func (discard) Run(context.Context, *nft.Tx) error      { return nil }
func (discard) List(context.Context) (nft.Names, error) { return nft.Names{}, nil }

// BenchmarkFullSyncBuild is the cost of building one full sync's transaction, without the kernel.
func BenchmarkFullSyncBuild(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		services := syntheticServices(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			for b.Loop() {
				applyFull(b, tableOf(discard{nft.NewFake(nft.InetFamily, Table)}, services, benchServiceCIDRs, benchClusterCIDRs))
			}
		})
	}
}

// BenchmarkFullSyncKernel applies a full sync to the kernel (in a namespace of its own): the
// time one full sync takes at 1k, 10k and 30k services. written: into a namespace without the
// table (a node's first sync; the table is deleted between runs, untimed); restart: a new
// proxy's first sync over the table a previous one left (an agent restarted), which compares
// and writes nothing. Needs root.
//
//	sudo go test -run XXX -bench SyncKernel -benchtime 3x ./internal/proxy/
func BenchmarkFullSyncKernel(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		services := syntheticServices(n)
		for _, kind := range []string{"written", "restart"} {
			b.Run(fmt.Sprintf("services=%d/%s", n, kind), func(b *testing.B) {
				k := scratchNFT(b, "pxb")
				for b.Loop() {
					tbl := tableOf(k, services, benchServiceCIDRs, benchClusterCIDRs)
					tx, err := tbl.sync(context.Background(), true)
					if err != nil {
						b.Fatal(err)
					}
					if (tx == nil) != (kind == "restart") && b.N > 1 {
						b.Fatalf("%s: sent %d commands", kind, tx.Len())
					}
					if kind == "written" {
						b.StopTimer()
						if err := tbl.nft.Delete(context.Background()); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				}
			})
		}
	}
}

// BenchmarkResyncKernel is the periodic full sync that repairs the table, with nothing to
// repair: the table is in the kernel, and the same services sync again. Alone, nothing else
// in the namespace's nftables moved; with others, another table was written in between (as
// the agent's other features do), so the proxy's table is read back and compared. Needs root.
//
//	sudo go test -run XXX -bench ResyncKernel -benchtime 3x ./internal/proxy/
func BenchmarkResyncKernel(b *testing.B) {
	for _, n := range []int{10000, 30000} {
		services := syntheticServices(n)
		for _, others := range []bool{false, true} {
			b.Run(fmt.Sprintf("services=%d/others=%v", n, others), func(b *testing.B) {
				k := scratchNFT(b, "pxb")
				tbl := tableOf(k, services, benchServiceCIDRs, benchClusterCIDRs)
				applyFull(b, tbl)
				other := otherTable(b, k.path)
				i := 0
				for b.Loop() {
					if others {
						b.StopTimer()
						i++
						other(i)
						b.StartTimer()
					}
					applyFull(b, tbl)
				}
			})
		}
	}
}

// otherTable is another feature's table in the namespace at path: other(i) writes to it.
func otherTable(b *testing.B, path string) func(int) { return otherTableT(b, path) }

func otherTableT(b testing.TB, path string) func(int) {
	k, err := nft.New(nft.InetFamily, "weft-other", path)
	if err != nil {
		b.Fatal(err)
	}
	t := nft.NewTable(k, "")
	return func(i int) {
		c := nft.NewContents()
		c.AddSet(&nft.Set{Name: "s", Type: "inet_service"})
		c.AddElement("s", []string{fmt.Sprint(i % 2)})
		t.Set("o", c)
		if _, err := t.Sync(context.Background(), false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPartialSyncKernel is one change with 10k or 30k services in the kernel: an endpoint
// more or less for one service, or one service added and removed, each sent on its own (as
// element swaps, over netlink).
//
//	sudo go test -run XXX -bench PartialSyncKernel ./internal/proxy/
func BenchmarkPartialSyncKernel(b *testing.B) {
	for _, n := range []int{10000, 30000} {
		services := syntheticServices(n)
		for _, change := range []string{"endpoint", "service"} {
			b.Run(fmt.Sprintf("services=%d/change=%s", n, change), func(b *testing.B) {
				tbl := tableOf(scratchNFT(b, "pxb"), services, benchServiceCIDRs, benchClusterCIDRs)
				applyFull(b, tbl)
				i := 0
				var writing time.Duration // in the kernel, of the whole op
				for b.Loop() {
					i++
					switch change {
					case "endpoint":
						tbl.set("bench/svc-0", serviceContribution(syntheticService(0, 2+i%2), true))
					case "service":
						var ports []*servicePort
						if i%2 == 1 {
							ports = syntheticService(n, 3)
						}
						tbl.set("bench/new", serviceContribution(ports, true))
					}
					start := time.Now()
					if applyChanges(b, tbl) == "" {
						b.Fatal("the change sent nothing")
					}
					writing += time.Since(start)
				}
				b.ReportMetric(float64(writing.Microseconds())/float64(b.N)/1000, "write-ms/op")
			})
		}
	}
}

// BenchmarkListNames is what a full sync in place does first: list the table's chains, sets
// and maps by name (over netlink).
//
//	sudo go test -run XXX -bench ListNames -benchtime 3x ./internal/proxy/
func BenchmarkListNames(b *testing.B) {
	for _, n := range []int{10000, 30000} {
		services := syntheticServices(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			k := scratchNFT(b, "pxb")
			applyFull(b, tableOf(k, services, benchServiceCIDRs, benchClusterCIDRs))
			for b.Loop() {
				have, err := k.List(context.Background())
				if err != nil || len(have.Chains) == 0 {
					b.Fatalf("listed %d chains: %v", len(have.Chains), err)
				}
			}
		})
	}
}
