package conntrack

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
	svc := Flow{netip.MustParseAddr("10.43.0.10"), 53}
	gone := Flow{netip.MustParseAddr("10.43.0.11"), 53}
	fresh := Flow{netip.MustParseAddr("10.43.0.12"), 53}
	a := netip.MustParseAddrPort("10.42.1.5:53")
	b := netip.MustParseAddrPort("10.42.2.5:53")
	before := Targets{svc: {a, b}, gone: {a}, fresh: nil}
	after := Targets{svc: {b}, fresh: {a}}
	got := map[Stale]bool{}
	for _, s := range StaleUDP(before, after) {
		got[s] = true
	}
	for _, want := range []Stale{
		{Flow: svc, Endpoint: a.Addr()},  // a left the service
		{Flow: gone, Endpoint: a.Addr()}, // the service went away
		{Flow: fresh},                    // had no endpoint, has one now: every flow to it
	} {
		if !got[want] {
			t.Errorf("missing %+v in %+v", want, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("want exactly 3 stale flows, got %+v", got)
	}
}

// fakeKernel records the filters Clear sends, as the probe flows they match.
type fakeKernel struct{ deleted []string }

func (f *fakeKernel) ConntrackDeleteFilters(_ netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error) {
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

// TestClearMatchesTheFlowsMeant: a node port's flow is cleared on every address of the node,
// a service address's on that address only, and an endpoint narrows either to the flows
// translated to it.
func TestClearMatchesTheFlowsMeant(t *testing.T) {
	clusterIP, a := netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("10.42.1.5")
	k := &fakeKernel{}
	if err := Clear(k, []Stale{
		{Flow: Flow{clusterIP, 53}, Endpoint: a},
		{Flow: Flow{AnyAddr(false), 30053}, Endpoint: a},
		{Flow: Flow{clusterIP, 53}},
		{Flow: Flow{AnyAddr(false), 30053}},
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(k.deleted)
	want := []string{
		"family 2 clusterip-to-a",
		"family 2 clusterip-to-a,clusterip-to-b",
		"family 2 nodeport-via-node-ip-to-a,nodeport-via-other-ip-to-a",
		"family 2 nodeport-via-node-ip-to-a,nodeport-via-other-ip-to-a,nodeport-to-b",
	}
	if !slices.Equal(k.deleted, want) {
		t.Errorf("cleared\n  %s\nwant\n  %s", strings.Join(k.deleted, "\n  "), strings.Join(want, "\n  "))
	}
}
