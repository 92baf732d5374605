package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostPortDataDir keeps these labs apart from the other e2e labs, which may run at the same time.
const hostPortDataDir = "/var/lib/weft-e2e-hostport"

// TestHostPort: pods' hostPorts (the CNI portMappings capability, table inet weft-hostport)
// answer from another node and from the node itself, a 127.0.0.1 mapping only on the node's
// loopback, TCP and UDP of one hostPort in different pods (the upstream HostPort spec's
// shape), and the mapping goes with the pod; and the API server reaches pods through
// pods/proxy and services/proxy, and ClusterIPs from the control plane.
func TestHostPort(t *testing.T) {
	for _, tc := range []struct {
		name, lab string
		port      int
		v6        bool
		v4        bool
		args      []string
	}{
		{"ipv4", "e2e-hp-v4", 16483, false, true, nil},
		{"dual-stack", "e2e-hp-ds", 16484, true, true, []string{"--cluster-cidr", "10.42.0.0/16,2001:cafe:42::/56", "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"}},
		{"ipv6", "e2e-hp-v6", 16485, true, false, []string{"--cluster-cidr", "2001:cafe:42::/56", "--service-cidr", "2001:cafe:43::/112"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "ipv6" && os.Getenv("WEFT_E2E_HOSTPORT_IPV6") == "" {
				t.Skip("set WEFT_E2E_HOSTPORT_IPV6=1: the IPv6-only lab adds a minute")
			}
			l := &lab{t: t, bin: weftBin(t), name: tc.lab, port: tc.port, dir: hostPortDataDir}
			upWithHostCheck(t, l, append([]string{"--nodes", "2"}, tc.args...)...)
			var node1, node2, loopback []string
			if tc.v4 {
				node1, node2, loopback = append(node1, "192.168.1.11"), append(node2, "192.168.1.12"), append(loopback, "127.0.0.1")
			}
			if tc.v6 {
				node1, node2 = append(node1, "fd00:c0a8:1::11"), append(node2, "fd00:c0a8:1::12")
			}
			checkHostPorts(t, l, node1, node2, loopback)
			checkAPIServerReachesPods(t, l)
			checkGCAfterRuntimeRestart(t, l, node1, node2)
		})
	}
}

// hostPortPod is an nginx pod (the lab's HTTP and UDP answer server) on node-1 with one port.
func hostPortPod(name string, containerPort, hostPort int, protocol, hostIP string) string {
	m := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels: {app: %s}\nspec:\n  nodeName: node-1\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: nginx\n    ports:\n    - containerPort: %d\n      hostPort: %d\n      protocol: %s\n", name, name, containerPort, hostPort, protocol)
	if hostIP != "" {
		m += "      hostIP: " + hostIP + "\n"
	}
	return m
}

func tcpAsk(l *lab, from, ip string, port int) (string, error) {
	return l.in(from, "curl", "-gsS", "--max-time", "5", "http://"+net.JoinHostPort(ip, fmt.Sprint(port))+"/")
}

func udpAsk(l *lab, from, ip string, port int) (string, error) {
	return l.in(from, "sh", "-c", fmt.Sprintf("echo hostname | socat -t 3 - UDP:%s", net.JoinHostPort(ip, fmt.Sprint(port))))
}

func wantAnswer(t *testing.T, what, out string, err error, want string) {
	t.Helper()
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("%s: %v\n%s\nwant an answer containing %q", what, err, out, want)
	}
}

func checkHostPorts(t *testing.T, l *lab, node1, node2, loopback []string) {
	l.apply(t, hostPortPod("hp-any", 80, 8080, "TCP", ""))
	l.apply(t, hostPortPod("hp-tcp", 81, 54323, "TCP", node1[0]))
	// The lab's nginx serves its TCP ports, or port 80 (TCP and UDP) when it declares none.
	l.apply(t, hostPortPod("hp-udp", 80, 54323, "UDP", node1[0]))
	if len(loopback) > 0 {
		l.apply(t, hostPortPod("hp-lo", 83, 9090, "TCP", "127.0.0.1"))
		l.waitRunning(t, "hp-lo")
	}
	l.apply(t, pinnedPod("hp-client", "node-1", "busybox", "sleep", "3600"))
	for _, p := range []string{"hp-any", "hp-tcp", "hp-udp", "hp-client"} {
		l.waitRunning(t, p)
	}

	for i, ip := range node1 {
		t.Run("from-another-node-"+ip, func(t *testing.T) {
			out, err := tcpAsk(l, "node-2", ip, 8080)
			wantAnswer(t, "node-2 -> "+ip+":8080", out, err, "hp-any: you came from "+node2[i])
		})
		t.Run("from-the-node-"+ip, func(t *testing.T) {
			out, err := tcpAsk(l, "node-1", ip, 8080)
			wantAnswer(t, "node-1 -> "+ip+":8080", out, err, "hp-any: you came from "+ip)
		})
	}
	// A pod of the same node reaches the hostPort through the node's address (hairpin,
	// masqueraded to the bridge's address so the reply comes back through the node).
	for _, ip := range node1 {
		out, err := l.kubectlErr("exec", "hp-client", "--", "wget", "-qO-", "http://"+net.JoinHostPort(ip, "8080")+"/")
		wantAnswer(t, "pod hp-client on node-1 -> "+ip+":8080", out, err, "hp-any: you came from ")
	}
	// The upstream spec's three pods on one port: TCP and UDP on the node's first address go
	// to different pods, from another node and from the node itself.
	for _, from := range []string{"node-1", "node-2"} {
		out, err := tcpAsk(l, from, node1[0], 54323)
		wantAnswer(t, from+" -> tcp "+node1[0]+":54323", out, err, "hp-tcp: ")
		out, err = udpAsk(l, from, node1[0], 54323)
		wantAnswer(t, from+" -> udp "+node1[0]+":54323", out, err, "hp-udp: ")
	}
	if len(loopback) > 0 {
		// No hostIP: also the node's own 127.0.0.1, masqueraded to the bridge's address.
		out, err := tcpAsk(l, "node-1", "127.0.0.1", 8080)
		wantAnswer(t, "node-1 -> 127.0.0.1:8080", out, err, "hp-any: you came from 10.42.")
		// hostIP 127.0.0.1: the node's loopback, and nothing else.
		out, err = tcpAsk(l, "node-1", "127.0.0.1", 9090)
		wantAnswer(t, "node-1 -> 127.0.0.1:9090", out, err, "hp-lo: ")
		// The spec's curl --interface <node IP> http://127.0.0.1:port.
		out, err = l.in("node-1", "curl", "-gsS", "--max-time", "5", "--interface", node1[0], "http://127.0.0.1:9090/")
		wantAnswer(t, "node-1 bound to "+node1[0]+" -> 127.0.0.1:9090", out, err, "hp-lo: you came from "+node1[0])
		for _, ip := range []string{node1[0]} {
			if out, err := tcpAsk(l, "node-2", ip, 9090); err == nil {
				t.Errorf("node-2 reached the 127.0.0.1-only mapping at %s:9090:\n%s", ip, out)
			}
			if out, err := tcpAsk(l, "node-1", ip, 9090); err == nil {
				t.Errorf("node-1 reached the 127.0.0.1-only mapping at its address %s:9090:\n%s", ip, out)
			}
		}
	}
	// The hostIP is honoured: the node's first address only.
	if len(node1) > 1 {
		if out, err := tcpAsk(l, "node-2", node1[1], 54323); err == nil {
			t.Errorf("node-2 reached hp-tcp (hostIP %s) at %s:\n%s", node1[0], node1[1], out)
		}
	}

	// Deleting the pod removes its mapping; the others stay.
	l.kubectl("delete", "pod", "hp-any", "--wait=true", "--timeout=60s")
	for _, ip := range node1 {
		if out, err := tcpAsk(l, "node-2", ip, 8080); err == nil {
			t.Errorf("node-2 -> %s:8080 still answered after hp-any was deleted:\n%s", ip, out)
		}
	}
	if table, err := l.in("node-1", "nft", "list", "table", "inet", "weft-hostport"); err != nil || strings.Contains(table, " 8080 ") || !strings.Contains(table, "54323") {
		t.Errorf("weft-hostport after deleting hp-any: %v\n%s", err, table)
	}
	out, err := tcpAsk(l, "node-2", node1[0], 54323)
	wantAnswer(t, "node-2 -> hp-tcp after hp-any's deletion", out, err, "hp-tcp: ")
}

// checkAPIServerReachesPods: pods/proxy and services/proxy go from the API server to pods on
// both nodes, over the control plane's routes, and back.
func checkAPIServerReachesPods(t *testing.T, l *lab) {
	l.apply(t, pinnedPod("web-2", "node-2", "nginx"))
	l.waitRunning(t, "web-2")
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: hp-tcp\nspec:\n  selector: {app: hp-tcp}\n  ports:\n  - port: 80\n    targetPort: 81\n")
	for _, path := range []string{
		"/api/v1/namespaces/default/pods/hp-tcp:81/proxy/",
		"/api/v1/namespaces/default/pods/web-2:80/proxy/",
		"/api/v1/namespaces/default/services/hp-tcp:80/proxy/",
	} {
		var out string
		eventually(t, 30*time.Second, "GET "+path, func() error {
			var err error
			out, err = l.kubectlErr("get", "--raw", path)
			if err != nil || !strings.Contains(out, "you came from") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
		t.Logf("GET %s: %s", path, strings.TrimSpace(out))
	}
	// The service ranges are routed too: the control plane reaches a ClusterIP.
	for _, ip := range strings.Fields(l.kubectl("get", "service", "hp-tcp", "-o", "jsonpath={.spec.clusterIPs[*]}")) {
		eventually(t, 20*time.Second, "control plane -> ClusterIP "+ip, func() error {
			out, err := tcpAsk(l, "control-plane", ip, 80)
			if err != nil || !strings.Contains(out, "hp-tcp: ") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
}

// checkGCAfterRuntimeRestart: a pod deleted while its node's runtime is not running never
// gets a CNI DEL; the restarted runtime's CNI GC removes its hostPort mapping and its lease.
func checkGCAfterRuntimeRestart(t *testing.T, l *lab, node1, node2 []string) {
	pid := processPID(t, l, "node-1")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	l.kubectl("delete", "pod", "hp-tcp", "--force", "--grace-period=0")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "hp-tcp's mapping gone after node-1's runtime restarted", func() error {
		table, err := l.in("node-1", "nft", "list", "table", "inet", "weft-hostport")
		if err != nil || strings.Contains(table, "tcp . 54323") || !strings.Contains(table, "udp . 54323") {
			return fmt.Errorf("%v\n%s", err, table)
		}
		return nil
	})
	if out, err := tcpAsk(l, "node-2", node1[0], 54323); err == nil {
		t.Errorf("node-2 -> %s:54323 still answered after hp-tcp was deleted behind the runtime's back:\n%s", node1[0], out)
	}
	out, err := udpAsk(l, "node-2", node1[0], 54323)
	wantAnswer(t, "node-2 -> hp-udp after the runtime restart", out, err, "hp-udp: you came from "+node2[0])
}

// processPID reads a lab process's PID from the supervisor's record.
func processPID(t *testing.T, l *lab, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dataDir(), "labs", l.name, "processes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var procs []struct {
		Name string
		PID  int
	}
	if err := json.Unmarshal(b, &procs); err != nil {
		t.Fatalf("processes.json: %v\n%s", err, b)
	}
	for _, p := range procs {
		if p.Name == name && p.PID > 0 {
			return p.PID
		}
	}
	t.Fatalf("no process %s in processes.json:\n%s", name, b)
	return 0
}
