package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/netns"
)

// syntheticState is n services with three endpoints each, one TCP port, IPv4: the shape of
// kube-proxy's published sync benchmarks.
func syntheticState(n int) state {
	st := state{
		serviceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.43.0.0/16")},
		clusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")},
	}
	for i := range n {
		sp := &servicePort{namespace: "bench", name: fmt.Sprintf("svc-%d", i), protocol: "tcp", port: 80,
			clusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)})}
		for e := range 3 {
			ip := netip.AddrFrom4([4]byte{10, 42, byte(i >> 6), byte(i&63)<<2 | byte(e)})
			sp.endpoints = append(sp.endpoints, endpoint{ip: ip, port: 8080})
		}
		st.ports = append(st.ports, sp)
	}
	return st
}

// BenchmarkWriteRules is the cost of building one full sync's transaction, without the kernel.
func BenchmarkWriteRules(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		st := syntheticState(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			fake := knftables.NewFake(knftables.InetFamily, Table)
			for b.Loop() {
				tx := fake.NewTransaction()
				writeRules(tx, st)
			}
		})
	}
}

// BenchmarkFullSyncKernel applies a full sync to the kernel (nft in a namespace of its own):
// the time one sync takes at 1k, 10k and 30k services. Needs root.
//
//	sudo go test -run XXX -bench FullSyncKernel -benchtime 3x ./internal/proxy/
func BenchmarkFullSyncKernel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: applies the table in a network namespace")
	}
	ns := fmt.Sprintf("weft-pxb-%d", os.Getpid()%100000)
	if err := netns.Create(ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = netns.Delete(ns) })
	for _, n := range []int{1000, 10000, 30000} {
		st := syntheticState(n)
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			err := netns.Do(netns.Path(ns), func() error {
				nft, err := knftables.New(knftables.InetFamily, Table)
				if err != nil {
					return err
				}
				for b.Loop() {
					tx := nft.NewTransaction()
					writeRules(tx, st)
					if err := nft.Run(context.Background(), tx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
