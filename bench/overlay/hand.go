package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/weftnet/weft/internal/netns"
)

// The hand-made baseline copies the lab's shape: a LAN namespace whose bridge br0 joins each
// node's eth0 (a veth pair, MTU 1500), and behind each node a pod namespace attached the way
// weft-cni attaches one: bridge weft0 holding the gateway (.1 of the node's podCIDR), a veth
// port in hairpin mode, eth0 in the pod with a default route via the gateway. The pod-to-pod
// traffic between the same two pods is then sent either routed via the node addresses (what
// host-gw does) or through a VXLAN device in each node (what flannel's vxlan backend does).
const (
	// Names this command owns. A lab's are weft-<lab>-<role> with roles lan, router,
	// control-plane, node-N and external: no lab name yields these.
	nsPrefix = "weft-bench-"
	vxlanDev = "vxlan0"
)

var handNamespaces = []string{"lan0", "node1", "node2", "pod1", "pod2"}

type handNet struct {
	created []string
	mode    string   // "raw", "vxlan" or "wireguard": which way pod traffic goes now
	stops   []func() // the hand-made WireGuard devices, once started
}

func nsName(role string) string { return nsPrefix + role }
func nsPath(role string) string { return netns.Path(nsName(role)) }
func nodeIP(i int) string       { return fmt.Sprintf("192.168.1.%d", 10+i) }
func podCIDR(i int) string      { return fmt.Sprintf("10.42.%d.0/24", i) }
func podIP(i int) string        { return fmt.Sprintf("10.42.%d.2", i) }
func vtepMAC(i int) string      { return fmt.Sprintf("02:00:c0:a8:01:%02x", 10+i) }
func ipn(role string, args ...string) []string {
	return append([]string{"ip", "-n", nsName(role)}, args...)
}

// buildHand creates the namespaces and links. The caller tears down even after an error.
func buildHand(ctx context.Context) (*handNet, error) {
	h := &handNet{}
	for _, role := range handNamespaces {
		_ = netns.Delete(nsName(role)) // left over by a run that was killed
		if err := netns.Create(nsName(role)); err != nil {
			return h, err
		}
		h.created = append(h.created, nsName(role))
	}
	steps := [][]string{
		ipn("lan0", "link", "set", "lo", "up"),
		ipn("lan0", "link", "add", "br0", "type", "bridge"),
		ipn("lan0", "link", "set", "br0", "up"),
	}
	for i := 1; i <= 2; i++ {
		node, pod := fmt.Sprintf("node%d", i), fmt.Sprintf("pod%d", i)
		port := fmt.Sprintf("node-%d", i) // the LAN side is named after the node, as in the lab
		steps = append(steps,
			ipn("lan0", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", nsName(node)),
			ipn("lan0", "link", "set", port, "master", "br0", "up"),
			ipn(node, "link", "set", "lo", "up"),
			ipn(node, "addr", "add", nodeIP(i)+"/24", "dev", "eth0"),
			ipn(node, "link", "set", "eth0", "up"),
			ipn(node, "link", "add", "weft0", "type", "bridge"),
			ipn(node, "addr", "add", fmt.Sprintf("10.42.%d.1/24", i), "dev", "weft0"),
			ipn(node, "link", "set", "weft0", "up"),
			ipn(node, "link", "add", "veth-pod", "type", "veth", "peer", "name", "eth0", "netns", nsName(pod)),
			ipn(node, "link", "set", "veth-pod", "master", "weft0", "up"),
			[]string{"bridge", "-n", nsName(node), "link", "set", "dev", "veth-pod", "hairpin", "on"},
			ipn(pod, "link", "set", "lo", "up"),
			ipn(pod, "addr", "add", podIP(i)+"/24", "dev", "eth0"),
			ipn(pod, "link", "set", "eth0", "up"),
			ipn(pod, "route", "add", "default", "via", fmt.Sprintf("10.42.%d.1", i)),
			// The VTEP: VNI 1 on flannel's port, no learning: peers are written in, as
			// flannel and weft write them, from what each Node publishes.
			ipn(node, "link", "add", vxlanDev, "address", vtepMAC(i), "mtu", "1450", "type", "vxlan",
				"id", "1", "dstport", "8472", "local", nodeIP(i), "dev", "eth0", "nolearning"),
			ipn(node, "addr", "add", fmt.Sprintf("10.42.%d.0/32", i), "dev", vxlanDev),
			ipn(node, "link", "set", vxlanDev, "up"),
		)
	}
	for i, peer := 1, 2; i <= 2; i, peer = i+1, peer-1 {
		node := fmt.Sprintf("node%d", i)
		vtep := fmt.Sprintf("10.42.%d.0", peer)
		steps = append(steps,
			ipn(node, "neigh", "add", vtep, "lladdr", vtepMAC(peer), "dev", vxlanDev, "nud", "permanent"),
			[]string{"bridge", "-n", nsName(node), "fdb", "add", vtepMAC(peer), "dev", vxlanDev, "dst", nodeIP(peer), "self", "permanent"},
		)
	}
	if err := runAll(ctx, steps); err != nil {
		return h, err
	}
	for _, node := range []string{"node1", "node2"} {
		err := netns.Do(nsPath(node), func() error {
			return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
		})
		if err != nil {
			return h, fmt.Errorf("%s: enable forwarding: %w", nsName(node), err)
		}
	}
	return h, h.setMode(ctx, "raw")
}

// setMode sends pod-to-pod traffic routed via the peer node ("raw", MTU 1500 end to end) or
// through the VXLAN devices ("vxlan", pod MTU 1450 so nothing needs fragmenting, as flannel sets it).
func (h *handNet) setMode(ctx context.Context, mode string) error {
	if h.mode == mode {
		return nil
	}
	if mode == "wireguard" && h.stops == nil {
		if err := h.startWireGuard(ctx); err != nil {
			return err
		}
	}
	mtu := map[string]string{"raw": "1500", "vxlan": "1450", "wireguard": "1440"}[mode]
	var steps [][]string
	for i, peer := 1, 2; i <= 2; i, peer = i+1, peer-1 {
		node, pod := fmt.Sprintf("node%d", i), fmt.Sprintf("pod%d", i)
		route := []string{"route", "replace", podCIDR(peer), "via", nodeIP(peer), "dev", "eth0"}
		switch mode {
		case "vxlan":
			route = []string{"route", "replace", podCIDR(peer), "via", fmt.Sprintf("10.42.%d.0", peer), "dev", vxlanDev, "onlink"}
		case "wireguard":
			route = []string{"route", "replace", podCIDR(peer), "dev", wgDevice(i)}
		}
		steps = append(steps,
			ipn(pod, "link", "set", "eth0", "mtu", mtu),
			ipn(node, "link", "set", "veth-pod", "mtu", mtu),
			ipn(node, "link", "set", "weft0", "mtu", mtu),
			ipn(node, route...),
			// Forget path MTUs and TCP metrics learnt in the other mode.
			ipn(pod, "route", "flush", "cache"),
			ipn(pod, "tcp_metrics", "flush", "all"),
		)
	}
	if err := runAll(ctx, steps); err != nil {
		return err
	}
	h.mode = mode
	return nil
}

// teardown unpins every namespace it made; the kernel then frees them with their links, as
// nothing runs inside any more (each measurement waits for its processes).
func (h *handNet) teardown() {
	if h == nil {
		return
	}
	h.stopWireGuard()
	for _, name := range h.created {
		if err := netns.Delete(name); err != nil {
			fmt.Fprintln(os.Stderr, "bench/overlay: cleanup:", err)
		}
	}
}

// paths are the hand-made measurements, by kind: node (eth0 to eth0 over the LAN bridge), raw
// (pod to pod routed via the nodes), vxlan (pod to pod through the VXLAN link), wireguard (pod
// to pod through the userspace WireGuard link).
func (h *handNet) paths(phase string, kinds ...string) []path {
	var out []path
	for _, k := range kinds {
		p := path{phase: phase, client: nsPath("pod1"), server: nsPath("pod2"), dst: podIP(2)}
		switch k {
		case "node":
			p.name, p.client, p.server, p.dst = "veth node->node", nsPath("node1"), nsPath("node2"), nodeIP(2)
		case "raw":
			p.name, p.ref = "raw pod->pod (host-gw by hand)", "veth node->node"
			p.prepare = func(ctx context.Context) error { return h.setMode(ctx, "raw") }
		case "vxlan":
			p.name, p.ref = "VXLAN by hand pod->pod", "raw pod->pod (host-gw by hand)"
			p.prepare = func(ctx context.Context) error { return h.setMode(ctx, "vxlan") }
		case "wireguard":
			p.name, p.ref = "WireGuard by hand pod->pod", "raw pod->pod (host-gw by hand)"
			p.prepare = func(ctx context.Context) error { return h.setMode(ctx, "wireguard") }
		}
		out = append(out, p)
	}
	return out
}

func runAll(ctx context.Context, steps [][]string) error {
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
