package hostport

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weftnet/weft/internal/goldenfile"
	"github.com/weftnet/weft/internal/nft"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// The e2e spec's three pods on one port, plus a dual-stack pod with no hostIP.
var spec = []struct {
	owner string
	maps  []Mapping
	ips   []netip.Addr
}{
	{"pod1/eth0", []Mapping{{HostPort: 54323, ContainerPort: 8080, Protocol: "TCP", HostIP: "127.0.0.1"}}, addrs("10.42.0.5", "2001:cafe:42::5")},
	{"pod2/eth0", []Mapping{{HostPort: 54323, ContainerPort: 8080, Protocol: "TCP", HostIP: "192.168.1.11"}}, addrs("10.42.0.6", "2001:cafe:42::6")},
	{"pod3/eth0", []Mapping{{HostPort: 54323, ContainerPort: 8080, Protocol: "UDP", HostIP: "192.168.1.11"}}, addrs("10.42.0.7", "2001:cafe:42::7")},
	{"web/eth0", []Mapping{{HostPort: 8080, ContainerPort: 80}, {HostPort: 9132, ContainerPort: 9132, Protocol: "sctp", HostIP: "0.0.0.0"}}, addrs("10.42.0.8", "2001:cafe:42::8")},
}

// command is one weft-cni command: a fresh Rules on the node's table and records, as each
// process opens them, remembering nothing of the commands before it.
func command(fake *nft.Fake, dir string) *Rules {
	return New(func() (nft.Kernel, error) { return fake, nil }, dir, "weft0")
}

func TestRulesGolden(t *testing.T) {
	ctx := context.Background()
	fake := nft.NewFake(nft.InetFamily, Table)
	dir := t.TempDir()
	for _, p := range spec {
		if err := Validate(p.maps); err != nil {
			t.Fatal(err)
		}
		if err := command(fake, dir).Add(ctx, p.owner, Entries(p.maps, p.ips)); err != nil {
			t.Fatalf("%s: %v", p.owner, err)
		}
	}
	goldenfile.Check(t, "testdata/spec.golden", fake.DumpSorted())
	for _, p := range spec {
		if err := command(fake, dir).Check(ctx, p.owner, Entries(p.maps, p.ips)); err != nil {
			t.Errorf("Check %s: %v", p.owner, err)
		}
	}
	err := command(fake, dir).Check(ctx, "pod1/eth0", Entries(spec[1].maps, spec[0].ips))
	if err == nil || !strings.Contains(err.Error(), "for attachment pod2/eth0 instead") || !strings.Contains(err.Error(), "which its portMappings do not have") {
		t.Errorf("Check of the wrong mappings: %v", err)
	}

	// DEL removes exactly the attachment's entries; a second DEL is a no-op.
	for i := 0; i < 2; i++ {
		if err := command(fake, dir).Remove(ctx, "web/eth0"); err != nil {
			t.Fatal(err)
		}
	}
	if d := fake.DumpSorted(); strings.Contains(d, "10.42.0.8") || !strings.Contains(d, "10.42.0.7") {
		t.Errorf("Remove(web) left:\n%s", d)
	}
	// GC keeps only the valid attachments.
	if err := command(fake, dir).Retain(ctx, func(o string) bool { return o == "pod2/eth0" }); err != nil {
		t.Fatal(err)
	}
	if d := fake.DumpSorted(); strings.Contains(d, "10.42.0.5") || strings.Contains(d, "10.42.0.7") || !strings.Contains(d, "10.42.0.6") {
		t.Errorf("Retain(pod2) left:\n%s", d)
	}
	if err := command(fake, dir).Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if d := fake.DumpSorted(); d != "" {
		t.Errorf("Cleanup left:\n%s", d)
	}
	// Nothing to remove on a node without the table.
	if err := command(fake, dir).Remove(ctx, "pod1/eth0"); err != nil {
		t.Errorf("Remove without a table: %v", err)
	}
}

// A host port another attachment holds fails the ADD whole, naming the holder, and leaves
// neither entries nor a record of the refused attachment.
func TestRulesConflict(t *testing.T) {
	ctx := context.Background()
	fake := nft.NewFake(nft.InetFamily, Table)
	dir := t.TempDir()
	if err := command(fake, dir).Add(ctx, "web/eth0", Entries(spec[3].maps, spec[3].ips)); err != nil {
		t.Fatal(err)
	}
	before := fake.DumpSorted()
	err := command(fake, dir).Add(ctx, "thief/eth0", Entries([]Mapping{{HostPort: 1000, ContainerPort: 1}, {HostPort: 8080, ContainerPort: 80}}, addrs("10.42.0.9")))
	if err == nil || !strings.Contains(err.Error(), "hostPort tcp *:8080 -> 10.42.0.9:80 is already mapped to 10.42.0.8:80 for attachment web/eth0") {
		t.Fatalf("conflicting ADD: %v", err)
	}
	if after := fake.DumpSorted(); after != before {
		t.Errorf("the refused ADD changed the table:\n%s", after)
	}
	if _, err := os.Stat(RecordFile(dir, "thief/eth0")); !os.IsNotExist(err) {
		t.Errorf("the refused ADD left a record: %v", err)
	}
	// One host port to two container ports of one pod (a runtime passing what the API server
	// would refuse): refused too, rather than one of them silently winning.
	err = command(fake, dir).Add(ctx, "twice/eth0", Entries([]Mapping{{HostPort: 7000, ContainerPort: 1}, {HostPort: 7000, ContainerPort: 2}}, addrs("10.42.0.9")))
	if err == nil || !strings.Contains(err.Error(), "one host port, two destinations") {
		t.Errorf("ADD of one host port twice: %v", err)
	}
	if after := fake.DumpSorted(); after != before {
		t.Errorf("the refused ADD changed the table:\n%s", after)
	}
}

// Each command rebuilds the table from the records: a table someone deleted, or an entry
// someone added or removed by hand, is back as the records say after the next command; CHECK
// reports the difference and writes nothing.
func TestRulesRepair(t *testing.T) {
	ctx := context.Background()
	fake := nft.NewFake(nft.InetFamily, Table)
	dir := t.TempDir()
	for _, p := range spec[:2] {
		if err := command(fake, dir).Add(ctx, p.owner, Entries(p.maps, p.ips)); err != nil {
			t.Fatal(err)
		}
	}
	want := fake.DumpSorted()
	stray := nft.NewTable(fake, tableComment)
	if _, err := stray.Sync(ctx, true); err != nil { // a table of nothing: everything deleted by hand
		t.Fatal(err)
	}
	if fake.DumpSorted() == want {
		t.Fatal("the stray sync changed nothing")
	}
	err := command(fake, dir).Check(ctx, "pod1/eth0", Entries(spec[0].maps, spec[0].ips))
	if err == nil || !strings.Contains(err.Error(), "does not hold the hostPorts weft-cni wrote") {
		t.Errorf("CHECK of an emptied table: %v", err)
	}
	if err := command(fake, dir).Add(ctx, spec[2].owner, Entries(spec[2].maps, spec[2].ips)); err != nil {
		t.Fatal(err)
	}
	if err := command(fake, dir).Remove(ctx, spec[2].owner); err != nil {
		t.Fatal(err)
	}
	if got := fake.DumpSorted(); got != want {
		t.Errorf("after ADD and DEL of another pod, the table is not the first two pods' again:\n%s\nwant\n%s", got, want)
	}
}

// An attachment without a record opens no kernel: a pod without hostPorts costs DEL and GC
// no nft process.
func TestRulesWithoutRecordsOpenNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "hostports")
	r := New(func() (nft.Kernel, error) { t.Error("opened the kernel"); return nil, errors.New("no kernel") }, dir, "weft0")
	if err := r.Remove(ctx, "plain/eth0"); err != nil {
		t.Error(err)
	}
	if err := r.Retain(ctx, func(string) bool { return false }); err != nil {
		t.Error(err)
	}
	if err := r.Add(ctx, "plain/eth0", nil); err != nil {
		t.Error(err)
	}
}

func TestEntries(t *testing.T) {
	got := Entries([]Mapping{
		{HostPort: 80, ContainerPort: 8080},                               // every address, both families
		{HostPort: 81, ContainerPort: 81, HostIP: "::1", Protocol: "udp"}, // IPv6 only
		{HostPort: 82, ContainerPort: 82, HostIP: "::"},                   // unspecified: every address
		{HostPort: 80, ContainerPort: 8080},                               // duplicate
	}, addrs("10.42.0.5", "2001:cafe:42::5"))
	var s []string
	for _, e := range got {
		s = append(s, e.String())
	}
	want := "tcp *:80 -> 10.42.0.5:8080, tcp *:80 -> [2001:cafe:42::5]:8080, udp [::1]:81 -> [2001:cafe:42::5]:81, tcp *:82 -> 10.42.0.5:82, tcp *:82 -> [2001:cafe:42::5]:82"
	if strings.Join(s, ", ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(s, ", "), want)
	}
	if e := Entries([]Mapping{{HostPort: 80, ContainerPort: 80, HostIP: "192.168.1.11"}}, addrs("2001:cafe:42::5")); len(e) != 0 {
		t.Errorf("an IPv4 hostIP on an IPv6-only pod mapped to %v", e)
	}
}

func TestValidate(t *testing.T) {
	err := Validate([]Mapping{
		{HostPort: 0, ContainerPort: 80},
		{HostPort: 80, ContainerPort: 70000, Protocol: "icmp"},
		{HostPort: 80, ContainerPort: 80, HostIP: "node-1"},
	})
	for _, w := range []string{"portMappings[0].hostPort: 0 is not a port", "portMappings[1].containerPort", `portMappings[1].protocol: "icmp" is not a protocol`, `portMappings[2].hostIP: "node-1"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if err := Validate([]Mapping{{HostPort: 80, ContainerPort: 80, Protocol: "Sctp", HostIP: "fe80::1"}}); err != nil {
		t.Error(err)
	}
}
