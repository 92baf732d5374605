package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/conntrack"
)

// TestStaleUDPNodePorts: when a UDP service's endpoints change, flows that came in through
// its NodePort, on any of the node's addresses, are cleared too, as kube-proxy does: they were
// translated to the endpoint like those to the ClusterIP.
func TestStaleUDPNodePorts(t *testing.T) {
	clusterIP := netip.MustParseAddr("10.43.0.10")
	port := func(eps ...endpoint) []*servicePort {
		return []*servicePort{{namespace: "default", name: "dns", protocol: "udp", clusterIP: clusterIP,
			port: 53, nodePort: 30053, endpoints: eps, allEndpoints: eps}}
	}
	a := endpoint{ip: netip.MustParseAddr("10.42.1.5"), port: 53}
	b := endpoint{ip: netip.MustParseAddr("10.42.2.5"), port: 53}
	// externalTrafficPolicy Local on a's node: outside clients reach a only, pods reach both.
	local := func(eps ...endpoint) []*servicePort {
		ps := port(eps...)
		ps[0].externalLocal, ps[0].localEndpoints = true, []endpoint{a}
		return ps
	}
	// A node port's flows are those to any of the node's addresses.
	service, nodePort := conntrack.Flow{Addr: clusterIP, Port: 53}, conntrack.Flow{Addr: conntrack.AnyAddr(false), Port: 30053}
	for _, tc := range []struct {
		name          string
		before, after []*servicePort
		want          []conntrack.Stale
	}{
		{"endpoint a leaves", port(a, b), port(b), []conntrack.Stale{
			{Flow: service, Endpoint: a.ip}, {Flow: nodePort, Endpoint: a.ip},
		}},
		{"a remote endpoint leaves an externalTrafficPolicy Local service", local(a, b), local(a), []conntrack.Stale{
			{Flow: service, Endpoint: b.ip}, {Flow: nodePort, Endpoint: b.ip},
		}},
		{"the first endpoint arrives", port(), port(a), []conntrack.Stale{
			{Flow: service}, {Flow: nodePort},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want []string
			for _, s := range conntrack.StaleUDP(udpTargets(tc.before), udpTargets(tc.after)) {
				got = append(got, fmt.Sprintf("%+v", s))
			}
			for _, s := range tc.want {
				want = append(want, fmt.Sprintf("%+v", s))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("stale\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}
