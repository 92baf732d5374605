package nft

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/netns"
)

// bigTable is a table with more elements than one netlink message or transaction of the
// staged write carries: a verdict map, a plain set and an interval set (which nft writes).
func bigTable() map[string]*Contents {
	owners := map[string]*Contents{"skeleton": skeleton()}
	sk := owners["skeleton"]
	sk.AddSet(&Set{Name: "clients", Type: "ipv4_addr"})
	sk.AddSet(&Set{Name: "ranges", Type: "ipv4_addr", Flags: []string{"interval"}})
	sk.AddChain(&Chain{Name: "input", Hook: &Hook{Type: "filter", Hook: "input", Priority: "filter"},
		Rules: []Rule{{Text: "ip saddr @clients ip daddr @ranges accept", Comment: "clients to the ranges"}}})
	for _, r := range []string{"10.96.0.0/24", "10.96.1.0/24", "10.43.0.0/16"} {
		sk.AddElement("ranges", []string{r})
	}
	for i := range 4 {
		owners[fmt.Sprintf("chain-%d", i)] = service(fmt.Sprint(i), "10.43.255.255", fmt.Sprintf("10.42.0.%d:80", i+1))
		delete(owners[fmt.Sprintf("chain-%d", i)].Elements, elementID("services", "10.43.255.255", "80"))
	}
	for i := range 3000 {
		c := NewContents()
		c.AddElement("services", []string{fmt.Sprintf("10.43.%d.%d", i>>8, i&255), "80"}, fmt.Sprintf("goto svc-%d", i%4))
		c.AddElement("clients", []string{fmt.Sprintf("10.42.%d.%d", i>>8, i&255)})
		owners[fmt.Sprintf("default/s%d", i)] = c
	}
	return owners
}

func elementID(set string, key ...string) string { return (&Element{Set: set, Key: key}).id() }

// A table the kernel does not hold yet is written in stages, elements over netlink in batches;
// what the kernel then holds is exactly what the same table written in one transaction is.
func TestStagedWriteHoldsWhatOneTransactionWrites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes nftables in network namespaces of its own")
	}
	ctx := context.Background()
	listings := map[bool]string{}
	for _, staged := range []bool{true, false} {
		name := fmt.Sprintf("weft-nfts-%d-%v", os.Getpid()%100000, staged)
		if err := netns.Create(name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = netns.Delete(name) })
		if !staged { // a table there already: the sync rewrites it in place, in one transaction
			if out, err := exec.Command("ip", "netns", "exec", name, "nft", "add", "table", "inet", "weft-test").CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		k, err := New(InetFamily, "weft-test", netns.Path(name))
		if err != nil {
			t.Fatal(err)
		}
		tbl := NewTable(k, "weft: a test")
		owners := bigTable()
		for o, c := range owners {
			tbl.Set(o, c)
		}
		tx, err := tbl.Sync(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if tx.staged != staged {
			t.Fatalf("staged %v: the sync was staged %v", staged, tx.staged)
		}
		// A new Table over the kernel's (an agent restarted) compares every rule and element:
		// it sends nothing only if the kernel holds exactly what is wanted.
		again := NewTable(k, "weft: a test")
		for o, c := range owners {
			again.Set(o, c)
		}
		if tx, err := again.Sync(ctx, false); err != nil || tx != nil {
			t.Errorf("staged %v: the kernel does not hold the table: sent %v, %v", staged, tx, err)
		}
		listings[staged] = listTable(t, name)
	}
	for _, want := range []string{"10.43.11.183 . 80 : goto svc-3", "10.42.11.183", "10.96.1.0/24", `comment "clients to the ranges"`} {
		if !strings.Contains(listings[true], want) {
			t.Errorf("the staged table lacks %q", want)
		}
	}
	if a, b := elementCount(listings[true]), elementCount(listings[false]); a != b || a < 6000 {
		t.Errorf("staged table lists %d elements, one transaction %d", a, b)
	}
}

// elementCount counts the comma-separated elements in nft's listing of a table.
func elementCount(listing string) int {
	n := 0
	for _, block := range strings.Split(listing, "elements = {")[1:] {
		body, _, _ := strings.Cut(block, "}")
		n += strings.Count(body, ",") + 1
	}
	return n
}
