package policy

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// FuzzDisjoint: whatever boxes policies stack, the elements written cover exactly the same
// (peer, port) points, and no two overlap (the kernel would refuse them).
func FuzzDisjoint(f *testing.F) {
	f.Add([]byte{0, 10, 80, 90, 5, 200, 85, 100})
	f.Add([]byte{1, 1, 0, 255, 1, 1, 0, 255, 0, 2, 3, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		var in []box
		for ; len(data) >= 4 && len(in) < 12; data = data[4:] {
			lo, hi := min(data[0], data[1]), max(data[0], data[1])
			plo, phi := int(min(data[2], data[3])), int(max(data[2], data[3]))
			in = append(in, box{peer: addrRange{netip.AddrFrom4([4]byte{10, 0, 0, lo}), netip.AddrFrom4([4]byte{10, 0, 0, hi})}, lo: plo, hi: phi, from: []string{"r"}})
		}
		out := disjoint(in)
		covered := func(bs []box, a byte, port int) int {
			n := 0
			for _, b := range bs {
				if b.peer.contains(netip.AddrFrom4([4]byte{10, 0, 0, a})) && b.lo <= port && port <= b.hi {
					n++
				}
			}
			return n
		}
		// Coverage is constant between box edges: checking at every edge and beside it is
		// checking everywhere.
		addrs, ports := map[int]bool{}, map[int]bool{}
		for _, b := range append(in, out...) {
			for _, a := range []int{int(b.peer.lo.As4()[3]), int(b.peer.hi.As4()[3])} {
				addrs[max(a-1, 0)], addrs[a], addrs[min(a+1, 255)] = true, true, true
			}
			for _, p := range []int{b.lo, b.hi} {
				ports[max(p-1, 0)], ports[p], ports[min(p+1, 255)] = true, true, true
			}
		}
		for a := range addrs {
			for port := range ports {
				want, got := covered(in, byte(a), port) > 0, covered(out, byte(a), port)
				if got > 1 {
					t.Fatalf("10.0.0.%d port %d is in %d elements: %v", a, port, got, out)
				}
				if want != (got == 1) {
					t.Fatalf("10.0.0.%d port %d: allowed %v before, %v after: %v -> %v", a, port, want, got == 1, in, out)
				}
			}
		}
	})
}

// FuzzPolicy: any policy the JSON decoder accepts (the API server's checks left out, as a
// buggy or newer server might) resolves without panic into elements of the right shape.
func FuzzPolicy(f *testing.F) {
	for _, s := range []string{
		`{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}],"ports":[{"port":80,"endPort":90}]}]}`,
		`{"podSelector":{"matchExpressions":[{"key":"pod","operator":"In","values":["a"]}]},"policyTypes":["Egress"],"egress":[{"ports":[{"port":"serve-80"}]}]}`,
		`{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"10.42.0.0/16","except":["10.42.2.0/24"]}}]}]}`,
		`{"podSelector":{"matchExpressions":[{"key":"pod","operator":"Bad"}]},"ingress":[{"ports":[{"protocol":"ICMP","port":-1,"endPort":70000}]}]}`,
	} {
		f.Add([]byte(s), uint16(0))
	}
	f.Fuzz(func(t *testing.T, spec []byte, seed uint16) {
		var s networkingv1.NetworkPolicySpec
		if json.Unmarshal(spec, &s) != nil {
			return
		}
		c := newCluster()
		c.policies = []*networkingv1.NetworkPolicy{np("x", "p", s)}
		if seed%2 == 1 {
			var b [2]byte
			binary.BigEndian.PutUint16(b[:], seed)
			c.pods[1].Spec.Containers[0].Ports[0].ContainerPort = int32(b[0])<<8 | int32(b[1])
		}
		in, err := read(c.sources(), "node-1")
		if err != nil {
			t.Fatal(err)
		}
		d, _ := compute(in.world, in.policies, in.cnps, "node-1", in.podCIDRs)
		for set, els := range d {
			for _, e := range els {
				want := map[string]int{"in-any-v4": 2, "out-any-v4": 2, "in-ports-v4": 4, "out-ports-v4": 4, "in-any-v6": 2, "out-any-v6": 2, "in-ports-v6": 4, "out-ports-v6": 4}[set]
				if want == 0 {
					want = 1
				}
				if len(e.key) != want || len(e.comment) > 128 {
					t.Fatalf("set %s: element %v %q has the wrong shape", set, e.key, e.comment)
				}
			}
		}
	})
}
