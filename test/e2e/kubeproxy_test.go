package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kubeProxyDataDir keeps these labs apart from the other e2e labs, which may run at the same time.
const kubeProxyDataDir = "/var/lib/weft-e2e-kubeproxy"

// TestKubeProxy: `lab up --proxy kube-proxy-<mode>` serves Services with the upstream kube-proxy
// in that mode, and real packets prove it: a pod reaches a ClusterIP, a node reaches a NodePort
// on another node, and the rules that carry them are kube-proxy's, not weft's. Nothing of it
// outlives `lab down`.
func TestKubeProxy(t *testing.T) {
	for _, tc := range []struct {
		mode, name string
		port       int
	}{
		{"nftables", "e2e-kp-nft", 16481},
		{"iptables", "e2e-kp-ipt", 16482},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			l := &lab{t: t, bin: weftBin(t), name: tc.name, port: tc.port, dir: kubeProxyDataDir}
			upWithHostCheck(t, l, "--nodes", "2", "--proxy", "kube-proxy-"+tc.mode)
			checkKubeProxy(t, l, tc.mode)
			out := l.weft(append([]string{"lab", "down"}, l.labFlags()...)...)
			if !strings.Contains(out, "is down") {
				t.Errorf("lab down said: %s", out)
			}
			if _, err := os.Stat(kubeProxyDataDir + "/labs/" + tc.name); !os.IsNotExist(err) {
				t.Errorf("state directory left after down (stat: %v)", err)
			}
		})
	}
}

// upWithHostCheck brings a lab up; whatever happens then, the test ends with `lab down` and a
// comparison of the host before and after.
func upWithHostCheck(t *testing.T, l *lab, flags ...string) string {
	downAtCleanupAndCompareHost(t, l)
	start := time.Now()
	out := l.weft(append(append([]string{"lab", "up", "--https-listen-port", strconv.Itoa(l.port)}, l.labFlags()...), flags...)...)
	t.Logf("lab up (%s):\n%s", time.Since(start).Round(time.Second), out)
	return out
}

func checkKubeProxy(t *testing.T, l *lab, mode string) {
	status := l.weft(append([]string{"lab", "status"}, l.labFlags()...)...)
	for _, want := range []string{"kube-proxy (upstream, " + mode + " mode)", "kube-proxy-node-1", "kube-proxy-node-2"} {
		if !strings.Contains(status, want) {
			t.Errorf("lab status lacks %q:\n%s", want, status)
		}
	}

	l.apply(t, pinnedPod("a", "node-1", "busybox", "sleep", "3600"))
	l.kubectl("create", "deployment", "web", "--image", "nginx", "--replicas", "2")
	l.apply(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - port: 80\n    nodePort: 30080\n")
	aIP := l.waitRunning(t, "a")[0]
	clusterIP := l.kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")

	// kube-proxy's rules carry the service, and weft's proxy table is nowhere. Packets wait for
	// the rules: a SYN sent before them leaves a conntrack entry that its retries would follow.
	for _, node := range []string{"node-1", "node-2"} {
		eventually(t, 30*time.Second, "kube-proxy on "+node+" programs service web at "+clusterIP, func() error {
			tables, err := l.in(node, "nft", "list", "tables")
			if err != nil {
				return fmt.Errorf("nft list tables: %v\n%s", err, tables)
			}
			if strings.Contains(tables, "weft-proxy") {
				return fmt.Errorf("weft's proxy table is there beside kube-proxy:\n%s", tables)
			}
			var rules string
			if mode == "nftables" {
				for _, want := range []string{"table ip kube-proxy", "table ip6 kube-proxy"} {
					if !strings.Contains(tables, want) {
						return fmt.Errorf("no %q:\n%s", want, tables)
					}
				}
				rules, err = l.in(node, "nft", "list", "table", "ip", "kube-proxy")
			} else {
				rules, err = l.in(node, "iptables", "-t", "nat", "-S", "KUBE-SERVICES")
			}
			if err != nil || !strings.Contains(rules, clusterIP) {
				return fmt.Errorf("kube-proxy's %s rules lack %s: %v\n%s", mode, clusterIP, err, rules)
			}
			return nil
		})
	}

	eventually(t, 60*time.Second, "pod a reaches service web at "+clusterIP, func() error {
		out, err := l.kubectlErr("exec", "a", "--", "wget", "-qO-", httpURL(clusterIP))
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasPrefix(out, "web-") || !strings.Contains(out, "you came from "+aIP+"\n") {
			return fmt.Errorf("answer %q, want a web pod seeing %s", out, aIP)
		}
		return nil
	})
	eventually(t, 30*time.Second, "node-2 reaches the NodePort on node-1", func() error {
		out, err := l.in("node-2", "curl", "-sS", "--max-time", "3", "http://192.168.1.11:30080/")
		if err != nil || !strings.HasPrefix(out, "web-") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}
