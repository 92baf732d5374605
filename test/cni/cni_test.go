package cni

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/version"

	"github.com/weftnet/weft/internal/cni"
	"github.com/weftnet/weft/internal/ipam"
)

const (
	v4CIDR = "10.42.0.0/24"
	v6CIDR = "2001:cafe:42::/64"
)

// result is the part of a 1.x ADD result the tests read.
type result struct {
	CNIVersion string `json:"cniVersion"`
	Interfaces []struct {
		Name    string `json:"name"`
		Sandbox string `json:"sandbox"`
	} `json:"interfaces"`
	IPs []struct {
		Interface int    `json:"interface"`
		Address   string `json:"address"`
		Gateway   string `json:"gateway"`
	} `json:"ips"`
	Routes []struct {
		Dst string `json:"dst"`
		GW  string `json:"gw"`
	} `json:"routes"`
}

// add attaches pod and checks the result against the ranges: one address per range, on
// eth0 inside the pod, with the range's first address as gateway.
func (n *node) add(pod *netNS, cidrs ...string) []netip.Addr {
	n.t.Helper()
	out := n.mustCnitool("add", pod.Path)
	var r result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		n.t.Fatalf("ADD result %q: %v", out, err)
	}
	if len(r.IPs) != len(cidrs) || len(r.Routes) != len(cidrs) {
		n.t.Fatalf("ADD result has %d addresses and %d routes for %d ranges: %s", len(r.IPs), len(r.Routes), len(cidrs), out)
	}
	var addrs []netip.Addr
	for i, ip := range r.IPs {
		cidr := netip.MustParsePrefix(cidrs[i])
		a := netip.MustParsePrefix(ip.Address)
		if !cidr.Contains(a.Addr()) || a.Bits() != cidr.Bits() || ip.Gateway != cidr.Addr().Next().String() {
			n.t.Errorf("ADD result address %s via %s does not fit pod CIDR %s", ip.Address, ip.Gateway, cidr)
		}
		if iface := r.Interfaces[ip.Interface]; iface.Name != "eth0" || iface.Sandbox != pod.Path {
			n.t.Errorf("address %s is on interface %+v, want eth0 in %s", ip.Address, iface, pod.Path)
		}
		addrs = append(addrs, a.Addr())
	}
	sorted := slices.SortedFunc(slices.Values(addrs), netip.Addr.Compare)
	if got := slices.SortedFunc(slices.Values(podAddrs(n.t, pod)), netip.Addr.Compare); !slices.Equal(got, sorted) {
		n.t.Errorf("eth0 in the pod has %v, the result says %v", got, addrs)
	}
	return addrs
}

// podAddrs lists the global addresses of eth0 in the pod.
func podAddrs(t *testing.T, pod *netNS) []netip.Addr {
	t.Helper()
	var links []struct {
		Flags    []string `json:"flags"`
		AddrInfo []struct {
			Local string `json:"local"`
			Scope string `json:"scope"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(pod.Exec(t, "ip", "-j", "addr", "show", "dev", "eth0")), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip addr in the pod: %v", err)
	}
	if !slices.Contains(links[0].Flags, "UP") {
		t.Errorf("eth0 in the pod is not up: %v", links[0].Flags)
	}
	var out []netip.Addr
	for _, a := range links[0].AddrInfo {
		if a.Scope == "global" {
			out = append(out, netip.MustParseAddr(a.Local))
		}
	}
	return out
}

func (n *node) leases() []ipam.Lease {
	n.t.Helper()
	s, err := ipam.Open(n.dataDir, n.network)
	if err != nil {
		n.t.Fatal(err)
	}
	l, err := s.Leases()
	if err != nil {
		n.t.Fatal(err)
	}
	return l
}

// hostVeths lists the node's links named like weft-cni's host veths.
func (n *node) hostVeths() []string {
	n.t.Helper()
	var links []struct {
		Name string `json:"ifname"`
	}
	json.Unmarshal([]byte(n.Exec(n.t, "ip", "-j", "link", "show")), &links)
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Name, cni.HostVethPrefix) {
			out = append(out, l.Name)
		}
	}
	return out
}

func ping(t *testing.T, from *netNS, to netip.Addr) {
	t.Helper()
	if out, err := from.Try("ping", "-c1", "-W2", to.String()); err != nil {
		t.Errorf("ping %s from %s: %v\n%s", to, from.Path, err, out)
	}
}

func TestPodsOnOneBridge(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		name  string
		cidrs []string
	}{
		{"dual-stack", []string{v4CIDR, v6CIDR}},
		{"dual-stack IPv6 first", []string{v6CIDR, v4CIDR}},
		{"IPv4-only", []string{v4CIDR}},
		{"IPv6-only", []string{v6CIDR}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t)
			n.writeConf(n.conf("1.1.0", tt.cidrs...))
			a, b := newPod(t), newPod(t)
			addrsA, addrsB := n.add(a, tt.cidrs...), n.add(b, tt.cidrs...)
			for i := range addrsA {
				ping(t, a, addrsB[i])
				ping(t, b, addrsA[i])
				ping(t, a, netip.MustParsePrefix(tt.cidrs[i]).Addr().Next()) // the gateway on the bridge
			}
			// One default route per family, through the gateway.
			for i, c := range tt.cidrs {
				fam := "-4"
				if netip.MustParsePrefix(c).Addr().Is6() {
					fam = "-6"
				}
				gw := netip.MustParsePrefix(tt.cidrs[i]).Addr().Next().String()
				if out := a.Exec(t, "ip", fam, "route", "show", "default"); !strings.Contains(out, "via "+gw+" dev eth0") {
					t.Errorf("default route %s in the pod: %q, want via %s", fam, out, gw)
				}
			}
			if len(tt.cidrs) == 1 {
				other := "-6"
				if strings.Contains(tt.cidrs[0], "::") {
					other = "-4"
				}
				if out := a.Exec(t, "ip", other, "route", "show", "default"); strings.TrimSpace(out) != "" {
					t.Errorf("single-family pod has a default route of the other family: %q", out)
				}
			}
			if out := a.Exec(t, "ip", "-o", "link", "show", "lo"); !strings.Contains(out, ",UP") {
				t.Errorf("lo in the pod is not up: %s", out)
			}
			// The bridge, with its gateways, and the host veths live in the node.
			br := n.Exec(t, "ip", "addr", "show", "dev", "weft0")
			for _, c := range tt.cidrs {
				p := netip.MustParsePrefix(c)
				if !strings.Contains(br, netip.PrefixFrom(p.Addr().Next(), p.Bits()).String()) {
					t.Errorf("bridge lacks the gateway of %s:\n%s", c, br)
				}
			}
			veths := n.hostVeths()
			if len(veths) != 2 {
				t.Fatalf("node has host veths %v, want 2", veths)
			}
			if out := n.Exec(t, "ip", "-d", "link", "show", veths[0]); !strings.Contains(out, "hairpin on") || !strings.Contains(out, "master weft0") {
				t.Errorf("host veth is not a hairpin port of weft0:\n%s", out)
			}
			n.mustCnitool("del", a.Path)
			n.mustCnitool("del", b.Path)
			if l := n.leases(); len(l) != 0 {
				t.Errorf("leases left after DEL: %v", l)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	n.writeConf(n.conf("1.1.0", v4CIDR, v6CIDR))
	pod := newPod(t)
	n.add(pod, v4CIDR, v6CIDR)
	n.mustCnitool("check", pod.Path)
	pod.Exec(t, "ip", "route", "del", "default")
	if _, err := n.cnitool("check", pod.Path); err == nil || !strings.Contains(err.Error(), "default route via 10.42.0.1") {
		t.Fatalf("CHECK after deleting the pod's default route = %v, want a failure naming the route", err)
	}
	n.mustCnitool("del", pod.Path)
}

func TestDel(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	n.writeConf(n.conf("1.1.0", v4CIDR, v6CIDR))
	pod := newPod(t)
	first := n.add(pod, v4CIDR, v6CIDR)
	n.mustCnitool("del", pod.Path)
	n.mustCnitool("del", pod.Path) // twice
	if l, v := n.leases(), n.hostVeths(); len(l) != 0 || len(v) != 0 {
		t.Fatalf("after DEL: leases %v, host veths %v", l, v)
	}
	if out := pod.Exec(t, "ip", "-o", "link", "show"); strings.Contains(out, "eth0") {
		t.Errorf("eth0 is still in the pod after DEL:\n%s", out)
	}

	// DEL after the pod's namespace is gone.
	gone := newPod(t)
	n.add(gone, v4CIDR, v6CIDR)
	gone.Kill()
	n.mustCnitool("del", gone.Path)
	n.mustCnitool("del", gone.Path)
	if l := n.leases(); len(l) != 0 {
		t.Fatalf("leases after DEL of a dead pod: %v", l)
	}
	waitFor(t, "the dead pod's host veth to go", func() bool { return len(n.hostVeths()) == 0 })

	// DEL of a container weft-cni never saw.
	conf := n.conf("1.1.0", v4CIDR)
	conf["cniVersion"] = "1.1.0"
	if _, e := n.plugin(map[string]string{"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "never-added", "CNI_IFNAME": "eth0", "CNI_PATH": pluginDir}, conf); e != nil {
		t.Fatalf("DEL of an unknown container: %+v", e)
	}

	// The freed addresses come back once the range comes round, not at once.
	again := newPod(t)
	next := n.add(again, v4CIDR, v6CIDR)
	if slices.Equal(next, first) {
		t.Errorf("the freed addresses %v were handed out again at once", first)
	}
	n.mustCnitool("del", again.Path)
}

func TestGC(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	n.writeConf(n.conf("1.1.0", v4CIDR, v6CIDR))
	keep, drop := newPod(t), newPod(t)
	keepAddrs := n.add(keep, v4CIDR, v6CIDR)
	n.add(drop, v4CIDR, v6CIDR)

	gc := n.conf("1.1.0", v4CIDR, v6CIDR)
	gc["cni.dev/valid-attachments"] = []map[string]string{{"containerID": containerID(keep.Path), "ifname": "eth0"}}
	if _, e := n.plugin(map[string]string{"CNI_COMMAND": "GC", "CNI_PATH": pluginDir}, gc); e != nil {
		t.Fatalf("GC: %+v", e)
	}
	l := n.leases()
	if len(l) != 1 || l[0].ContainerID != containerID(keep.Path) || !slices.Equal(l[0].IPs, keepAddrs) {
		t.Fatalf("leases after GC = %v, want only %s's", l, containerID(keep.Path))
	}
	if v := n.hostVeths(); !slices.Equal(v, []string{cni.HostVethName(containerID(keep.Path), "eth0")}) {
		t.Fatalf("host veths after GC = %v", v)
	}
	if _, err := drop.Try("ip", "link", "show", "eth0"); err == nil {
		t.Errorf("the dropped pod still has eth0")
	}
	ping(t, keep, netip.MustParseAddr("10.42.0.1"))

	// cnitool's GC names no valid attachment: everything goes.
	n.mustCnitool("gc", "")
	if l, v := n.leases(), n.hostVeths(); len(l) != 0 || len(v) != 0 {
		t.Fatalf("after cnitool gc: leases %v, host veths %v", l, v)
	}
}

func TestStatus(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	statusEnv := map[string]string{"CNI_COMMAND": "STATUS", "CNI_PATH": pluginDir}
	addEnv := func(pod *netNS) map[string]string {
		return map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": containerID(pod.Path), "CNI_NETNS": pod.Path, "CNI_IFNAME": "eth0", "CNI_PATH": pluginDir}
	}

	ready := n.conf("1.1.0", v4CIDR, v6CIDR)
	n.writeConf(ready)
	n.mustCnitool("status", "")
	if _, e := n.plugin(statusEnv, ready); e != nil {
		t.Fatalf("STATUS when ready: %+v", e)
	}

	// The node's ranges are not known yet.
	missing := n.conf("1.1.0")
	delete(missing, "podCIDRs")
	n.writeConf(missing)
	if _, err := n.cnitool("status", ""); err == nil {
		t.Error("cnitool status passed without podCIDRs")
	}
	if _, e := n.plugin(statusEnv, missing); e == nil || e.Code != 50 || !strings.Contains(e.Msg, "podCIDRs") {
		t.Errorf("STATUS without podCIDRs = %+v, want code 50 naming podCIDRs", e)
	}
	pod := newPod(t)
	if _, e := n.plugin(addEnv(pod), missing); e == nil || e.Code != 11 {
		t.Errorf("ADD without podCIDRs = %+v, want code 11", e)
	}

	// A /30 holds one pod.
	small := n.conf("1.1.0", "10.42.0.0/30")
	n.writeConf(small)
	n.mustCnitool("status", "")
	n.add(pod, "10.42.0.0/30")
	if _, e := n.plugin(statusEnv, small); e == nil || e.Code != 50 || !strings.Contains(e.Msg, "10.42.0.0/30") {
		t.Errorf("STATUS with the range full = %+v, want code 50 naming the range", e)
	}
	second := newPod(t)
	if _, e := n.plugin(addEnv(second), small); e == nil || e.Code != 11 {
		t.Errorf("ADD with the range full = %+v, want code 11", e)
	}
	if v := n.hostVeths(); len(v) != 1 {
		t.Errorf("host veths after a failed ADD: %v", v)
	}
	n.mustCnitool("del", pod.Path)
	n.mustCnitool("status", "")
}

func TestAddFailsWhenIfNameExists(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	n.writeConf(n.conf("1.1.0", v4CIDR, v6CIDR))
	pod := newPod(t)
	pod.Exec(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other0")
	_, err := n.cnitool("add", pod.Path)
	if err == nil || !strings.Contains(err.Error(), "CNI_IFNAME eth0 already exists") {
		t.Fatalf("ADD with eth0 already in the pod = %v", err)
	}
	if l, v := n.leases(), n.hostVeths(); len(l) != 0 || len(v) != 0 {
		t.Fatalf("a refused ADD left leases %v and host veths %v", l, v)
	}
	if out := pod.Exec(t, "ip", "-o", "link", "show", "eth0"); !strings.Contains(out, "eth0@other0") {
		t.Errorf("the pod's own eth0 was touched: %s", out)
	}
}

func TestErrorCodes(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	pod := newPod(t)
	env := func(drop ...string) map[string]string {
		e := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": pod.Path, "CNI_IFNAME": "eth0", "CNI_PATH": pluginDir}
		for _, k := range drop {
			delete(e, k)
		}
		return e
	}
	with := func(k string, v any) map[string]any {
		c := n.conf("1.1.0", v4CIDR)
		c[k] = v
		return c
	}
	for _, tt := range []struct {
		name  string
		env   map[string]string
		conf  any
		code  uint
		words []string
	}{
		{"unknown field", env(), with("bridgeName", "x"), 7, []string{`"bridgeName"`}},
		{"invalid podCIDR", env(), with("podCIDRs", []string{"10.42.0.1/24"}), 7, []string{`"podCIDRs"`, "use 10.42.0.0/24"}},
		{"invalid mtu", env(), with("mtu", "big"), 7, []string{`"mtu"`}},
		{"ipam section", env(), with("ipam", map[string]any{"type": "host-local"}), 7, []string{`"ipam"`}},
		{"old cniVersion", env(), with("cniVersion", "0.2.0"), 1, []string{"incompatible"}},
		{"future cniVersion", env(), with("cniVersion", "2.0.0"), 1, []string{"incompatible"}},
		{"no CNI_CONTAINERID", env("CNI_CONTAINERID"), n.conf("1.1.0", v4CIDR), 4, []string{"CNI_CONTAINERID"}},
		{"no CNI_NETNS", env("CNI_NETNS"), n.conf("1.1.0", v4CIDR), 4, []string{"CNI_NETNS"}},
		{"unknown CNI_COMMAND", func() map[string]string { e := env(); e["CNI_COMMAND"] = "ATTACH"; return e }(), n.conf("1.1.0", v4CIDR), 4, []string{"CNI_COMMAND"}},
		{"bad CNI_NETNS", func() map[string]string { e := env(); e["CNI_NETNS"] = "/proc/0/ns/none"; return e }(), n.conf("1.1.0", v4CIDR), 4, []string{"CNI_NETNS"}},
		{"not JSON", env(), `{"cniVersion":`, 6, []string{"unmarshal"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, e := n.plugin(tt.env, tt.conf)
			if e == nil {
				t.Fatal("weft-cni succeeded")
			}
			if e.Code != tt.code {
				t.Errorf("code %d (%s), want %d", e.Code, e.Msg, tt.code)
			}
			for _, w := range tt.words {
				if !strings.Contains(e.Msg+" "+e.Details, w) {
					t.Errorf("error %q / %q lacks %q", e.Msg, e.Details, w)
				}
			}
		})
	}
	if out := n.Exec(t, "ip", "-o", "link", "show"); strings.Contains(out, "weft0") {
		t.Errorf("a failed ADD created the bridge:\n%s", out)
	}
	if l := n.leases(); len(l) != 0 {
		t.Errorf("failed ADDs left leases: %v", l)
	}

	out, e := n.plugin(map[string]string{"CNI_COMMAND": "VERSION"}, `{"cniVersion":"1.1.0"}`)
	if e != nil {
		t.Fatalf("VERSION: %+v", e)
	}
	var info struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	json.Unmarshal([]byte(out), &info)
	if want := []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}; !slices.Equal(info.SupportedVersions, want) {
		t.Errorf("VERSION lists %v, want %v", info.SupportedVersions, want)
	}
}

// TestResultVersions attaches with every older configuration version libcni may use and
// checks that the result decodes as that version.
func TestResultVersions(t *testing.T) {
	needRoot(t)
	for _, v := range []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0"} {
		t.Run(v, func(t *testing.T) {
			n := newNode(t)
			n.writeConf(n.conf(v, v4CIDR, v6CIDR))
			pod := newPod(t)
			out := n.mustCnitool("add", pod.Path)
			r, err := version.NewResult(v, []byte(out))
			if err != nil || r.Version() != v {
				t.Fatalf("result %s does not decode as %s: %v", out, v, err)
			}
			if !strings.Contains(out, "10.42.0.2/24") || !strings.Contains(out, "2001:cafe:42::2/64") {
				t.Errorf("result lacks the addresses: %s", out)
			}
			if v != "0.3.0" && v != "0.3.1" { // CHECK came with 0.4.0
				n.mustCnitool("check", pod.Path)
			}
			n.mustCnitool("del", pod.Path)
			if l := n.leases(); len(l) != 0 {
				t.Errorf("leases after DEL: %v", l)
			}
		})
	}
}

// TestConcurrentAdds attaches pods at once to a node without a bridge yet: the ADDs race to
// create it and to allocate, as a runtime starting many pods makes them.
func TestConcurrentAdds(t *testing.T) {
	needRoot(t)
	n := newNode(t)
	n.writeConf(n.conf("1.1.0", v4CIDR, v6CIDR))
	pods := make([]*netNS, 8)
	for i := range pods {
		pods[i] = newPod(t)
	}
	errs := make(chan error, len(pods))
	for _, p := range pods {
		go func() {
			_, err := n.cnitool("add", p.Path)
			errs <- err
		}()
	}
	for range pods {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[netip.Addr]bool{}
	for _, l := range n.leases() {
		for _, a := range l.IPs {
			if seen[a] {
				t.Errorf("%s leased twice", a)
			}
			seen[a] = true
		}
	}
	if len(seen) != 2*len(pods) || len(n.hostVeths()) != len(pods) {
		t.Fatalf("%d addresses and host veths %v for %d pods", len(seen), n.hostVeths(), len(pods))
	}
	ping(t, pods[0], podAddrs(t, pods[len(pods)-1])[0])
}
