package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInstall runs weft the way a user installs it: the lab applies deploy/ and its nodes run
// the DaemonSet's pods (hostNetwork, privileged, hostPath and projected volumes, the init
// container that installs weft-cni). Pods on two nodes then reach each other and a Service,
// `weft status` reports every node, a rollout restart of the agents keeps a TCP connection
// through a ClusterIP, and `weft uninstall` leaves the nodes without a trace of weft.
func TestInstall(t *testing.T) {
	l := &lab{t: t, bin: weftBin(t), name: "e2e-install", port: 16464}
	downAtCleanupAndCompareHost(t, l)
	out := l.weft(append([]string{"lab", "up", "--nodes", "2", "--agent", "daemonset", "--https-listen-port", strconv.Itoa(l.port)}, l.labFlags()...)...)
	if !strings.Contains(out, "DaemonSet kube-system/weft-agent") {
		t.Errorf("lab up does not say the agents are the DaemonSet's pods:\n%s", out)
	}
	nodes := []string{"node-1", "node-2"}
	t.Run("agents", func(t *testing.T) { checkAgentPods(t, l, nodes) })
	t.Run("traffic", func(t *testing.T) { checkInstalledTraffic(t, l) })
	t.Run("status", func(t *testing.T) {
		eventually(t, 60*time.Second, "weft status", func() error {
			out, err := l.weftErr("status")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			for _, want := range append(nodes, "vxlan", "2 node(s), 0 with problems") {
				if !strings.Contains(out, want) {
					return fmt.Errorf("lacks %q:\n%s", want, out)
				}
			}
			return nil
		})
	})
	t.Run("rollout-restart-keeps-connection", func(t *testing.T) { checkRolloutKeepsConnection(t, l) })
	t.Run("uninstall", func(t *testing.T) { checkUninstall(t, l, nodes) })
}

type podList struct {
	Items []struct {
		Metadata struct{ Name string }
		Spec     struct {
			NodeName    string
			HostNetwork bool
		}
		Status struct {
			Phase             string
			ContainerStatuses []struct {
				Ready        bool
				RestartCount int
			}
		}
	}
}

func (l *lab) agentPods(t *testing.T) podList {
	var pods podList
	l.kubectlJSON(&pods, "-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=weft-agent")
	return pods
}

func checkAgentPods(t *testing.T, l *lab, nodes []string) {
	pods := l.agentPods(t)
	onNode := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase != "Running" || !p.Spec.HostNetwork {
			t.Errorf("agent pod %s: phase %s, hostNetwork %v", p.Metadata.Name, p.Status.Phase, p.Spec.HostNetwork)
		}
		onNode[p.Spec.NodeName] = true
	}
	for _, n := range nodes {
		if !onNode[n] {
			t.Errorf("no agent pod on %s", n)
		}
		// The init container put the plugin where the node runtime looks for it.
		if out, err := l.labExec(n, "ls", "/opt/cni/bin/weft-cni", "/etc/cni/net.d/10-weft.conflist"); err != nil {
			t.Errorf("%s lacks what the DaemonSet installs: %v\n%s", n, err, out)
		}
	}
}

func (l *lab) labExec(node string, args ...string) (string, error) {
	return l.weftErr(append(append([]string{"lab", "exec", node}, l.labFlags()...), append([]string{"--"}, args...)...)...)
}

// checkInstalledTraffic: a pod on node-1 reaches a pod on node-2 by its address, through a
// Service by name (the agent's DNS and proxy), with the plugin the init container installed.
func checkInstalledTraffic(t *testing.T, l *lab) {
	l.apply(t, labelled(pinnedPod("web", "node-2", "nginx"), "web", "app: web"))
	l.apply(t, pinnedPod("client", "node-1", "busybox", "sleep", "86400"))
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n")
	webIPs := l.waitRunning(t, "web")
	l.waitRunning(t, "client")
	for _, target := range []string{webIPs[0], "web", "web.default.svc.cluster.local"} {
		eventually(t, 30*time.Second, "client -> "+target, func() error {
			out, err := l.weftErr("kubectl", "exec", "client", "--", "wget", "-qO-", "http://"+target)
			if err != nil || !strings.Contains(out, "web") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
}

// checkRolloutKeepsConnection keeps one TCP connection through the echo Service's cluster IP,
// a line a half second each way, across `rollout restart` of the agents. The client exits, and
// its pod fails, as soon as a write fails or an answer is more than 5 s late.
func checkRolloutKeepsConnection(t *testing.T, l *lab) {
	l.apply(t, labelled(pinnedPod("echo", "node-2", "debian", "socat", "TCP-LISTEN:9000,fork,reuseaddr", "EXEC:cat"), "echo", "app: echo"))
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\nspec:\n  selector: {app: echo}\n  ports: [{port: 9000}]\n")
	l.waitRunning(t, "echo")
	l.apply(t, `apiVersion: v1
kind: Pod
metadata: {name: stream}
spec:
  nodeName: node-1
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: debian
    command: [bash, -c, 'exec 3<>/dev/tcp/echo/9000 || exit 2; i=0; while true; do i=$((i+1)); echo "$i" >&3 || exit 3; read -t 5 r <&3 || exit 4; echo "echoed $r"; sleep 0.5; done']
`)
	l.waitRunning(t, "stream")
	echoed := func() int {
		lines := strings.Fields(l.kubectl("logs", "stream"))
		n, _ := strconv.Atoi(lines[len(lines)-1])
		return n
	}
	eventually(t, 30*time.Second, "the stream's first answers", func() error {
		if out, _ := l.weftErr("kubectl", "logs", "stream"); !strings.Contains(out, "echoed 3") {
			return fmt.Errorf("logs: %s", out)
		}
		return nil
	})
	before := map[string]bool{}
	for _, p := range l.agentPods(t).Items {
		before[p.Metadata.Name] = true
	}
	l.kubectl("-n", "kube-system", "rollout", "restart", "ds/weft-agent")
	l.kubectl("-n", "kube-system", "rollout", "status", "ds/weft-agent", "--timeout=180s")
	for _, p := range l.agentPods(t).Items {
		if before[p.Metadata.Name] {
			t.Errorf("agent pod %s survived the rollout: nothing was restarted", p.Metadata.Name)
		}
	}
	after := echoed()
	eventually(t, 30*time.Second, "answers on the same connection after the rollout", func() error {
		if n := echoed(); n < after+4 {
			return fmt.Errorf("last answer %d, rollout ended at %d", n, after)
		}
		return nil
	})
	var pod struct{ Status struct{ Phase string } }
	l.kubectlJSON(&pod, "get", "pod", "stream")
	if pod.Status.Phase != "Running" {
		t.Errorf("the stream's pod is %s: its connection broke (logs: %s)", pod.Status.Phase, l.kubectl("logs", "stream"))
	}
}

// checkUninstall: with the pods gone, `weft uninstall` removes weft from the cluster, and every
// node has no weft nftables table, no weft device, no CNI configuration and no plugin left.
func checkUninstall(t *testing.T, l *lab, nodes []string) {
	l.kubectl("delete", "pod", "--all", "--wait=true")
	out := l.weft("uninstall")
	t.Logf("weft uninstall:\n%s", out)
	for _, gone := range [][]string{{"-n", "kube-system", "get", "ds,configmap,serviceaccount", "-o", "name"}, {"get", "clusterrole,clusterrolebinding,crd", "-o", "name"}} {
		if out := l.kubectl(gone...); strings.Contains(out, "weft") {
			t.Errorf("left in the cluster:\n%s", out)
		}
	}
	for _, n := range nodes {
		if out, _ := l.labExec(n, "nft", "list", "tables"); strings.Contains(out, "weft") {
			t.Errorf("%s keeps nftables tables:\n%s", n, out)
		}
		if out, _ := l.labExec(n, "ip", "-o", "link"); strings.Contains(out, "weft") {
			t.Errorf("%s keeps devices:\n%s", n, out)
		}
		if out, _ := l.labExec(n, "ip", "route"); strings.Contains(out, "10.42.") {
			t.Errorf("%s keeps routes to pods:\n%s", n, out)
		}
		if out, err := l.labExec(n, "ls", "-A", "/etc/cni/net.d", "/opt/cni/bin", "/var/lib/cni"); err != nil || strings.Contains(out, "weft") {
			t.Errorf("%s keeps CNI files (%v):\n%s", n, err, out)
		}
	}
	if out := l.weft("status"); !strings.Contains(out, "no weft agent has reported") {
		t.Errorf("weft status after uninstall:\n%s", out)
	}
}
