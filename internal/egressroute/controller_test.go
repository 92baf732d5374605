package egressroute

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/weftnet/weft/internal/nft"
)

// scenarios are whole clusters' worth of EgressRoutes as node-1 sees them.
var scenarios = map[string]func() ([]*EgressRoute, []*corev1.Pod){
	// Every pod reaches a subnet only the nodes route to, through the LAN router.
	"node-only-subnet": func() ([]*EgressRoute, []*corev1.Pod) {
		return []*EgressRoute{route("corp-net", 0, Spec{Destinations: []string{"192.168.2.0/24"}, Via: "192.168.1.1"})}, nil
	},
	// IPv6 through a router, keeping pods' addresses (IPv6 pods are usually routable).
	"ipv6-via": func() ([]*EgressRoute, []*corev1.Pod) {
		return []*EgressRoute{route("v6-lab", 0, Spec{Destinations: []string{"2001:db8:3::/64", "2001:db8:4::/64"}, Via: "fd00:4::1", Masquerade: ptr.To(false)})}, nil
	},
	"mixed": func() ([]*EgressRoute, []*corev1.Pod) {
		routes := []*EgressRoute{
			route("db", 0, Spec{Destinations: []string{"192.168.3.0/24", "10.99.0.0/16", "10.99.1.0/24"}, Via: "192.168.4.1", Masquerade: ptr.To(false),
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "data"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}),
			route("v6-lab", 1, Spec{Destinations: []string{"2001:db8:3::/64"}, Interface: "eth1"}),
			route("everything", 2, Spec{Destinations: []string{"0.0.0.0/0"}, Via: "192.168.1.1", PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"egress": "firewall"}}}),
			route("gateway-node", 3, Spec{Destinations: []string{"192.168.5.0/24"}, Via: "192.168.1.11"}),
			route("wrong-family", 4, Spec{Destinations: []string{"2001:db8:4::/64"}, Via: "192.168.1.1"}),
			route("far", 5, Spec{Destinations: []string{"192.168.6.0/24"}, Via: "192.168.9.1"}),
			route("down", 6, Spec{Destinations: []string{"192.168.7.0/24"}, Interface: "eth2"}),
			route("missing", 7, Spec{Destinations: []string{"192.168.8.0/24"}, Interface: "wg0"}),
		}
		db := map[string]string{"app": "db"}
		pods := []*corev1.Pod{
			pod("data", "db-0", self, corev1.PodRunning, db, "10.42.1.5", "2001:cafe:42:1::5"),
			pod("data", "db-1", self, corev1.PodRunning, db, "10.42.1.6"),
			pod("data", "web", self, corev1.PodRunning, map[string]string{"app": "web", "egress": "firewall"}, "10.42.1.7"),
			pod("default", "db-elsewhere", self, corev1.PodRunning, db, "10.42.1.8"),
			pod("data", "db-starting", self, corev1.PodPending, db, "10.42.1.9"),
			pod("data", "db-on-node-2", "node-2", corev1.PodRunning, db, "10.42.2.5"),
		}
		host := pod("data", "db-host", self, corev1.PodRunning, db, "192.168.1.11")
		host.Spec.HostNetwork = true
		return routes, append(pods, host)
	},
}

// render is the node's whole state after a sync: ruleset, routes and rules, entries.
func render(n *testNode, plans []*plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# nftables\n%s# routes and rules\n%s\n# entries\n", n.nft.DumpSorted(), n.nl.state())
	for _, p := range plans {
		fmt.Fprintf(&b, "%s slot %d: ready=%v %s: %s\n", p.er.Name, p.slot, p.entry.Ready, p.entry.Reason, p.entry.Message)
	}
	fmt.Fprintf(&b, "# rp_filter eth1=%s\n", n.sys["net/ipv4/conf/eth1/rp_filter"])
	return b.String()
}

func TestSyncGolden(t *testing.T) {
	for name, scenario := range scenarios {
		t.Run(name, func(t *testing.T) {
			routes, pods := scenario()
			n := newTestNode(t, routes...)
			s := snap(t, routes, pods...)
			ctx := context.Background()
			if err := n.c.sync(ctx, s); err != nil {
				t.Fatal(err)
			}
			golden(t, name, render(n, makePlans(self, s, cluster, n.nl)))

			// A second sync converges: the same ruleset, and not one kernel change.
			dump := n.nft.DumpSorted()
			n.nl.changes = nil
			if err := n.c.sync(ctx, s); err != nil {
				t.Fatal(err)
			}
			if n.nft.DumpSorted() != dump || len(n.nl.changes) > 0 {
				t.Errorf("second sync changed things: %v\n%s", n.nl.changes, n.nft.DumpSorted())
			}

			// Someone deletes the table, our routes and rules by hand: the next sync repairs it all.
			state := n.nl.state()
			if err := nft.NewTable(n.nft, "").Delete(ctx); err != nil {
				t.Fatal(err)
			}
			n.nl.routes, n.nl.rules = nil, nil
			if err := n.c.sync(ctx, s); err != nil {
				t.Fatal(err)
			}
			if n.nft.DumpSorted() != dump || n.nl.state() != state {
				t.Errorf("resync did not repair:\n%s\n%s", n.nft.DumpSorted(), n.nl.state())
			}

			// Everything deleted: only the empty frame of the table stays, no route or rule.
			if err := n.c.sync(ctx, snap(t, nil)); err != nil {
				t.Fatal(err)
			}
			if d := n.nft.DumpSorted(); strings.Contains(d, "add set inet weft-egressroute r") || strings.Contains(d, "add rule") {
				t.Errorf("deleted routes left:\n%s", d)
			}
			if st := n.nl.state(); st != "" {
				t.Errorf("deleted routes left in the kernel:\n%s", st)
			}
			if err := n.c.Cleanup(ctx); err != nil {
				t.Fatal(err)
			}
			if d := n.nft.DumpSorted(); d != "" {
				t.Errorf("Cleanup left:\n%s", d)
			}
		})
	}
}

// After a restart nothing in memory says what the last run made: the kernel's own state does.
func TestSyncRemovesWhatAnEarlierRunLeft(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	earlier := nft.NewContents()
	earlier.AddSet(&nft.Set{Name: "r77-dst-v4", Type: "ipv4_addr", Flags: []string{"interval"}})
	earlier.AddElement("r77-dst-v4", []string{"192.168.3.0/24"})
	run := nft.NewTable(n.nft, "")
	run.Set("earlier run", earlier)
	if _, err := run.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	ours := &netlink.Route{Family: netlink.FAMILY_V4, Table: tableOf(77), Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		Gw: net.ParseIP("192.168.4.1"), LinkIndex: 3, Protocol: RouteProtocol}
	overlay := netlink.Route{Family: netlink.FAMILY_V4, Table: 254, Dst: &net.IPNet{IP: net.ParseIP("10.42.2.0").To4(), Mask: net.CIDRMask(24, 32)},
		Gw: net.ParseIP("192.168.1.12"), LinkIndex: 2, Protocol: RouteProtocol}
	other := netlink.Route{Family: netlink.FAMILY_V4, Table: 100, Dst: ours.Dst, Gw: net.ParseIP("192.168.1.1"), LinkIndex: 2, Protocol: 4}
	n.nl.routes = []netlink.Route{*ours, overlay, other}
	p := &plan{slot: 77}
	n.nl.rules = []netlink.Rule{*wantRule(p, 0), *wantRule(p, 1)}
	foreign := netlink.NewRule()
	foreign.Family, foreign.Priority, foreign.Table, foreign.Mark = netlink.FAMILY_V4, 100, 100, 0x4000
	n.nl.rules = append(n.nl.rules, *foreign)

	if err := n.c.sync(ctx, snap(t, nil)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n.nft.DumpSorted(), "r77") {
		t.Errorf("stale set stayed:\n%s", n.nft.DumpSorted())
	}
	want := strings.Join([]string{"route " + routeString(other), "route " + routeString(overlay), "rule " + ruleString(*foreign)}, "\n")
	if got := n.nl.state(); got != want {
		t.Errorf("kernel after sync:\n%s\nwant only what others made:\n%s", got, want)
	}
}

// A route the kernel refuses is neither marked for nor reported ready, and the sync still
// succeeds for the rest (the status says why).
func TestKernelRefusal(t *testing.T) {
	routes, _ := scenarios["node-only-subnet"]()
	n := newTestNode(t, routes...)
	n.nl.failAdd = fmt.Errorf("file exists")
	s := snap(t, routes)
	if err := n.c.sync(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n.nft.DumpSorted(), "add rule") {
		t.Errorf("marked packets for a route that is not there:\n%s", n.nft.DumpSorted())
	}
	u, err := n.dyn.Resource(GVR).Get(context.Background(), "corp-net", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	er, _ := FromUnstructured(u)
	if len(er.Status.Nodes) != 1 || er.Status.Nodes[0].Reason != ReasonKernelError || !strings.Contains(er.Status.Nodes[0].Message, "file exists") {
		t.Errorf("status nodes %+v, want node-1 KernelError", er.Status.Nodes)
	}
}

func TestOptionsValidate(t *testing.T) {
	o := Options{ClusterCIDRs: prefixes("10.42.0.0/16"), ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.43.0.1/16")}, Resync: -1}
	err := o.Validate()
	for _, want := range []string{"NodeName", "10.43.0.1/16", "negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %q", err, want)
		}
	}
}

// TestChangesSendOnlyWhatChanged: once the table is written, a pod joining a route swaps an
// element, and a route going away rewrites the chains and drops its set, in one transaction.
func TestChangesSendOnlyWhatChanged(t *testing.T) {
	routes, pods := scenarios["mixed"]()
	n := newTestNode(t, routes...)
	ctx := context.Background()
	if err := n.c.sync(ctx, snap(t, routes, pods...)); err != nil {
		t.Fatal(err)
	}
	joined := append(slices.Clip(pods), pod("data", "db-2", self, corev1.PodRunning, map[string]string{"app": "db"}, "10.42.1.10"))
	var sent strings.Builder
	for _, step := range []struct {
		name   string
		routes []*EgressRoute
		pods   []*corev1.Pod
	}{
		{"nothing changed", routes, pods},
		{"a pod joins route db", routes, joined},
		{"route everything deleted", slices.DeleteFunc(slices.Clone(routes), func(er *EgressRoute) bool { return er.Name == "everything" }), joined},
	} {
		s := snap(t, step.routes, step.pods...)
		tx, err := n.c.writeTable(ctx, contents(makePlans(self, s, cluster, n.nl), cluster))
		if err != nil {
			t.Fatal(err)
		}
		text := "(nothing)\n"
		if tx != nil {
			text = tx.String()
		}
		fmt.Fprintf(&sent, "# %s\n%s", step.name, text)
	}
	golden(t, "changes", sent.String())
}
