package hostport

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/weftnet/weft/internal/goldenfile"
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

func TestRulesGolden(t *testing.T) {
	ctx := context.Background()
	fake := knftables.NewFake(knftables.InetFamily, Table)
	r := New(fake)
	for _, p := range spec {
		if err := Validate(p.maps); err != nil {
			t.Fatal(err)
		}
		if err := r.Add(ctx, p.owner, "weft0", Entries(p.maps, p.ips)); err != nil {
			t.Fatalf("%s: %v", p.owner, err)
		}
	}
	got := fake.Dump()
	golden := "testdata/spec.golden"
	if goldenfile.Updating() {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("table differs from %s (go test -update):\n%s", golden, got)
	}
	for _, p := range spec {
		if err := r.Check(ctx, p.owner, Entries(p.maps, p.ips)); err != nil {
			t.Errorf("Check %s: %v", p.owner, err)
		}
	}

	if err := r.Check(ctx, "pod1/eth0", Entries(spec[1].maps, spec[0].ips)); err == nil {
		t.Error("Check of the wrong mappings passed")
	}

	// DEL removes exactly the attachment's entries; a second DEL is a no-op.
	for i := 0; i < 2; i++ {
		if err := r.Remove(ctx, "web/eth0"); err != nil {
			t.Fatal(err)
		}
	}
	if d := fake.Dump(); strings.Contains(d, "web/eth0") || !strings.Contains(d, "pod3/eth0") {
		t.Errorf("Remove(web) left:\n%s", d)
	}
	// GC keeps only the valid attachments.
	if err := r.Retain(ctx, func(o string) bool { return o == "pod2/eth0" }); err != nil {
		t.Fatal(err)
	}
	if d := fake.Dump(); strings.Contains(d, "pod1/eth0") || strings.Contains(d, "pod3/eth0") || !strings.Contains(d, "pod2/eth0") {
		t.Errorf("Retain(pod2) left:\n%s", d)
	}
	if err := r.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if d := fake.Dump(); d != "" {
		t.Errorf("Cleanup left:\n%s", d)
	}
	// Nothing to remove on a node without the table.
	if err := r.Remove(ctx, "pod1/eth0"); err != nil {
		t.Errorf("Remove without a table: %v", err)
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
