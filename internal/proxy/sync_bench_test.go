package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"sigs.k8s.io/knftables"
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

// BenchmarkFullSyncBuild is the cost of building one full sync's transaction, without the kernel.
func BenchmarkFullSyncBuild(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		services := syntheticServices(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			fake := knftables.NewFake(knftables.InetFamily, Table)
			for b.Loop() {
				tbl := tableOf(services, benchServiceCIDRs, benchClusterCIDRs)
				tx := fake.NewTransaction()
				writeFull(tx, newSkeleton(), tbl, present{}, false, true)
			}
		})
	}
}

// BenchmarkFullSyncKernel applies a full sync to the kernel (nft in a namespace of its own):
// the time one full sync takes at 1k, 10k and 30k services. Needs root.
//
//	sudo go test -run XXX -bench SyncKernel -benchtime 3x ./internal/proxy/
func BenchmarkFullSyncKernel(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		services := syntheticServices(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			nft := scratchNFT(b, "pxb")
			for b.Loop() {
				applyFull(b, nft, tableOf(services, benchServiceCIDRs, benchClusterCIDRs))
			}
		})
	}
}

// BenchmarkPartialSyncKernel is one change with 10k or 30k services in the kernel: an endpoint
// more or less for one service, or one service added and removed, each sent on its own, by
// nft or (as the agent sends element swaps) over netlink.
//
//	sudo go test -run XXX -bench PartialSyncKernel ./internal/proxy/
func BenchmarkPartialSyncKernel(b *testing.B) {
	for _, n := range []int{10000, 30000} {
		services := syntheticServices(n)
		for _, change := range []string{"endpoint", "service"} {
			for _, writer := range []string{"nft", "netlink"} {
				b.Run(fmt.Sprintf("services=%d/change=%s/writer=%s", n, change, writer), func(b *testing.B) {
					nft := scratchNFT(b, "pxb")
					elements, err := NetlinkElements(nft.path)
					if err != nil {
						b.Fatal(err)
					}
					tbl := tableOf(services, benchServiceCIDRs, benchClusterCIDRs)
					applyFull(b, nft, tbl)
					i := 0
					var writing time.Duration // in nft or netlink, of the whole op
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
						if writer == "nft" {
							if applyChanges(b, nft, tbl) == "" {
								b.Fatal("the change sent nothing")
							}
							writing += time.Since(start)
							continue
						}
						p := tbl.pending()
						if p.empty() || !p.elementsOnly() {
							b.Fatalf("the change is not an element swap: %+v", p)
						}
						if err := writeSwaps(elements, tbl, p); err != nil {
							b.Fatal(err)
						}
						writing += time.Since(start)
						tbl.commit(false)
					}
					b.ReportMetric(float64(writing.Microseconds())/float64(b.N)/1000, "write-ms/op")
				})
			}
		}
	}
}

// BenchmarkListNames is what a full sync in place does first: list the table's chains, sets
// and maps by name, through nft (which reads every element to do it) or over netlink.
//
//	sudo go test -run XXX -bench ListNames -benchtime 3x ./internal/proxy/
func BenchmarkListNames(b *testing.B) {
	for _, n := range []int{10000, 30000} {
		services := syntheticServices(n)
		for _, lister := range []string{"nft", "netlink"} {
			b.Run(fmt.Sprintf("services=%d/lister=%s", n, lister), func(b *testing.B) {
				nft := scratchNFT(b, "pxb")
				applyFull(b, nft, tableOf(services, benchServiceCIDRs, benchClusterCIDRs))
				w, err := NetlinkElements(nft.path)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					var have present
					if lister == "nft" {
						have, err = listPresent(context.Background(), nft)
					} else {
						have, err = w.(nameLister).listNames()
					}
					if err != nil || len(have.chains) == 0 {
						b.Fatalf("listed %d chains: %v", len(have.chains), err)
					}
				}
			})
		}
	}
}
