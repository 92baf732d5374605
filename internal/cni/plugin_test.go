package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/weftnet/weft/internal/ipam"
	"github.com/weftnet/weft/internal/nft"
)

type harness struct {
	t       *testing.T
	kernel  *fakeKernel
	dataDir string
	out     bytes.Buffer
	plugin  *Plugin
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, kernel: newFakeKernel(), dataDir: t.TempDir()}
	h.plugin = &Plugin{Kernel: h.kernel, HostPorts: untouchedHostPorts(t), Stdout: &h.out}
	return h
}

// untouchedHostPorts is the real hostPort table with a kernel that fails the test when opened:
// a pod without hostPorts must cost no nft process.
func untouchedHostPorts(t *testing.T) *nodeHostPorts {
	return &nodeHostPorts{open: func() (nft.Kernel, error) {
		t.Error("a command without hostPorts opened the hostPort table")
		return nil, errors.New("no hostPort table in this test")
	}}
}

func (h *harness) conf(cniVersion string, podCIDRs ...string) []byte {
	c := map[string]any{"cniVersion": cniVersion, "name": "weft", "type": "weft-cni", "podCIDRs": podCIDRs, "dataDir": h.dataDir}
	b, _ := json.Marshal(c)
	return b
}

func args(id string, conf []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: id, Netns: "/proc/1/ns/net-" + id, IfName: "eth0", StdinData: conf}
}

func (h *harness) leases() []ipam.Lease {
	s, err := ipam.Open(h.dataDir, "weft")
	if err != nil {
		h.t.Fatal(err)
	}
	l, err := s.Leases()
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func code(err error) uint {
	var e *types.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return types.ErrInternal
}

func TestAddDualStack(t *testing.T) {
	h := newHarness(t)
	conf := h.conf("1.1.0", "10.42.0.0/24", "2001:cafe:42::/64")
	a := args("pod1", conf)
	if err := h.plugin.Add(a); err != nil {
		t.Fatal(err)
	}
	var r current.Result
	if err := json.Unmarshal(h.out.Bytes(), &r); err != nil {
		t.Fatalf("result %s: %v", h.out.String(), err)
	}
	if r.CNIVersion != "1.1.0" || len(r.Interfaces) != 3 || len(r.IPs) != 2 || len(r.Routes) != 2 {
		t.Fatalf("result = %s", h.out.String())
	}
	pod := r.Interfaces[2]
	if pod.Name != "eth0" || pod.Sandbox != a.Netns || r.Interfaces[1].Name != HostVethName("pod1", "eth0") || r.Interfaces[0].Name != DefaultBridge {
		t.Errorf("interfaces = %v %v %v", r.Interfaces[0], r.Interfaces[1], r.Interfaces[2])
	}
	wantIPs := []string{"10.42.0.2/24 via 10.42.0.1", "2001:cafe:42::2/64 via 2001:cafe:42::1"}
	for i, ip := range r.IPs {
		if got := ip.Address.String() + " via " + ip.Gateway.String(); got != wantIPs[i] || *ip.Interface != 2 {
			t.Errorf("ips[%d] = %s on interface %d, want %s on 2", i, got, *ip.Interface, wantIPs[i])
		}
	}
	if r.Routes[0].Dst.String() != "0.0.0.0/0" || r.Routes[1].Dst.String() != "::/0" {
		t.Errorf("routes = %v %v", r.Routes[0], r.Routes[1])
	}
	br := h.kernel.bridges[DefaultBridge]
	if fmt.Sprint(br.Gateways) != "[10.42.0.1/24 2001:cafe:42::1/64]" || br.MTU != DefaultMTU {
		t.Errorf("bridge = %+v", br)
	}
	if l := h.leases(); len(l) != 1 || l[0].ContainerID != "pod1" {
		t.Errorf("leases = %v", l)
	}
	if err := h.plugin.Check(a); err != nil {
		t.Errorf("CHECK right after ADD: %v", err)
	}
}

func TestAddResultVersions(t *testing.T) {
	for _, v := range Versions.SupportedVersions() {
		t.Run(v, func(t *testing.T) {
			h := newHarness(t)
			if err := h.plugin.Add(args("pod1", h.conf(v, "10.42.0.0/24", "2001:cafe:42::/64"))); err != nil {
				t.Fatal(err)
			}
			r, err := version.NewResult(v, h.out.Bytes())
			if err != nil {
				t.Fatalf("result %s does not decode as %s: %v", h.out.String(), v, err)
			}
			if r.Version() != v {
				t.Errorf("result version %s, want %s", r.Version(), v)
			}
			if !strings.Contains(h.out.String(), "2001:cafe:42::2/64") {
				t.Errorf("result lacks the IPv6 address: %s", h.out.String())
			}
		})
	}
}

func TestAddMergesPrevResult(t *testing.T) {
	h := newHarness(t)
	var c map[string]any
	json.Unmarshal(h.conf("1.0.0", "10.42.0.0/24"), &c)
	c["prevResult"] = map[string]any{"cniVersion": "1.0.0",
		"interfaces": []any{map[string]any{"name": "other"}},
		"ips":        []any{map[string]any{"address": "192.0.2.5/24", "interface": 0}}}
	conf, _ := json.Marshal(c)
	if err := h.plugin.Add(args("pod1", conf)); err != nil {
		t.Fatal(err)
	}
	var r current.Result
	json.Unmarshal(h.out.Bytes(), &r)
	if len(r.Interfaces) != 4 || len(r.IPs) != 2 || *r.IPs[1].Interface != 3 || r.Interfaces[0].Name != "other" {
		t.Fatalf("merged result = %s", h.out.String())
	}
}

func TestAddFailures(t *testing.T) {
	tests := []struct {
		name     string
		podCIDRs []string
		setup    func(h *harness)
		netns    string
		wantCode uint
		wantMsg  string
	}{
		{name: "node not ready", wantCode: types.ErrTryAgainLater, wantMsg: "podCIDRs"},
		{name: "range exhausted", podCIDRs: []string{"10.42.0.0/30"}, wantCode: types.ErrTryAgainLater, wantMsg: "10.42.0.0/30",
			setup: func(h *harness) {
				if err := h.plugin.Add(args("first", h.conf("1.1.0", "10.42.0.0/30"))); err != nil {
					h.t.Fatal(err)
				}
			}},
		{name: "ifname exists", podCIDRs: []string{"10.42.0.0/24"}, wantCode: types.ErrInvalidEnvironmentVariables, wantMsg: "CNI_IFNAME eth0 already exists",
			setup: func(h *harness) {
				h.kernel.pods["/proc/1/ns/net-pod"] = map[string]Pod{"eth0": {}}
			}},
		{name: "netns missing", podCIDRs: []string{"10.42.0.0/24"}, netns: "/missing", wantCode: types.ErrInvalidEnvironmentVariables, wantMsg: "CNI_NETNS"},
		{name: "kernel fails mid-way", podCIDRs: []string{"10.42.0.0/24", "2001:cafe:42::/64"}, wantCode: types.ErrInternal, wantMsg: "route add failed",
			setup: func(h *harness) { h.kernel.failWith = errors.New("route add failed") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			before := h.leases()
			a := args("pod", h.conf("1.1.0", tt.podCIDRs...))
			if tt.netns != "" {
				a.Netns = tt.netns
			}
			h.out.Reset()
			err := h.plugin.Add(a)
			if code(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("ADD = %v (code %d), want code %d with %q", err, code(err), tt.wantCode, tt.wantMsg)
			}
			if h.out.Len() != 0 {
				t.Errorf("a failed ADD printed a result: %s", h.out.String())
			}
			if after := h.leases(); len(after) != len(before) {
				t.Errorf("leases went from %v to %v", before, after)
			}
			if _, ok := h.kernel.host[HostVethName("pod", "eth0")]; ok {
				t.Errorf("the host veth of the failed ADD is left behind")
			}
		})
	}
}

func TestDelIsIdempotent(t *testing.T) {
	h := newHarness(t)
	conf := h.conf("1.1.0", "10.42.0.0/24")
	a := args("pod1", conf)
	if err := h.plugin.Add(a); err != nil {
		t.Fatal(err)
	}
	for i, netns := range []string{a.Netns, a.Netns, "", "/missing"} {
		a.Netns = netns
		if err := h.plugin.Del(a); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if l := h.leases(); len(l) != 0 {
		t.Fatalf("leases after DEL = %v", l)
	}
	if len(h.kernel.host) != 0 {
		t.Fatalf("host links after DEL = %v", h.kernel.host)
	}
	if err := h.plugin.Del(args("never-added", conf)); err != nil {
		t.Fatalf("DEL of an unknown container: %v", err)
	}
	// DEL works before the node has ranges too.
	if err := h.plugin.Del(args("pod1", h.conf("1.1.0"))); err != nil {
		t.Fatalf("DEL without podCIDRs: %v", err)
	}
}

func TestCheck(t *testing.T) {
	h := newHarness(t)
	conf := h.conf("1.1.0", "10.42.0.0/24", "2001:cafe:42::/64")
	a := args("pod1", conf)
	if err := h.plugin.Add(a); err != nil {
		t.Fatal(err)
	}
	withPrev := func(prev []byte) *skel.CmdArgs {
		var c map[string]json.RawMessage
		json.Unmarshal(conf, &c)
		c["prevResult"] = prev
		b, _ := json.Marshal(c)
		return &skel.CmdArgs{ContainerID: a.ContainerID, Netns: a.Netns, IfName: a.IfName, StdinData: b}
	}
	if err := h.plugin.Check(withPrev(h.out.Bytes())); err != nil {
		t.Fatalf("CHECK with the ADD's result: %v", err)
	}
	wrong := bytes.Replace(h.out.Bytes(), []byte("10.42.0.2/24"), []byte("10.42.0.9/24"), 1)
	if err := h.plugin.Check(withPrev(wrong)); err == nil || !strings.Contains(err.Error(), "lease holds") {
		t.Errorf("CHECK with a prevResult that differs from the lease = %v", err)
	}

	pod := h.kernel.pods[a.Netns]["eth0"]
	pod.Gateways = pod.Gateways[:1] // the IPv6 default route is gone
	h.kernel.pods[a.Netns]["eth0"] = pod
	if err := h.plugin.Check(a); err == nil {
		t.Error("CHECK passed without the IPv6 default route")
	}

	s, _ := ipam.Open(h.dataDir, "weft")
	s.Release(ipam.Key{ContainerID: "pod1", IfName: "eth0"})
	if err := h.plugin.Check(a); err == nil || !strings.Contains(err.Error(), "no address lease") {
		t.Errorf("CHECK without a lease = %v", err)
	}
}

func TestGC(t *testing.T) {
	h := newHarness(t)
	conf := h.conf("1.1.0", "10.42.0.0/24")
	for _, id := range []string{"keep", "drop1", "drop2"} {
		if err := h.plugin.Add(args(id, conf)); err != nil {
			t.Fatal(err)
		}
	}
	// A veth on the bridge whose lease is already gone.
	h.kernel.host[HostVethPrefix+"orphan"] = DefaultBridge
	// A port of the bridge that weft did not create.
	h.kernel.host["eth9"] = DefaultBridge

	var c map[string]any
	json.Unmarshal(conf, &c)
	c["cni.dev/valid-attachments"] = []map[string]string{{"containerID": "keep", "ifname": "eth0"}}
	c["cni.dev/attachments"] = c["cni.dev/valid-attachments"]
	gc, _ := json.Marshal(c)
	if err := h.plugin.GC(&skel.CmdArgs{StdinData: gc}); err != nil {
		t.Fatal(err)
	}
	if l := h.leases(); len(l) != 1 || l[0].ContainerID != "keep" {
		t.Errorf("leases after GC = %v", l)
	}
	ports, _ := h.kernel.BridgePorts(DefaultBridge)
	if want := []string{"eth9", HostVethName("keep", "eth0")}; !slices.Equal(ports, want) {
		t.Errorf("bridge ports after GC = %v, want %v", ports, want)
	}
	// Without a list, nothing is valid.
	if err := h.plugin.GC(&skel.CmdArgs{StdinData: conf}); err != nil {
		t.Fatal(err)
	}
	if l := h.leases(); len(l) != 0 {
		t.Errorf("leases after GC without valid attachments = %v", l)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name     string
		conf     []byte
		wantCode uint
	}{
		{"ready", h.conf("1.1.0", "10.42.0.0/24", "2001:cafe:42::/64"), 0},
		{"no podCIDRs", h.conf("1.1.0"), ErrNotAvailable},
	}
	for _, tt := range tests {
		err := h.plugin.Status(&skel.CmdArgs{StdinData: tt.conf})
		if (err == nil && tt.wantCode != 0) || (err != nil && code(err) != tt.wantCode) {
			t.Errorf("%s: STATUS = %v, want code %d", tt.name, err, tt.wantCode)
		}
	}
	full := h.conf("1.1.0", "10.42.0.0/30")
	if err := h.plugin.Add(args("only", full)); err != nil {
		t.Fatal(err)
	}
	if err := h.plugin.Status(&skel.CmdArgs{StdinData: full}); code(err) != ErrNotAvailable || !strings.Contains(err.Error(), "10.42.0.0/30") {
		t.Errorf("STATUS on a full range = %v, want code 50 naming the range", err)
	}
}

func TestHostVethName(t *testing.T) {
	a, b := HostVethName("c1", "eth0"), HostVethName("c1", "net1")
	if len(a) != 15 || !strings.HasPrefix(a, HostVethPrefix) || a == b || a != HostVethName("c1", "eth0") {
		t.Fatalf("HostVethName: %q %q", a, b)
	}
}
