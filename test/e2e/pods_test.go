package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podIPs waits for a pod to be Running and returns its IPs.
func (l *lab) waitRunning(t *testing.T, name string) []string {
	t.Helper()
	var ips []string
	eventually(t, 60*time.Second, "pod "+name+" Running", func() error {
		var pod struct {
			Status struct {
				Phase  string
				PodIPs []struct{ IP string }
			}
		}
		l.kubectlJSON(&pod, "get", "pod", name)
		if pod.Status.Phase != "Running" {
			return fmt.Errorf("phase %q", pod.Status.Phase)
		}
		ips = nil
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return nil
	})
	return ips
}

func (l *lab) apply(t *testing.T, manifest string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	l.kubectl("apply", "-f", path)
}

func pinnedPod(name, node, image string, command ...string) string {
	m := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  nodeName: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: %s\n", name, node, image)
	if len(command) > 0 {
		m += "    command: [" + `"` + strings.Join(command, `", "`) + `"` + "]\n"
	}
	return m
}

// checkPods runs the pod-level checks of one lab: addresses from the node's podCIDRs in every
// family, pod to pod on one node, localhost between containers, the kubelet's files and
// environment, logs and exec, and the release of every address on deletion.
func checkPods(t *testing.T, l *lab, sc scenario) {
	l.apply(t, pinnedPod("a", "node-1", "busybox", "sleep", "86400"))
	l.apply(t, pinnedPod("b", "node-1", "nginx"))
	aIPs, bIPs := l.waitRunning(t, "a"), l.waitRunning(t, "b")
	if len(aIPs) != len(sc.clusterCIDRs) || len(bIPs) != len(sc.clusterCIDRs) {
		t.Fatalf("pod IPs a=%v b=%v, want one per family of %v", aIPs, bIPs, sc.clusterCIDRs)
	}
	for i, ip := range bIPs {
		if !netip.MustParsePrefix(sc.clusterCIDRs[i]).Contains(netip.MustParseAddr(ip)) {
			t.Errorf("pod b IP %s is not from %s", ip, sc.clusterCIDRs[i])
		}
	}

	t.Run("pod-to-pod", func(t *testing.T) {
		for i, ip := range bIPs {
			if out, err := l.kubectlErr("exec", "a", "--", "ping", "-c", "1", "-W", "2", ip); err != nil {
				t.Errorf("a cannot ping b at %s: %v\n%s", ip, err, out)
			}
			url := httpURL(ip)
			out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", url)
			if err != nil || !strings.Contains(out, "b: you came from "+aIPs[i]) {
				t.Errorf("a -> %s over TCP: %v\n%s", url, err, out)
			}
		}
	})

	t.Run("overlay", func(t *testing.T) { checkOverlay(t, l, sc, bIPs) })

	t.Run("node-only-subnet-egress", func(t *testing.T) {
		// A pod reaches the subnet only the nodes can route to, with no hand-made rule.
		// An IPv6-only lab runs with --ipv6-masq and goes to the external host's IPv6 address.
		external, node1 := "192.168.2.10", "192.168.1.11"
		if !strings.Contains(strings.Join(sc.clusterCIDRs, ","), ".") {
			external, node1 = "fd00:c0a8:2::10", "fd00:c0a8:1::11"
		}
		seen := node1 // masqueraded: the external host sees the node
		if sc.keepSourceToExternal {
			// A routed network: the router learns the way back to the pods (through node-1;
			// the overlay carries on to the pod's own node), and the pods keep their address.
			seen = aIPs[0]
			for _, route := range [][]string{{"10.42.0.0/16", "192.168.1.11"}, {"2001:cafe:42::/56", "fd00:c0a8:1::11"}} {
				if out, err := l.in("router", "ip", "route", "add", route[0], "via", route[1]); err != nil {
					t.Fatalf("return route on the router: %v\n%s", err, out)
				}
			}
		}
		l.kubectl("run", "network-test", "--image", "busybox", "--restart", "Never", "--overrides", `{"spec":{"nodeName":"node-1"}}`, "--", "ping", "-c", "4", external)
		eventually(t, 60*time.Second, "network-test Completed", func() error {
			phase := l.kubectl("get", "pod", "network-test", "-o", "jsonpath={.status.phase}")
			if phase != "Succeeded" {
				return fmt.Errorf("phase %q; log: %s", phase, l.kubectl("logs", "network-test"))
			}
			return nil
		})
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(external))
		if err != nil || !strings.Contains(out, "you came from "+seen+"\n") {
			t.Errorf("a -> %s: %v\n%s\nwant the external host to see %s", httpURL(external), err, out, seen)
		}
		if sc.keepSourceToExternal {
			// IPv6 is not masqueraded without --ipv6-masq: the pod's own address arrives.
			out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL("fd00:c0a8:2::10"))
			if err != nil || !strings.Contains(out, "you came from "+aIPs[1]+"\n") {
				t.Errorf("a -> external host over IPv6: %v\n%s\nwant the pod's address %s", err, out, aIPs[1])
			}
		}
	})

	t.Run("egressroute", func(t *testing.T) { checkEgressRoute(t, l, sc, aIPs) })
	t.Run("services", func(t *testing.T) { checkServices(t, l, sc, aIPs) })
	t.Run("trace", func(t *testing.T) { checkTrace(t, l, sc) })

	t.Run("inside-the-node", func(t *testing.T) {
		// What the node itself holds: the agent's CNI configuration, the pods' namespaces, its name.
		conf := l.weft(append(append([]string{"lab", "exec"}, l.labFlags()...), "node-1", "--", "cat", "/etc/cni/net.d/10-weft.conflist")...)
		if !strings.Contains(conf, `"weft-cni"`) || !strings.Contains(conf, "podCIDRs") {
			t.Errorf("node-1's CNI configuration:\n%s", conf)
		}
		if out := l.weft(append(append([]string{"lab", "exec"}, l.labFlags()...), "node-1", "--", "ip", "netns", "list")...); strings.Count(out, "pod-") < 2 {
			t.Errorf("node-1 should list its pods' namespaces:\n%s", out)
		}
		if out := strings.TrimSpace(l.weft(append(append([]string{"lab", "exec"}, l.labFlags()...), "node-1", "--", "hostname")...)); out != "node-1" {
			t.Errorf("hostname inside node-1: %q", out)
		}
		if _, err := os.Stat("/etc/cni/net.d/10-weft.conflist"); err == nil {
			t.Errorf("the node's CNI configuration leaked into the host's /etc")
		}
	})

	t.Run("localhost-between-containers", func(t *testing.T) {
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: nginx
  - name: client
    image: busybox
    command: ["sleep", "86400"]
`)
		l.waitRunning(t, "two")
		out, err := l.kubectlErr("exec", "two", "-c", "client", "--", "wget", "-qO-", "http://localhost/")
		if err != nil || !strings.Contains(out, "two: you came from") {
			t.Errorf("client -> web over localhost: %v\n%s", err, out)
		}
	})

	t.Run("hostaliases", func(t *testing.T) {
		l.kubectl("apply", "-f", "../../examples/hostaliases-pod.yaml")
		var ips []string
		eventually(t, 60*time.Second, "hostaliases-pod Completed", func() error {
			var pod struct {
				Status struct {
					Phase  string
					PodIPs []struct{ IP string }
				}
			}
			l.kubectlJSON(&pod, "get", "pod", "hostaliases-pod")
			if pod.Status.Phase != "Succeeded" {
				return fmt.Errorf("phase %q", pod.Status.Phase)
			}
			for _, ip := range pod.Status.PodIPs {
				ips = append(ips, ip.IP)
			}
			return nil
		})
		want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
		for _, ip := range ips {
			want += ip + "\thostaliases-pod\n"
		}
		want += "\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n"
		if got := l.kubectl("logs", "hostaliases-pod"); got != want {
			t.Errorf("kubectl logs hostaliases-pod:\n%q\nwant the kubelet's format:\n%q", got, want)
		}
	})

	t.Run("downward-api", func(t *testing.T) {
		l.kubectl("apply", "-f", "../../examples/pod01.yaml")
		ips := l.waitRunning(t, "pod01")
		out := l.kubectl("exec", "pod01", "--", "sh", "-c", "echo $MY_POD_IPS")
		if got, want := strings.TrimSpace(out), strings.Join(ips, ","); got != want {
			t.Errorf("MY_POD_IPS = %q, want %q", got, want)
		}
		resolv := l.kubectl("exec", "pod01", "--", "cat", "/etc/resolv.conf")
		for _, want := range []string{"search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"} {
			if !strings.Contains(resolv, want) {
				t.Errorf("resolv.conf lacks %q:\n%s", want, resolv)
			}
		}
		if out, err := l.kubectlErr("exec", "pod01", "--", "sh", "-c", "exit 3"); err == nil || !strings.Contains(out, "exit code 3") {
			t.Errorf("exec exit code: %v\n%s", err, out)
		}
	})

	t.Run("host-network", func(t *testing.T) {
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  nodeName: node-1
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "86400"]
`)
		ips := l.waitRunning(t, "hostnet")
		var nodeIPs struct {
			Status struct {
				Addresses []struct{ Type, Address string }
			}
		}
		l.kubectlJSON(&nodeIPs, "get", "node", "node-1")
		if len(ips) == 0 || ips[0] != nodeIPs.Status.Addresses[0].Address {
			t.Errorf("hostNetwork pod IPs %v, want node-1's address %s", ips, nodeIPs.Status.Addresses[0].Address)
		}
		if out := strings.TrimSpace(l.kubectl("exec", "hostnet", "--", "hostname")); out != "node-1" {
			t.Errorf("hostNetwork pod's host name is %q, want node-1", out)
		}
		if out := l.kubectl("exec", "hostnet", "--", "ip", "link"); !strings.Contains(out, "weft0") {
			t.Errorf("hostNetwork pod does not see the node's links:\n%s", out)
		}
	})

	t.Run("runtime-restart-keeps-pods", func(t *testing.T) {
		before := l.kubectl("get", "pod", "a", "-o", "jsonpath={.status.podIP} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.running.startedAt}")
		killNodeRuntime(t, l, "node-1")
		eventually(t, 60*time.Second, "node-1 runtime back", func() error {
			_, err := l.kubectlErr("exec", "a", "--", "true")
			return err
		})
		after := l.kubectl("get", "pod", "a", "-o", "jsonpath={.status.podIP} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.running.startedAt}")
		if before != after {
			t.Errorf("pod a changed across a node runtime restart: %q -> %q", before, after)
		}
		if out, err := l.kubectlErr("exec", "a", "--", "ping", "-c", "1", "-W", "2", bIPs[0]); err != nil {
			t.Errorf("a cannot reach b after the restart: %v\n%s", err, out)
		}
	})

	t.Run("delete-frees-addresses", func(t *testing.T) {
		base := leases(t, l, "node-2") // pods of the other subtests may live there
		var names []string
		for i := 0; i < 20; i++ {
			name := fmt.Sprintf("many-%d", i)
			names = append(names, name)
			l.apply(t, pinnedPod(name, "node-2", "busybox", "sleep", "86400"))
		}
		for _, n := range names {
			l.waitRunning(t, n)
		}
		if n := leases(t, l, "node-2"); n != base+20 {
			t.Errorf("node-2 holds %d address leases for 20 new pods and %d before", n, base)
		}
		l.kubectl(append([]string{"delete", "pod", "--wait=true", "--timeout=60s"}, names...)...)
		if n := leases(t, l, "node-2"); n != base {
			t.Errorf("node-2 holds %d address leases after deleting the 20 pods, %d before them", n, base)
		}
	})
	l.kubectl("delete", "pod", "--all", "--wait=true", "--timeout=60s")
}

// httpURL is the root URL of a server at ip, bracketing IPv6 literals.
func httpURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, "80") + "/"
}

func (l *lab) kubectlErr(args ...string) (string, error) {
	return l.weftErr(append([]string{"kubectl"}, args...)...)
}

// leases counts the IPAM leases a node's weft-cni holds, read from the node's own /var/lib.
func leases(t *testing.T, l *lab, node string) int {
	t.Helper()
	path := filepath.Join(dataDir, "labs", l.name, "nodes", node, "rootfs", "var-lib", "upper", "cni", "weft", "weft", "leases.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var st struct{ Leases []json.RawMessage }
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return len(st.Leases)
}

// killNodeRuntime kills a node's runtime process; the lab supervisor starts it again.
func killNodeRuntime(t *testing.T, l *lab, node string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "labs", l.name, "processes.json"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"name": "`+node+`"`)
	if i < 0 {
		t.Fatalf("no process %s in processes.json", node)
	}
	rest := string(b)[i:]
	j := strings.Index(rest, `"pid": `)
	pidText := strings.TrimSpace(strings.SplitN(rest[j+len(`"pid": `):], ",", 2)[0])
	pid, _ := strconv.Atoi(pidText)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s runtime %d: %v", node, pid, err)
	}
}
