package nft

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
)

func listTable(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "weft-test").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v\n%s", err, out)
	}
	return string(out)
}

// The kernel's table follows a partial sync of element swaps (sent over netlink), a chain's
// rewrite (through nft), and a full sync in place that removes what someone else added.
func TestKernelTable(t *testing.T) {
	ns := netnstest.Scratch(t, "nftk-table")
	k, err := New(InetFamily, "weft-test", netns.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tbl := NewTable(k, "weft: a test")
	tbl.Set("skeleton", skeleton())
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	if _, err := tbl.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	got := listTable(t, ns)
	for _, s := range []string{`comment "weft: a test"`, `10.43.0.1 . 80 : goto svc-web`, `meta l4proto tcp dnat ip to 10.42.0.5:80 comment "default/web port 80"`} {
		if !strings.Contains(got, s) {
			t.Errorf("the table lacks %q:\n%s", s, got)
		}
	}

	// An element swap: the element moves to another owner's chain.
	db := service("db", "10.43.0.2", "10.42.0.6:80")
	tbl.Set("default/db", db)
	if _, err := tbl.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	swap := NewContents()
	swap.Chains = tbl.Owner("default/web").Chains
	swap.AddElement("services", []string{"10.43.0.1", "80"}, "goto svc-db")
	tbl.Set("default/web", swap)
	tx, err := tbl.Sync(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !tx.ElementsOnly() || k.(*realKernel).swaps != 1 {
		t.Errorf("want an element swap over netlink (%d sent), sent:\n%s", k.(*realKernel).swaps, tx)
	}
	if got := listTable(t, ns); !strings.Contains(got, "10.43.0.1 . 80 : goto svc-db") {
		t.Errorf("the swap did not reach the kernel:\n%s", got)
	}

	// Someone adds a chain and a set by hand; a full sync in place removes them.
	for _, cmd := range []string{"add chain inet weft-test stray", "add set inet weft-test stray-set { type ipv4_addr ; }"} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, strings.Fields(cmd)...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	names, err := k.List(ctx)
	if err != nil || !names.Chains["stray"] || !names.Sets["stray-set"] || !names.Maps["services"] {
		t.Fatalf("listing missed objects: %+v, %v", names, err)
	}
	if _, err := tbl.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := listTable(t, ns); strings.Contains(got, "stray") || !strings.Contains(got, "goto svc-db") {
		t.Errorf("the full sync did not repair the table:\n%s", got)
	}
	// Untouched, it is compared and left alone: ranges of an interval set (adjacent ones
	// too), an address, a rule's comment.
	ranges := NewContents()
	ranges.AddSet(&Set{Name: "ranges", Type: "ipv4_addr", Flags: []string{"interval"}})
	for _, r := range []string{"10.96.0.0/25", "10.96.0.128/25", "10.43.0.0/16", "192.168.1.11"} {
		ranges.AddElement("ranges", []string{r})
	}
	tbl.Set("ranges", ranges)
	if _, err := tbl.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if tx, err := tbl.Sync(ctx, true); err != nil || tx != nil {
		t.Errorf("a full sync of an untouched table sent %v, %v", tx, err)
	}
	for _, cmd := range []string{"delete element inet weft-test ranges { 10.96.0.128/25 }", "flush chain inet weft-test svc-db", "delete element inet weft-test services { 10.43.0.2 . 80 }"} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, strings.Fields(cmd)...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if tx, err := tbl.Sync(ctx, true); err != nil || tx == nil || !strings.HasPrefix(tx.String(), "add table") {
			t.Errorf("after %q, want the table rewritten; sent %v, %v", cmd, tx, err)
		}
	}
	if got := listTable(t, ns); !strings.Contains(got, "10.96.0.128/25") || !strings.Contains(got, "10.43.0.2 . 80 : goto svc-db") || !strings.Contains(got, "10.42.0.6:80") {
		t.Errorf("the full syncs did not repair the table:\n%s", got)
	}
	// A table written by another Table (an agent restarted): its first sync sends nothing.
	again := NewTable(k, "weft: a test")
	for _, o := range []string{"skeleton", "default/web", "default/db", "ranges"} {
		again.Set(o, tbl.Owner(o))
	}
	if tx, err := again.Sync(ctx, false); err != nil || tx != nil {
		t.Errorf("the first sync of a table the kernel holds sent %v, %v", tx, err)
	}
	if err := tbl.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if names, err := k.List(ctx); err != nil || len(names.Chains)+len(names.Sets)+len(names.Maps) != 0 {
		t.Errorf("after Delete, listed %+v, %v", names, err)
	}
}
