package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// overlayScenarios are the host-gw labs: the main labs run vxlan, the default; these run the
// cross-node checks under host-gw in each family, with two nodes and nothing else.
func TestOverlayHostGW(t *testing.T) {
	for _, sc := range []scenario{
		{name: "e2e-hg4", clusterCIDRs: []string{"10.42.0.0/16"}, families: []string{"4"}},
		{name: "e2e-hg6", clusterCIDRs: []string{"2001:cafe:42::/56"}, families: []string{"6"},
			upFlags: []string{"--cluster-cidr", "2001:cafe:42::/56", "--service-cidr", "2001:cafe:43::/112"}},
		{name: "e2e-hgd", clusterCIDRs: []string{"10.42.0.0/16", "2001:cafe:42::/56"}, families: []string{"4", "6"},
			upFlags: []string{"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"}},
	} {
		sc.backend, sc.overlayOnly = "host-gw", true
		sc.upFlags = append(sc.upFlags, "--nodes", "3", "--backend", "host-gw")
		t.Run(sc.name, func(t *testing.T) { testLab(t, sc) })
	}
}

// checkPodToPod: pod c (on cNode) reaches pod b (on node-1) at each of bIPs over ICMP, TCP
// and UDP, and b sees c's own address (cIPs, in the same families): no NAT between pods.
func checkPodToPod(t *testing.T, l *lab, cNode string, bIPs, cIPs []string) {
	t.Helper()
	for i, ip := range bIPs {
		// A pod that has just started may lose its very first packet while the path's
		// neighbours are resolved (seen once in IPv6 host-gw); connectivity is what counts.
		if out, err := l.kubectlErr("exec", "c", "--", "ping", "-c", "3", "-i", "0.5", "-W", "2", ip); err != nil {
			t.Errorf("c on %s cannot ping b on node-1 at %s: %v\n%s", cNode, ip, err, out)
		}
		if out, err := l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "5", httpURL(ip)); err != nil || !strings.Contains(out, "you came from "+cIPs[i]) {
			t.Errorf("c -> %s over TCP: %v\n%s", httpURL(ip), err, out)
		}
		udp := fmt.Sprintf("echo hi | socat -t 3 - UDP:%s:80", bracket(ip))
		if out, err := l.kubectlErr("exec", "c", "--", "sh", "-c", udp); err != nil || !strings.Contains(out, "you came from "+cIPs[i]) {
			t.Errorf("c -> %s over UDP (%s): %v\n%s", ip, udp, err, out)
		}
	}
}

// checkOverlay runs the cross-node checks: c on node-3 reaches b on node-1 and s on node-2 in
// every family over ICMP, TCP and UDP, without NAT, with full-size packets; nodes and pods reach
// each other; a departed node leaves nothing behind; what is deleted by hand comes back; and an
// agent restart does not disturb a stream.
func checkOverlay(t *testing.T, l *lab, sc scenario, bIPs []string) {
	l.apply(t, pinnedPod("c", "node-3", "nicolaka/netshoot", "sleep", "86400"))
	l.apply(t, pinnedPod("s", "node-2", "nicolaka/netshoot", "iperf3", "-s"))
	cIPs, sIPs := l.waitRunning(t, "c"), l.waitRunning(t, "s")

	t.Run("icmp-tcp-udp", func(t *testing.T) { checkPodToPod(t, l, "node-3", bIPs, cIPs) })

	t.Run("full-size-packets", func(t *testing.T) {
		mtu := 1500
		if sc.backend != "host-gw" {
			mtu = 1450
			if strings.Contains(strings.Join(sc.families, ""), "6") {
				mtu = 1430 // the IPv6 VXLAN header is 20 bytes longer; one MTU serves both families
			}
		}
		// sysfs shows the namespace that mounted it, so ask the kernel through netlink.
		if link := l.kubectl("exec", "c", "--", "ip", "-o", "link", "show", "eth0"); !strings.Contains(link, " mtu "+strconv.Itoa(mtu)+" ") {
			t.Errorf("pod MTU: want %d for backend %s:\n%s", mtu, backendOf(sc), link)
		}
		for _, ip := range bIPs {
			size := mtu - 28
			if strings.Contains(ip, ":") {
				size = mtu - 48
			}
			if out, err := l.kubectlErr("exec", "c", "--", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", strconv.Itoa(size), ip); err != nil {
				t.Errorf("a %d-byte packet with DF set does not reach %s: %v\n%s", mtu, ip, err, out)
			}
			out, err := l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "20", "-o", "/dev/null", "-w", "%{size_download}", httpURL(ip)+"bytes/10485760")
			if err != nil || strings.TrimSpace(out) != "10485760" {
				t.Errorf("10 MB from b at %s: got %q bytes, %v", ip, out, err)
			}
		}
	})

	t.Run("pod-to-node-and-back", func(t *testing.T) {
		for i, fam := range sc.families {
			node1 := "192.168.1.11"
			if fam == "6" {
				node1 = "fd00:c0a8:1::11"
			}
			if out, err := l.kubectlErr("exec", "c", "--", "ping", "-c", "1", "-W", "2", node1); err != nil {
				t.Errorf("c on node-3 cannot ping node-1 at %s: %v\n%s", node1, err, out)
			}
			if out, err := l.in("node-1", "ping", "-c", "1", "-W", "2", cIPs[i]); err != nil {
				t.Errorf("node-1 cannot ping c on node-3 at %s: %v\n%s", cIPs[i], err, out)
			}
		}
	})

	t.Run("kernel-state", func(t *testing.T) { checkOverlayKernel(t, l, sc) })
	t.Run("departed-node-leaves-nothing", func(t *testing.T) { checkDepartedNode(t, l, sc) })
	if sc.backend == "host-gw" {
		t.Run("peer-off-the-segment", func(t *testing.T) { checkOffSegmentPeer(t, l, sc) })
	}
	t.Run("deleted-route-comes-back", func(t *testing.T) {
		cidr := podCIDR(t, l, "node-3", sc.families[0])
		if out, err := l.in("node-1", "ip", "route", "del", cidr); err != nil {
			t.Fatalf("delete node-1's route to %s: %v\n%s", cidr, err, out)
		}
		// The deletion succeeded (ip said so); any sync may restore the route at once (Node
		// heartbeats trigger them), so what is checked is that it comes back and carries traffic.
		eventually(t, 45*time.Second, "the agent restores node-1's route to "+cidr, func() error {
			if out, _ := l.in("node-1", "ip", "-"+sc.families[0], "route", "show", cidr, "proto", "87"); strings.TrimSpace(out) == "" {
				return fmt.Errorf("no weft route to %s on node-1", cidr)
			}
			_, err := l.kubectlErr("exec", "c", "--", "ping", "-c", "1", "-W", "1", bIPs[0])
			return err
		})
	})
	t.Run("agent-restart-keeps-streams", func(t *testing.T) { checkAgentRestart(t, l, sIPs[0]) })
}

// checkOverlayKernel looks at node-1's kernel: weft's routes to the two other nodes' pods per
// family, and under vxlan their FDB and neighbour entries.
func checkOverlayKernel(t *testing.T, l *lab, sc scenario) {
	for _, fam := range sc.families {
		routes, _ := l.in("node-1", "ip", "-"+fam, "route", "show", "proto", "87")
		dev, fdbWant := "weft.1", 2
		if fam == "6" {
			dev = "weft-v6.1"
		}
		if sc.backend == "host-gw" {
			dev, fdbWant = "eth0", 0
		}
		if got := strings.Count(routes, "dev "+dev); got != 2 {
			t.Errorf("node-1 has %d IPv%s routes of weft's through %s, want 2:\n%s", got, fam, dev, routes)
		}
		if sc.backend == "host-gw" {
			if links, _ := l.in("node-1", "ip", "link"); strings.Contains(links, "weft.1") {
				t.Errorf("host-gw lab has a VXLAN device:\n%s", links)
			}
			continue
		}
		fdb, _ := l.in("node-1", "bridge", "fdb", "show", "dev", dev)
		if got := strings.Count(fdb, " dst "); got != fdbWant {
			t.Errorf("node-1's %s has %d FDB entries, want %d (one per peer):\n%s", dev, got, fdbWant, fdb)
		}
		if sc.useExternalIP {
			// Peers are reached at their ExternalIPs, not their InternalIPs.
			want := map[string]string{"4": "dst 192.168.10.12", "6": "dst fd00:c0a8:a::12"}[fam]
			if !strings.Contains(fdb, want) {
				t.Errorf("with --use-external-ip node-1's FDB lacks %q:\n%s", want, fdb)
			}
		}
	}
}

// ghostNode creates a Node by hand, as a node that joins would appear, at its addresses (one
// per family of the lab) with podCIDRs numbered by octet.
func ghostNode(t *testing.T, l *lab, name, v4addr, v6 string, sc scenario, octet int) []string {
	var cidrs []string
	ann := map[string]string{"weft.dev/backend-type": backendOf(sc)}
	addrs := []map[string]string{}
	for _, fam := range sc.families {
		if fam == "4" {
			cidrs = append(cidrs, fmt.Sprintf("10.42.%d.0/24", octet))
			addrs = append(addrs, map[string]string{"type": "InternalIP", "address": v4addr})
			ann["weft.dev/public-ip"], ann["weft.dev/vtep-mac"] = v4addr, "02:00:00:00:00:99"
		} else {
			cidrs = append(cidrs, fmt.Sprintf("2001:cafe:42:%x::/64", octet))
			addrs = append(addrs, map[string]string{"type": "InternalIP", "address": v6})
			ann["weft.dev/public-ipv6"], ann["weft.dev/vtep-mac-v6"] = v6, "02:00:00:00:00:98"
		}
	}
	node := map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": name, "annotations": ann},
		"spec":     map[string]any{"podCIDR": cidrs[0], "podCIDRs": cidrs},
		"status":   map[string]any{"addresses": addrs}}
	b, _ := json.Marshal(node)
	path := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l.kubectl("create", "-f", path)
	return cidrs
}

func checkDepartedNode(t *testing.T, l *lab, sc scenario) {
	cidrs := ghostNode(t, l, "ghost", "192.168.1.99", "fd00:c0a8:1::99", sc, 200)
	state := func() string {
		var all []string
		for _, cmd := range [][]string{{"ip", "-4", "route", "show", "proto", "87"}, {"ip", "-6", "route", "show", "proto", "87"},
			{"ip", "neigh", "show", "nud", "permanent"}, {"ip", "-6", "neigh", "show", "nud", "permanent"}, {"bridge", "fdb", "show"}} {
			out, _ := l.in("node-1", cmd...)
			all = append(all, out)
		}
		return strings.Join(all, "\n")
	}
	eventually(t, 30*time.Second, "node-1 routes to the new node's pods", func() error {
		s := state()
		for _, c := range cidrs {
			if !strings.Contains(s, c) {
				return fmt.Errorf("no route to %s:\n%s", c, s)
			}
		}
		if sc.backend != "host-gw" && !strings.Contains(s, "02:00:00:00:00:99") && !strings.Contains(s, "02:00:00:00:00:98") {
			return fmt.Errorf("no FDB or neighbour entry for the new node's VXLAN MAC:\n%s", s)
		}
		return nil
	})
	l.kubectl("delete", "node", "ghost")
	eventually(t, 30*time.Second, "node-1 forgets the departed node", func() error {
		s := state()
		for _, gone := range append(cidrs, "02:00:00:00:00:99", "02:00:00:00:00:98", "192.168.1.99", "fd00:c0a8:1::99") {
			if strings.Contains(s, gone) {
				return fmt.Errorf("%s is still in node-1's kernel:\n%s", gone, s)
			}
		}
		return nil
	})
}

// checkOffSegmentPeer: under host-gw a node outside the L2 segment cannot be a next hop; the
// agents say so on their Node's WeftOverlayReady condition, and take it back when it goes.
func checkOffSegmentPeer(t *testing.T, l *lab, sc scenario) {
	far := "far-away at 10.99.0.5"
	if sc.families[0] == "6" {
		far = "far-away at fd00:99::5"
	}
	ghostNode(t, l, "far-away", "10.99.0.5", "fd00:99::5", sc, 201)
	condition := func() string {
		return l.kubectl("get", "node", "node-1", "-o", `jsonpath={.status.conditions[?(@.type=="WeftOverlayReady")].status} {.status.conditions[?(@.type=="WeftOverlayReady")].message}`)
	}
	eventually(t, 30*time.Second, "node-1 reports far-away unreachable", func() error {
		if c := condition(); !strings.HasPrefix(c, "False") || !strings.Contains(c, far+" is not on this node's L2 segment") {
			return fmt.Errorf("WeftOverlayReady: %q", c)
		}
		return nil
	})
	l.kubectl("delete", "node", "far-away")
	eventually(t, 30*time.Second, "node-1 back to ready", func() error {
		if c := condition(); !strings.HasPrefix(c, "True") {
			return fmt.Errorf("WeftOverlayReady: %q", c)
		}
		return nil
	})
}

// checkAgentRestart kills the agents of both ends during an iperf3 stream from c (node-3) to
// s (node-2): the stream must finish without a reset, and the agents come back.
func checkAgentRestart(t *testing.T, l *lab, server string) {
	done := l.iperf3From("c", server, "-t", "6")
	time.Sleep(2 * time.Second)
	for _, node := range []string{"node-2", "node-3"} {
		killAgent(t, l, node)
	}
	out := <-done
	if received, err := iperf3Received(out); err != nil || received == 0 {
		t.Errorf("iperf3 across an agent restart: %d bytes received, %v\n%s", received, err, out)
	}
	for _, node := range []string{"node-2", "node-3"} {
		eventually(t, 30*time.Second, node+"'s agent back", func() error {
			if agentPID(l, node) == 0 {
				return fmt.Errorf("no agent process in %s", node)
			}
			return nil
		})
	}
}

// iperf3Received reads the bytes received from iperf3 -J's report, which may follow other
// text (kubectl's, an error of exec). No report at all (iperf3 could not connect, or was
// killed) is an error that the caller shows with the whole output, not a panic.
func iperf3Received(out string) (int64, error) {
	start := strings.Index(out, "{")
	if start < 0 {
		return 0, errors.New("iperf3 printed no JSON report")
	}
	var result struct {
		Error string
		End   struct {
			SumReceived struct{ Bytes int64 } `json:"sum_received"`
		}
	}
	if err := json.Unmarshal([]byte(out[start:]), &result); err != nil {
		return 0, fmt.Errorf("iperf3's report: %w", err)
	}
	if result.Error != "" {
		return result.End.SumReceived.Bytes, fmt.Errorf("iperf3: %s", result.Error)
	}
	return result.End.SumReceived.Bytes, nil
}

// agentPID finds the weft agent process in a node's network namespace.
func agentPID(l *lab, node string) int {
	out, _ := runErr(nil, 10*time.Second, "ip", "netns", "pids", fmt.Sprintf("weft-%s-%s", l.name, node))
	for _, f := range strings.Fields(out) {
		cmdline, _ := os.ReadFile("/proc/" + f + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[1] == "agent" {
			pid, _ := strconv.Atoi(f)
			return pid
		}
	}
	return 0
}

func killAgent(t *testing.T, l *lab, node string) {
	pid := agentPID(l, node)
	if pid == 0 {
		t.Fatalf("no agent process in %s", node)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s's agent %d: %v", node, pid, err)
	}
}

func podCIDR(t *testing.T, l *lab, node, fam string) string {
	for _, c := range strings.Fields(l.kubectl("get", "node", node, "-o", "jsonpath={.spec.podCIDRs[*]}")) {
		if strings.Contains(c, ":") == (fam == "6") {
			return c
		}
	}
	t.Fatalf("%s has no IPv%s podCIDR", node, fam)
	return ""
}

func backendOf(sc scenario) string {
	if sc.backend == "" {
		return "vxlan"
	}
	return sc.backend
}

func bracket(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}
