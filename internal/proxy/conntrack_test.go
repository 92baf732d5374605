package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestStaleUDP(t *testing.T) {
	svc := udpFlow{netip.MustParseAddr("10.43.0.10"), 53}
	gone := udpFlow{netip.MustParseAddr("10.43.0.11"), 53}
	fresh := udpFlow{netip.MustParseAddr("10.43.0.12"), 53}
	a := endpoint{ip: netip.MustParseAddr("10.42.1.5"), port: 53}
	b := endpoint{ip: netip.MustParseAddr("10.42.2.5"), port: 53}
	before := map[udpFlow][]endpoint{svc: {a, b}, gone: {a}, fresh: nil}
	after := map[udpFlow][]endpoint{svc: {b}, fresh: {a}}
	got := map[staleFlow]bool{}
	for _, s := range staleUDP(before, after) {
		got[s] = true
	}
	for _, want := range []staleFlow{
		{flow: svc, endpoint: a.ip},  // a left the service
		{flow: gone, endpoint: a.ip}, // the service went away
		{flow: fresh},                // had no endpoint, has one now: every flow to it
	} {
		if !got[want] {
			t.Errorf("missing %+v in %+v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("want exactly 3 stale flows, got %+v", got)
	}
}

// fakeConntrack records the filters clearStale sends, as conntrack(8) would spell them.
type fakeConntrack struct{ deleted []string }

func (f *fakeConntrack) ConntrackDeleteFilters(_ netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error) {
	for _, c := range filters {
		// The filter's fields are private: read them back through the match it makes.
		f.deleted = append(f.deleted, fmt.Sprintf("family %d %s", family, describeFilter(c)))
	}
	return 0, nil
}

// describeFilter says which of a few probe flows the filter matches: enough to tell a filter
// on the node port alone from one on an address too.
func describeFilter(c netlink.CustomConntrackFilter) string {
	var matched []string
	for _, probe := range []struct {
		name       string
		dst, reply string
		dport      uint16
	}{
		{"nodeport-via-node-ip-to-a", "192.168.1.11", "10.42.1.5", 30053},
		{"nodeport-via-other-ip-to-a", "10.42.1.1", "10.42.1.5", 30053},
		{"nodeport-to-b", "192.168.1.11", "10.42.2.5", 30053},
		{"clusterip-to-a", "10.43.0.10", "10.42.1.5", 53},
		{"clusterip-to-b", "10.43.0.10", "10.42.2.5", 53},
	} {
		flow := &netlink.ConntrackFlow{FamilyType: unix.AF_INET}
		flow.Forward.Protocol, flow.Forward.DstIP, flow.Forward.DstPort = unix.IPPROTO_UDP, net.ParseIP(probe.dst), probe.dport
		flow.Reverse.Protocol, flow.Reverse.SrcIP, flow.Reverse.SrcPort = unix.IPPROTO_UDP, net.ParseIP(probe.reply), 53
		if c.MatchConntrackFlow(flow) {
			matched = append(matched, probe.name)
		}
	}
	return strings.Join(matched, ",")
}

// TestStaleUDPNodePorts: when a UDP service's endpoints change, flows that came in through
// its NodePort, on any of the node's addresses, are cleared too, as kube-proxy does: they were
// translated to the endpoint like those to the ClusterIP.
func TestStaleUDPNodePorts(t *testing.T) {
	port := func(eps ...endpoint) []*servicePort {
		return []*servicePort{{namespace: "default", name: "dns", protocol: "udp", clusterIP: netip.MustParseAddr("10.43.0.10"),
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
	for _, tc := range []struct {
		name          string
		before, after []*servicePort
		want          []string
	}{
		{"endpoint a leaves", port(a, b), port(b), []string{
			"family 2 clusterip-to-a",
			"family 2 nodeport-via-node-ip-to-a,nodeport-via-other-ip-to-a",
		}},
		{"a remote endpoint leaves an externalTrafficPolicy Local service", local(a, b), local(a), []string{
			"family 2 clusterip-to-b",
			"family 2 nodeport-to-b",
		}},
		{"the first endpoint arrives", port(), port(a), []string{
			"family 2 clusterip-to-a,clusterip-to-b",
			"family 2 nodeport-via-node-ip-to-a,nodeport-via-other-ip-to-a,nodeport-to-b",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := &fakeConntrack{}
			if err := clearStale(ct, staleUDP(udpTargets(tc.before), udpTargets(tc.after))); err != nil {
				t.Fatal(err)
			}
			slices.Sort(ct.deleted)
			if !slices.Equal(ct.deleted, tc.want) {
				t.Errorf("cleared\n  %s\nwant\n  %s", strings.Join(ct.deleted, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}
