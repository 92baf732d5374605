package dns

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/netns"
	"github.com/weftnet/weft/internal/netns/netnstest"
	"github.com/weftnet/weft/internal/nft"
)

// fakeAddrs records what is held on lo.
type fakeAddrs struct{ held []netip.Addr }

func (f *fakeAddrs) Ensure(addrs []netip.Addr) error {
	for _, a := range addrs {
		if !slices.Contains(f.held, a) {
			f.held = append(f.held, a)
		}
	}
	return nil
}

func (f *fakeAddrs) Remove(addrs []netip.Addr) error {
	f.held = slices.DeleteFunc(f.held, func(a netip.Addr) bool { return slices.Contains(addrs, a) })
	return nil
}

func TestTableGolden(t *testing.T) {
	fake := nft.NewFake(nft.InetFamily, Table)
	addrs := []netip.Addr{netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("2001:cafe:43::a")}
	if err := writeTable(context.Background(), nft.NewTable(fake, tableComment), addrs); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, filepath.Join("testdata", "table.golden"), fake.DumpSorted())
}

// TestHoldFollowsTheService: a new address is added to lo and the table; one no longer
// wanted (here, from a previous run) is taken away; Cleanup removes all of it.
func TestHoldFollowsTheService(t *testing.T) {
	ctx := context.Background()
	fake := nft.NewFake(nft.InetFamily, Table)
	lo := &fakeAddrs{}
	s := New(Defaults(), fake, lo, nil, nil)
	s.serve = newListeners(s.handler, 0) // port 0: binds anywhere without privileges
	old := netip.MustParseAddr("127.0.0.53")
	if err := s.hold(ctx, []netip.Addr{old}); err != nil {
		t.Skip("cannot bind on 127.0.0.53 here:", err)
	}
	// A restarted agent finds what the previous run held in the table.
	if prev, err := tableAddrs(ctx, New(Defaults(), fake, lo, nil, nil).table); err != nil || !slices.Equal(prev, []netip.Addr{old}) {
		t.Fatalf("a restarted server reads %v, %v from the table, want %v", prev, err, old)
	}
	now := netip.MustParseAddr("127.0.0.54")
	if err := s.hold(ctx, []netip.Addr{now}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lo.held, []netip.Addr{now}) || !strings.Contains(fake.Dump(), "127.0.0.54") || strings.Contains(fake.Dump(), "127.0.0.53") {
		t.Fatalf("held %v, table:\n%s", lo.held, fake.Dump())
	}
	if len(s.serve.byAddr) != 1 || s.serve.byAddr[now] == nil {
		t.Fatalf("listeners %v", s.serve.byAddr)
	}
	s.serve.close()
	if err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if len(lo.held) != 0 || strings.Contains(fake.Dump(), "table") {
		t.Fatalf("after Cleanup: held %v, table:\n%s", lo.held, fake.Dump())
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Defaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"mode", func(o *Options) { o.Mode = "coredns" }, "--dns"},
		{"domain", func(o *Options) { o.Domain = "" }, "--cluster-domain"},
		{"ttl", func(o *Options) { o.TTL = 0 }, "--dns-ttl"},
		{"upstream", func(o *Options) { o.Upstreams = []string{"resolver.example"} }, "--dns-upstream"},
		{"service", func(o *Options) { o.Service = "kube-dns" }, "--dns-service"},
		{"address", func(o *Options) { o.Addresses = []string{"10.43.0"} }, "--dns-address"},
		{"cache", func(o *Options) { o.CacheSize = -1 }, "--dns-cache-size"},
	} {
		o := Defaults()
		c.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.want)
		}
	}
}

// TestTableInKernel writes the table into the kernel of a network namespace the test makes,
// changes its addresses (an element swap), reads them back as a restarted agent would, and
// deletes it.
func TestTableInKernel(t *testing.T) {
	ns := netnstest.Scratch(t, "dns")
	k, err := nft.New(nft.InetFamily, Table, netns.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	table := nft.NewTable(k, tableComment)
	for _, addrs := range [][]netip.Addr{
		{netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("2001:cafe:43::a")},
		{netip.MustParseAddr("10.43.0.11")},
	} {
		if err := writeTable(ctx, table, addrs); err != nil {
			t.Fatal(err)
		}
		got, err := tableAddrs(ctx, nft.NewTable(k, tableComment))
		if err != nil || !slices.Equal(got, addrs) {
			t.Fatalf("the kernel's table holds %v, %v; want %v", got, err, addrs)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", Table).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "questions to the cluster DNS: untracked") {
		t.Errorf("nft list table: %v\n%s", err, out)
	}
	if err := deleteTable(ctx, table); err != nil {
		t.Fatal(err)
	}
	if got, err := tableAddrs(ctx, table); err != nil || len(got) > 0 {
		t.Errorf("after deleteTable the table holds %v, %v", got, err)
	}
	if err := deleteTable(ctx, table); err != nil {
		t.Errorf("deleting a table that is gone: %v", err)
	}
}
