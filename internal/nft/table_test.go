package nft

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// skeleton is a small table's fixed part: a base chain that looks service addresses up in a
// map, and the map.
func skeleton() *Contents {
	c := NewContents()
	c.AddChain(&Chain{Name: "prerouting", Hook: &Hook{Type: "nat", Hook: "prerouting", Priority: "dstnat"},
		Rules: []Rule{{Text: "ip daddr . tcp dport vmap @services", Comment: "to the service's chain"}}})
	c.AddSet(&Set{Name: "services", Type: "ipv4_addr . inet_service : verdict"})
	return c
}

// service is one owner's objects: a chain of its own and the map element that leads there.
func service(name, ip, endpoint string) *Contents {
	c := NewContents()
	c.AddRules("svc-"+name, Rule{Text: "meta l4proto tcp dnat ip to " + endpoint, Comment: "default/" + name + " port 80"})
	c.AddElement("services", []string{ip, "80"}, "goto svc-"+name)
	return c
}

func sync(t *testing.T, tbl *Table, full bool) string {
	t.Helper()
	tx, err := tbl.Sync(context.Background(), full)
	if err != nil {
		t.Fatal(err)
	}
	if tx == nil {
		return ""
	}
	return tx.String()
}

func TestPartialSyncSendsOnlyWhatChanged(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "weft: a test")
	tbl.Set("skeleton", skeleton())
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	sync(t, tbl, false) // the first sync is full
	tbl.Set("default/db", service("db", "10.43.0.2", "10.42.0.6:80"))
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.7:80"))
	got := sync(t, tbl, false)
	want := `add chain svc-db
flush chain svc-web
add rule svc-db meta l4proto tcp dnat ip to 10.42.0.6:80 comment "default/db port 80"
add rule svc-web meta l4proto tcp dnat ip to 10.42.0.7:80 comment "default/web port 80"
add element services { 10.43.0.2 . 80 : goto svc-db }
`
	if got != want {
		t.Errorf("partial sync sent:\n%s\nwant:\n%s", got, want)
	}
	if again := sync(t, tbl, false); again != "" {
		t.Errorf("a sync without changes sent:\n%s", again)
	}
	tbl.Set("default/db", nil)
	got = sync(t, tbl, false)
	want = `delete element services { 10.43.0.2 . 80 }
flush chain svc-db
delete chain svc-db
`
	if got != want {
		t.Errorf("removing an owner sent:\n%s\nwant:\n%s", got, want)
	}
	dump := fake.Dump()
	for _, s := range []string{`10.43.0.1 . 80 : goto svc-web`, `meta l4proto tcp dnat ip to 10.42.0.7:80 comment "default/web port 80"`, `comment "to the service's chain"`} {
		if !strings.Contains(dump, s) {
			t.Errorf("the table lacks %q:\n%s", s, dump)
		}
	}
	if strings.Contains(dump, "svc-db") {
		t.Errorf("the table still holds the removed owner's chain:\n%s", dump)
	}
	if c, s, e := tbl.Counts(); c != 2 || s != 1 || e != 1 {
		t.Errorf("counts %d chains, %d sets, %d elements; want 2, 1, 1", c, s, e)
	}
}

func TestSharedObjectGoesWithItsLastOwner(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	tbl.Set("skeleton", skeleton())
	tbl.Set("c", service("shared", "10.43.0.1", "10.42.0.7:80"))
	tbl.Set("a", service("shared", "10.43.0.1", "10.42.0.5:80"))
	tbl.Set("b", service("shared", "10.43.0.1", "10.42.0.9:80"))
	sync(t, tbl, false)
	if !strings.Contains(fake.Dump(), "10.42.0.5:80") {
		t.Errorf("the first owner by name should win:\n%s", fake.Dump())
	}
	tbl.Set("a", nil)
	if got := sync(t, tbl, false); !strings.Contains(got, "10.42.0.9:80") {
		t.Errorf("the next owner by name should follow:\n%s", got)
	}
	tbl.Set("b", nil)
	if got := sync(t, tbl, false); !strings.Contains(got, "10.42.0.7:80") {
		t.Errorf("the last owner's version should follow:\n%s", got)
	}
	tbl.Set("c", nil)
	sync(t, tbl, false)
	if strings.Contains(fake.Dump(), "svc-shared") {
		t.Errorf("the chain outlived its owners:\n%s", fake.Dump())
	}
}

func TestFullSyncRepairsInPlace(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	tbl.Set("skeleton", skeleton())
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	sync(t, tbl, true)
	want := fake.Dump()
	// Someone else adds a chain and removes an element.
	stray := NewTable(fake, "")
	stray.Set("x", service("stray", "10.43.9.9", "10.42.9.9:80"))
	stray.Set("y", skeleton())
	if _, err := stray.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if again := sync(t, tbl, false); again != "" {
		t.Fatalf("nothing changed for the table, yet it sent:\n%s", again)
	}
	sync(t, tbl, true)
	if got := fake.Dump(); got != want {
		t.Errorf("a full sync did not repair the table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailureMakesTheNextSyncFull(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	tbl.Set("skeleton", skeleton())
	sync(t, tbl, false)
	fake.Err = errors.New("refused")
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	if _, err := tbl.Sync(context.Background(), false); err == nil {
		t.Fatal("the sync should have failed")
	}
	fake.Err = nil
	got := sync(t, tbl, false)
	// A full sync after a partial one failed: in place, not a table deleted.
	if !strings.HasPrefix(got, "add table\n") || strings.Contains(got, "delete table") {
		t.Errorf("after a failed partial sync, want a full one in place; sent:\n%s", got)
	}
	// A full sync that fails while writing (here the first, as the kernel holds nothing yet):
	// the next one remakes the table.
	fresh := NewFake(InetFamily, "weft-test")
	tbl = NewTable(fresh, "")
	tbl.Set("skeleton", skeleton())
	fresh.Err = errors.New("refused")
	if _, err := tbl.Sync(context.Background(), true); err == nil {
		t.Fatal("the sync should have failed")
	}
	fresh.Err = nil
	if got := sync(t, tbl, false); !strings.HasPrefix(got, "add table\ndelete table\nadd table\n") {
		t.Errorf("after a failed full sync, want the table remade; sent:\n%s", got)
	}
}

// A full sync that finds the kernel's table as the last sync left it sends only what changed
// since; one that finds it changed rewrites it; a first sync that finds the table it wants
// already there (an agent restarted) sends nothing.
func TestFullSyncComparesFirst(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	tbl.Set("skeleton", skeleton())
	tbl.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	sync(t, tbl, true)
	if got := sync(t, tbl, true); got != "" {
		t.Errorf("a full sync of an untouched table sent:\n%s", got)
	}
	tbl.Set("default/db", service("db", "10.43.0.2", "10.42.0.6:80"))
	if got := sync(t, tbl, true); strings.Contains(got, "add table") || !strings.Contains(got, "svc-db") {
		t.Errorf("a full sync of an untouched table should send the change alone:\n%s", got)
	}
	tx := fake.Fake.NewTransaction()
	tx.Delete(&knftables.Element{Map: "services", Key: []string{"10.43.0.2", "80"}})
	if err := fake.Fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if got := sync(t, tbl, true); !strings.Contains(got, "add table") || !strings.Contains(fake.Dump(), "10.43.0.2 . 80") {
		t.Errorf("a full sync should repair an element someone deleted; sent:\n%s", got)
	}
	restarted := NewTable(fake, "")
	restarted.Set("skeleton", skeleton())
	restarted.Set("default/web", service("web", "10.43.0.1", "10.42.0.5:80"))
	restarted.Set("default/db", service("db", "10.43.0.2", "10.42.0.6:80"))
	if got := sync(t, restarted, false); got != "" {
		t.Errorf("the first sync of a table the kernel already holds sent:\n%s", got)
	}
	restarted.Set("default/db", nil)
	if got := sync(t, restarted, false); !strings.Contains(got, "delete chain svc-db") {
		t.Errorf("after a first sync that sent nothing, a change should go alone:\n%s", got)
	}
}

func TestChangedSetDeclarationRemakesTheTable(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	c := NewContents()
	c.AddSet(&Set{Name: "clients", Type: "ipv4_addr"})
	c.AddElement("clients", []string{"10.0.0.1"})
	tbl.Set("a", c)
	sync(t, tbl, false)
	c = NewContents()
	c.AddSet(&Set{Name: "clients", Type: "ipv4_addr", Flags: []string{"interval"}})
	c.AddElement("clients", []string{"10.0.0.0/8"})
	tbl.Set("a", c)
	if got := sync(t, tbl, false); !strings.Contains(got, "delete table") {
		t.Errorf("a set's new declaration needs the table remade; sent:\n%s", got)
	}
	if !strings.Contains(fake.Dump(), "flags interval") || !strings.Contains(fake.Dump(), "10.0.0.0/8") {
		t.Errorf("the table lacks the new set:\n%s", fake.Dump())
	}
}

func TestDelete(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "")
	if err := tbl.Delete(context.Background()); err != nil {
		t.Fatalf("deleting a table that is not there: %v", err)
	}
	tbl.Set("skeleton", skeleton())
	sync(t, tbl, false)
	if err := tbl.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names, _ := fake.List(context.Background()); len(names.Chains) != 0 {
		t.Errorf("chains left after Delete: %v", names.Chains)
	}
	sync(t, tbl, false)
	if !strings.Contains(fake.Dump(), "prerouting") {
		t.Errorf("the sync after Delete should write the table again:\n%s", fake.Dump())
	}
}

// An element's comment is part of it: a new comment alone is sent, and the fake holds it.
func TestElementCommentChange(t *testing.T) {
	fake := NewFake(InetFamily, "weft-test")
	tbl := NewTable(fake, "weft: a test")
	tbl.Set("skeleton", skeleton())
	pod := func(comment string) *Contents {
		c := NewContents()
		c.AddElements(&Element{Set: "services", Key: []string{"10.43.0.1", "80"}, Value: []string{"return"}, Comment: comment})
		return c
	}
	tbl.Set("x/a", pod("x/one ingress 0"))
	sync(t, tbl, false)
	tbl.Set("x/a", pod("x/two ingress 0"))
	want := "delete element services { 10.43.0.1 . 80 }\nadd element services { 10.43.0.1 . 80 comment \"x/two ingress 0\" : return }\n"
	if got := sync(t, tbl, false); got != want {
		t.Errorf("a comment change sent:\n%s\nwant:\n%s", got, want)
	}
	if dump := fake.Dump(); !strings.Contains(dump, `10.43.0.1 . 80 comment "x/two ingress 0" : return`) {
		t.Errorf("the fake does not hold the new comment:\n%s", dump)
	}
}
