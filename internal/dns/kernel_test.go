package dns

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
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
	nft := knftables.NewFake(knftables.InetFamily, Table)
	addrs := []netip.Addr{netip.MustParseAddr("10.43.0.10"), netip.MustParseAddr("2001:cafe:43::a")}
	if err := writeTable(context.Background(), nft, addrs); err != nil {
		t.Fatal(err)
	}
	got := nft.Dump()
	golden := filepath.Join("testdata", "table.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Fatalf("table differs from %s:\n%s", golden, got)
	}
}

// TestHoldFollowsTheService: a new address is added to lo and the table; one no longer
// wanted (here, from a previous run) is taken away; Cleanup removes all of it.
func TestHoldFollowsTheService(t *testing.T) {
	ctx := context.Background()
	nft := knftables.NewFake(knftables.InetFamily, Table)
	lo := &fakeAddrs{}
	s := New(Defaults(), nft, lo, nil, nil)
	s.serve = newListeners(s.handler, 0) // port 0: binds anywhere without privileges
	old := netip.MustParseAddr("127.0.0.53")
	if err := s.hold(ctx, []netip.Addr{old}); err != nil {
		t.Skip("cannot bind on 127.0.0.53 here:", err)
	}
	now := netip.MustParseAddr("127.0.0.54")
	if err := s.hold(ctx, []netip.Addr{now}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lo.held, []netip.Addr{now}) || !strings.Contains(nft.Dump(), "127.0.0.54") || strings.Contains(nft.Dump(), "127.0.0.53") {
		t.Fatalf("held %v, table:\n%s", lo.held, nft.Dump())
	}
	if len(s.serve.byAddr) != 1 || s.serve.byAddr[now] == nil {
		t.Fatalf("listeners %v", s.serve.byAddr)
	}
	s.serve.close()
	if err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if len(lo.held) != 0 || strings.Contains(nft.Dump(), "table") {
		t.Fatalf("after Cleanup: held %v, table:\n%s", lo.held, nft.Dump())
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
