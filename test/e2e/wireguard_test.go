package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWireGuard runs one dual-stack lab of two nodes under --backend wireguard: pods reach
// pods across nodes in both families without NAT; the LAN carries nothing between the nodes but
// WireGuard datagrams; the Node publishes the public key and never the private one; full-size
// packets with DF pass; a Node that joins or leaves is in or out of the peer list; a key
// rotation and an agent restart keep a running stream alive.
func TestWireGuard(t *testing.T) {
	l := &lab{t: t, bin: weftBin(t), name: "e2e-wg", port: 16463}
	downAtCleanupAndCompareHost(t, l)
	up := append([]string{"lab", "up", "--https-listen-port", strconv.Itoa(l.port), "--nodes", "2", "--backend", "wireguard",
		"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"}, l.labFlags()...)
	t.Logf("lab up:\n%s", l.weft(up...))

	l.apply(t, pinnedPod("b", "node-1", "nginx"))
	l.apply(t, pinnedPod("s", "node-1", "nicolaka/netshoot", "iperf3", "-s"))
	l.apply(t, pinnedPod("c", "node-2", "nicolaka/netshoot", "sleep", "86400"))
	bIPs, sIPs, cIPs := l.waitRunning(t, "b"), l.waitRunning(t, "s"), l.waitRunning(t, "c")
	if len(bIPs) != 2 || len(cIPs) != 2 {
		t.Fatalf("pods need one address per family: b %v, c %v", bIPs, cIPs)
	}

	t.Run("annotation", func(t *testing.T) { checkWireGuardAnnotation(t, l) })
	t.Run("pod-to-pod", func(t *testing.T) { checkPodToPod(t, l, "node-2", bIPs, cIPs) })
	t.Run("capture", func(t *testing.T) { checkWireGuardCapture(t, l, bIPs, cIPs) })
	t.Run("show", func(t *testing.T) {
		out, err := l.wireguard("node-1", "show")
		// Node-2's podCIDRs, whichever the controller gave it: the order nodes register in is not fixed.
		peerCIDRs := strings.ReplaceAll(strings.TrimSpace(l.kubectl("get", "node", "node-2", "-o", "jsonpath={.spec.podCIDRs}")), `"`, "")
		peerCIDRs = strings.NewReplacer("[", "", "]", "", ",", ", ").Replace(peerCIDRs)
		for _, want := range []string{"interface: weft-wg", "listening port: 51820", "endpoint: 192.168.1.12:51820",
			"allowed ips: " + peerCIDRs, "latest handshake: ", " received, "} {
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("weft wireguard show on node-1 lacks %q: %v\n%s", want, err, out)
			}
		}
		if strings.Contains(out, "latest handshake: never") {
			t.Errorf("node-1 never completed a handshake with node-2 after traffic flowed:\n%s", out)
		}
	})
	t.Run("path-mtu", func(t *testing.T) { checkWireGuardMTU(t, l, bIPs) })
	t.Run("join-leave", func(t *testing.T) { checkWireGuardJoinLeave(t, l) })
	t.Run("rotate", func(t *testing.T) { checkWireGuardRotate(t, l, sIPs[0], bIPs) })
	t.Run("agent-restart", func(t *testing.T) { checkWireGuardAgentRestart(t, l, sIPs[0], cIPs) })
	l.weft(append([]string{"lab", "down"}, l.labFlags()...)...)
}

// wireguard runs `weft wireguard ARGS` inside a node, as a user on the node would.
func (l *lab) wireguard(node string, args ...string) (string, error) {
	return l.weftErr(append(append([]string{"lab", "exec"}, l.labFlags()...), append([]string{node, "--", l.bin, "wireguard"}, args...)...)...)
}

func (l *lab) nodeAnnotations(t *testing.T, node string) map[string]string {
	var n struct {
		Metadata struct{ Annotations map[string]string }
	}
	l.kubectlJSON(&n, "get", "node", node)
	return n.Metadata.Annotations
}

// privateKeyFile is node's WireGuard private key as the node's own /var/lib holds it.
func (l *lab) privateKeyFile(node string) string {
	return filepath.Join(l.dataDir(), "labs", l.name, "nodes", node, "rootfs", "var-lib", "upper", "weft", "wireguard", "private.key")
}

func checkWireGuardAnnotation(t *testing.T, l *lab) {
	ann := l.nodeAnnotations(t, "node-1")
	pub, err := base64.StdEncoding.DecodeString(ann["weft.dev/wireguard-public-key"])
	if err != nil || len(pub) != 32 {
		t.Errorf("weft.dev/wireguard-public-key=%q is no 32-byte key: %v", ann["weft.dev/wireguard-public-key"], err)
	}
	if m := ann["weft.dev/wireguard-mode"]; m != "kernel" && m != "userspace" {
		t.Errorf("weft.dev/wireguard-mode=%q, want kernel or userspace", m)
	}
	st, err := os.Stat(l.privateKeyFile("node-1"))
	if err != nil {
		t.Fatalf("node-1's private key file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key file mode %04o, want 0600", st.Mode().Perm())
	}
	priv, _ := os.ReadFile(l.privateKeyFile("node-1"))
	secret := strings.TrimSpace(string(priv))
	for k, v := range ann {
		if len(secret) < 40 || strings.Contains(v, secret) {
			t.Errorf("annotation %s holds the private key (or the key file is empty)", k)
		}
	}
	if strings.Contains(l.kubectl("get", "node", "-o", "yaml"), secret) {
		t.Errorf("the private key is in the API")
	}
}

// checkWireGuardCapture watches every port of the lab LAN's bridge while c fetches from b in
// both families, and checks that the nodes exchanged nothing but WireGuard.
func checkWireGuardCapture(t *testing.T, l *lab, bIPs, cIPs []string) {
	c, err := startCapture(fmt.Sprintf("weft-%s-lan", l.name))
	if err != nil {
		t.Fatalf("capture on the LAN: %v", err)
	}
	for _, ip := range bIPs {
		_, _ = l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "5", httpURL(ip))
		_, _ = l.kubectlErr("exec", "c", "--", "ping", "-c", "2", "-i", "0.3", "-W", "2", ip)
	}
	settle()
	frames, err := c.Stop()
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	assertOnlyWireGuard(t, frames, append(append([]string{}, bIPs...), cIPs...), 8)
}

// assertOnlyWireGuard: every packet between the two nodes must be a WireGuard datagram on UDP
// 51820, no packet may carry a pod address in its header, and neither the pods' addresses nor
// the HTTP reply's text may appear anywhere in the bytes on the wire. minBetween guards against
// a capture that saw nothing and so found nothing wrong.
func assertOnlyWireGuard(t *testing.T, frames []frame, podIPs []string, minBetween int) {
	t.Helper()
	nodes := map[netip.Addr]bool{}
	for _, a := range []string{"192.168.1.11", "192.168.1.12", "fd00:c0a8:1::11", "fd00:c0a8:1::12"} {
		nodes[netip.MustParseAddr(a)] = true
	}
	pods := []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16"), netip.MustParsePrefix("2001:cafe:42::/56")}
	var secrets [][]byte
	for _, ip := range podIPs {
		secrets = append(secrets, netip.MustParseAddr(ip).AsSlice())
	}
	secrets = append(secrets, []byte("you came from"))
	between := 0
	for _, f := range frames {
		for _, p := range pods {
			if p.Contains(f.src) || p.Contains(f.dst) {
				t.Errorf("a pod address in the clear on the LAN: %s", f)
			}
		}
		if !nodes[f.src] || !nodes[f.dst] {
			continue
		}
		between++
		if (f.proto != 17 || f.sport != 51820 || f.dport != 51820) && !icmpErrorAboutWireGuard(f) {
			t.Errorf("a packet between the nodes that is not WireGuard on UDP 51820: %s", f)
		}
		for _, s := range secrets {
			if bytes.Contains(f.raw[14:], s) {
				t.Errorf("%q in the clear in a packet between the nodes: %s", s, f)
			}
		}
	}
	if between < minBetween {
		t.Errorf("the capture saw %d packets between the nodes (of %d in all) while pods talked across them: it is not looking at the traffic", between, len(frames))
	}
	t.Logf("capture: %d frames on the LAN, %d between the nodes, all WireGuard", len(frames), between)
}

// checkWireGuardAgentRestart kills both agents during an iperf3 stream from c (node-2) to s
// (node-1). A userspace device goes with its agent; the stream must still finish without a
// reset, and while the device is gone no pod packet may leave in the clear (the cluster range
// is blackholed behind the peers' routes).
func checkWireGuardAgentRestart(t *testing.T, l *lab, server string, podIPs []string) {
	c, err := startCapture(fmt.Sprintf("weft-%s-lan", l.name))
	if err != nil {
		t.Fatalf("capture on the LAN: %v", err)
	}
	done := l.iperf3From("c", server, "-t", "8", "-b", "20M")
	time.Sleep(2 * time.Second)
	for _, node := range []string{"node-1", "node-2"} {
		killAgent(t, l, node)
	}
	out := <-done
	frames, err := c.Stop()
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if received, err := iperf3Received(out); err != nil || received == 0 {
		t.Errorf("iperf3 across an agent restart: %d bytes received, %v\n%s", received, err, out)
	}
	assertOnlyWireGuard(t, frames, append([]string{server}, podIPs...), 100)
	for _, node := range []string{"node-1", "node-2"} {
		eventually(t, 30*time.Second, node+"'s agent back", func() error {
			if agentPID(l, node) == 0 {
				return fmt.Errorf("no agent process in %s", node)
			}
			return nil
		})
	}
}

// checkWireGuardMTU: the pod MTU leaves room for WireGuard over IPv4 (1500-60), and a packet
// of exactly that size with DF set crosses in each family.
func checkWireGuardMTU(t *testing.T, l *lab, bIPs []string) {
	const mtu = 1440
	if link := l.kubectl("exec", "c", "--", "ip", "-o", "link", "show", "eth0"); !strings.Contains(link, " mtu "+strconv.Itoa(mtu)+" ") {
		t.Errorf("pod MTU: want %d under wireguard:\n%s", mtu, link)
	}
	for _, ip := range bIPs {
		size := mtu - 28
		if strings.Contains(ip, ":") {
			size = mtu - 48
		}
		if out, err := l.kubectlErr("exec", "c", "--", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", strconv.Itoa(size), ip); err != nil {
			t.Errorf("a %d-byte packet with DF set does not reach %s: %v\n%s", mtu, ip, err, out)
		}
	}
	if out, err := l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "30", "-o", "/dev/null", "-w", "%{size_download}", httpURL(bIPs[0])+"bytes/4194304"); err != nil || strings.TrimSpace(out) != "4194304" {
		t.Errorf("a 4 MiB download across WireGuard: %v\n%s", err, out)
	}
}

// checkWireGuardJoinLeave adds a Node with WireGuard annotations and removes it again: node-1's
// device must list it as a peer and then forget it.
func checkWireGuardJoinLeave(t *testing.T, l *lab) {
	const key = "Tm9kZVhOb2RlWE5vZGVYTm9kZVhOb2RlWE5vZGVYWFg="
	l.apply(t, `apiVersion: v1
kind: Node
metadata:
  name: node-x
  annotations:
    weft.dev/backend-type: wireguard
    weft.dev/public-ip: 192.168.1.99
    weft.dev/wireguard-public-key: `+key+`
    weft.dev/wireguard-port: "51820"
spec:
  podCIDRs: ["10.42.200.0/24", "2001:cafe:42:c8::/64"]
`)
	eventually(t, 20*time.Second, "node-x among node-1's peers", func() error {
		out, err := l.wireguard("node-1", "show")
		if err != nil || !strings.Contains(out, "peer: "+key) || !strings.Contains(out, "endpoint: 192.168.1.99:51820") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	l.kubectl("delete", "node", "node-x")
	eventually(t, 20*time.Second, "node-x gone from node-1's peers", func() error {
		out, err := l.wireguard("node-1", "show")
		if err != nil || strings.Contains(out, key) {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if routes, _ := l.in("node-1", "ip", "route", "show", "10.42.200.0/24"); strings.TrimSpace(routes) != "" {
		t.Errorf("node-1 still routes the departed node's podCIDR: %s", routes)
	}
}

// checkWireGuardRotate rotates node-1's key during an iperf3 stream from c (node-2) to s
// (node-1): the stream finishes without a reset, node-2 follows the new key from the
// annotation, and new connections work after.
func checkWireGuardRotate(t *testing.T, l *lab, server string, bIPs []string) {
	old := l.nodeAnnotations(t, "node-1")["weft.dev/wireguard-public-key"]
	// Rate-limited: the machine is shared, and the point is a connection that outlives the key.
	done := l.iperf3From("c", server, "-t", "12", "-b", "20M")
	time.Sleep(3 * time.Second)
	if out, err := l.wireguard("node-1", "rotate"); err != nil || !strings.Contains(out, "applied") {
		t.Errorf("weft wireguard rotate on node-1: %v\n%s", err, out)
	}
	out := <-done
	if received, err := iperf3Received(out); err != nil || received == 0 {
		t.Errorf("iperf3 across a key rotation: %d bytes received, %v\n%s", received, err, out)
	}
	now := l.nodeAnnotations(t, "node-1")["weft.dev/wireguard-public-key"]
	if now == old || now == "" {
		t.Errorf("node-1's public key annotation did not change: %q before, %q after", old, now)
	}
	if show, err := l.wireguard("node-2", "show"); err != nil || !strings.Contains(show, "peer: "+now) || strings.Contains(show, old) {
		t.Errorf("node-2 does not follow node-1's new key %s: %v\n%s", now, err, show)
	}
	for _, ip := range bIPs {
		if out, err := l.kubectlErr("exec", "c", "--", "curl", "-gsS", "--max-time", "10", httpURL(ip)); err != nil || !strings.Contains(out, "you came from") {
			t.Errorf("a new connection to %s after the rotation: %v\n%s", ip, err, out)
		}
	}
}

// iperf3From starts an iperf3 client in pod client towards server and hands over its JSON
// report (or, if exec failed, the error and whatever was printed) when it ends.
func (l *lab) iperf3From(client, server string, args ...string) <-chan string {
	done := make(chan string, 1)
	go func() {
		out, err := l.kubectlErr(append([]string{"exec", client, "--", "iperf3", "-c", server, "-J"}, args...)...)
		if err != nil {
			out = fmt.Sprintf("%v\n%s", err, out)
		}
		done <- out
	}()
	return done
}
