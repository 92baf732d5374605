package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/weftnet/weft/internal/hostport"
)

// fakeHostPorts keeps entries by owner, as the table's comments do.
type fakeHostPorts struct {
	owners  map[string][]string
	failAdd error
	flushed []string
}

func (f *fakeHostPorts) Add(_ context.Context, _ *Config, owner string, entries []hostport.Entry) error {
	if f.failAdd != nil {
		return f.failAdd
	}
	for _, e := range entries {
		f.owners[owner] = append(f.owners[owner], e.String())
	}
	return nil
}

func (f *fakeHostPorts) Remove(_ context.Context, _ *Config, owner string) error {
	delete(f.owners, owner)
	return nil
}

func (f *fakeHostPorts) Retain(_ context.Context, _ *Config, keep func(string) bool) error {
	for o := range f.owners {
		if !keep(o) {
			delete(f.owners, o)
		}
	}
	return nil
}

func (f *fakeHostPorts) Check(_ context.Context, _ *Config, owner string, entries []hostport.Entry) error {
	var want []string
	for _, e := range entries {
		want = append(want, e.String())
	}
	if !slices.Equal(f.owners[owner], want) {
		return fmt.Errorf("have %v, want %v", f.owners[owner], want)
	}
	return nil
}

func (f *fakeHostPorts) FlushUDP(entries []hostport.Entry) error {
	for _, e := range entries {
		if e.Protocol == "udp" {
			f.flushed = append(f.flushed, e.String())
		}
	}
	return nil
}

func (h *harness) withHostPorts() *fakeHostPorts {
	f := &fakeHostPorts{owners: map[string][]string{}}
	h.plugin.HostPorts = f
	return f
}

// confWithPorts is the configuration as libcni hands it over when the list declares the
// capability and the runtime passes portMappings as containerd does.
func (h *harness) confWithPorts(mappings string, podCIDRs ...string) []byte {
	var c map[string]any
	_ = json.Unmarshal(h.conf("1.1.0", podCIDRs...), &c)
	c["capabilities"] = map[string]bool{"portMappings": true}
	var pm any
	if err := json.Unmarshal([]byte(mappings), &pm); err != nil {
		h.t.Fatal(err)
	}
	c["runtimeConfig"] = map[string]any{"portMappings": pm, "bandwidth": map[string]any{}}
	b, _ := json.Marshal(c)
	return b
}

func TestHostPortsAddDelGC(t *testing.T) {
	h := newHarness(t)
	f := h.withHostPorts()
	conf := h.confWithPorts(`[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""},
		{"hostPort":54323,"containerPort":8080,"protocol":"udp","hostIP":"192.168.1.11"}]`, "10.42.0.0/24", "2001:cafe:42::/64")
	a := args("pod1", conf)
	if err := h.plugin.Add(a); err != nil {
		t.Fatal(err)
	}
	want := "tcp *:8080 -> 10.42.0.2:80, tcp *:8080 -> [2001:cafe:42::2]:80, udp 192.168.1.11:54323 -> 10.42.0.2:8080"
	if got := strings.Join(f.owners["pod1/eth0"], ", "); got != want {
		t.Errorf("entries after ADD:\n got %s\nwant %s", got, want)
	}
	if fmt.Sprint(f.flushed) != "[udp 192.168.1.11:54323 -> 10.42.0.2:8080]" {
		t.Errorf("conntrack flushed for %v", f.flushed)
	}
	if err := h.plugin.Check(a); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	delete(f.owners, "pod1/eth0")
	if err := h.plugin.Check(a); err == nil {
		t.Error("CHECK passed with the mappings gone")
	}
	if err := h.plugin.Add(args("pod2", conf)); err != nil {
		t.Fatal(err)
	}
	// DEL removes the mappings even if the runtime no longer passes them.
	if err := h.plugin.Del(args("pod2", h.conf("1.1.0", "10.42.0.0/24", "2001:cafe:42::/64"))); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.owners["pod2/eth0"]; ok {
		t.Errorf("DEL left %v", f.owners)
	}
	// A pod without hostPorts never opens the table: no nft process for its ADD, DEL or GC.
	h.plugin.HostPorts = untouchedHostPorts(t)
	if err := h.plugin.Add(args("plain", h.conf("1.1.0", "10.42.0.0/24"))); err != nil {
		t.Fatal(err)
	}
	if err := h.plugin.Del(args("plain", h.conf("1.1.0", "10.42.0.0/24"))); err != nil {
		t.Fatal(err)
	}
	h.plugin.HostPorts = f
	// GC keeps the valid attachments' mappings only.
	f.owners["pod3/eth0"] = []string{"tcp *:1 -> 10.42.0.9:1"}
	if err := h.plugin.Add(args("pod4", conf)); err != nil {
		t.Fatal(err)
	}
	var gc map[string]any
	_ = json.Unmarshal(h.conf("1.1.0", "10.42.0.0/24"), &gc)
	gc["cni.dev/valid-attachments"] = []any{map[string]string{"containerID": "pod4", "ifname": "eth0"}}
	b, _ := json.Marshal(gc)
	if err := h.plugin.GC(&skel.CmdArgs{StdinData: b}); err != nil {
		t.Fatal(err)
	}
	if len(f.owners) != 1 || f.owners["pod4/eth0"] == nil {
		t.Errorf("GC kept %v, want only pod4/eth0", f.owners)
	}
}

func TestHostPortsFailedAddUndoes(t *testing.T) {
	h := newHarness(t)
	f := h.withHostPorts()
	f.failAdd = errors.New("hostPort tcp *:8080 is already mapped")
	err := h.plugin.Add(args("pod1", h.confWithPorts(`[{"hostPort":8080,"containerPort":80}]`, "10.42.0.0/24")))
	if err == nil || !strings.Contains(err.Error(), "runtimeConfig.portMappings: hostPort tcp *:8080 is already mapped") {
		t.Fatalf("ADD: %v", err)
	}
	if l := h.leases(); len(l) != 0 {
		t.Errorf("failed ADD kept leases %v", l)
	}
	if len(h.kernel.host) != 0 {
		t.Errorf("failed ADD kept links %v", h.kernel.host)
	}
}

func TestHostPortsConfigErrors(t *testing.T) {
	h := newHarness(t)
	_, err := Parse(h.confWithPorts(`[{"hostPort":0,"containerPort":80},{"hostPort":80,"containerPort":80,"protocol":"icmp"}]`, "10.42.0.0/24"))
	for _, w := range []string{`field "runtimeConfig": portMappings[0].hostPort: 0 is not a port`, `portMappings[1].protocol: "icmp" is not a protocol`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	_, err = Parse(h.confWithPorts(`[{"hostPort":80,"containerPort":80,"hostAddress":"1.2.3.4"}]`, "10.42.0.0/24"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "hostAddress"`) {
		t.Errorf("misspelt field: %v", err)
	}
}
