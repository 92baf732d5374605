package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// prober keeps connecting from pod from to TCP port 80 of every address in addrs, all at
// once, round after round for the given time, and returns every answer it got: the names
// agnhost's servers answer with, or the HTTP responses of web pods.
func (m *netpolLab) prober(from peer, addrs []string, d time.Duration) <-chan string {
	var b strings.Builder
	fmt.Fprintf(&b, "end=$(( $(date +%%s) + %d )); while [ $(date +%%s) -lt $end ]; do\n", int(d.Seconds()))
	for _, a := range addrs {
		fmt.Fprintf(&b, "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 %s 80 2>/dev/null &\n", a)
	}
	b.WriteString("  sleep 0.2; wait\ndone\n")
	done := make(chan string, 1)
	go func() {
		out, _ := m.weftErr("kubectl", "exec", "-n", from.ns(), from.name(), "-c", "probe", "--", "sh", "-c", b.String())
		done <- out
	}()
	return done
}

// checkNetpolWindows: no forbidden packet gets through while enforcement (re)starts. Under
// deny-all-ingress in x, a prober on node-2 keeps trying x's pods on node-1 while node-1's
// agent is killed and comes back; then it keeps trying every address of node-1's pod range
// while a new pod, x/d, starts there. Neither may ever answer.
func checkNetpolWindows(t *testing.T, m *netpolLab) {
	m.clearPolicies()
	m.apply(t, np("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"))
	m.check(t, expected(func(f, to peer, _ string) bool { return to.ns() != "x" }))

	t.Run("agent-restart", func(t *testing.T) {
		m.lab.t = t
		before := agentPID(m.lab, "node-1")
		probes := m.prober("y/b", []string{m.ip("x/a", "4"), m.ip("x/a", "6"), m.ip("x/c", "4"), m.ip("x/c", "6")}, 12*time.Second)
		time.Sleep(2 * time.Second)
		killAgent(t, m.lab, "node-1")
		eventually(t, 30*time.Second, "node-1's agent back", func() error {
			if pid := agentPID(m.lab, "node-1"); pid == 0 || pid == before {
				return fmt.Errorf("no new agent process in node-1")
			}
			return nil
		})
		if out := strings.TrimSpace(<-probes); out != "" {
			t.Errorf("x's pods answered y/b across node-1's agent restart, under deny-all-ingress:\n%s", out)
		}
		m.check(t, expected(func(f, to peer, _ string) bool { return to.ns() != "x" }))
	})

	t.Run("new-pod", func(t *testing.T) {
		m.lab.t = t
		// Every address x/d may get: node-1's pods so far have the first few.
		var addrs []string
		prefix := m.ip("x/a", "4")[:strings.LastIndex(m.ip("x/a", "4"), ".")+1]
		for i := 2; i <= 24; i++ {
			addrs = append(addrs, fmt.Sprintf("%s%d", prefix, i))
		}
		probes := m.prober("y/b", addrs, 12*time.Second)
		time.Sleep(2 * time.Second)
		m.apply(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: \"x\", labels: {pod: \"d\"}}\n"+
			"spec: {nodeName: node-1, terminationGracePeriodSeconds: 1, containers: [{name: web, image: nginx}]}\n")
		t.Cleanup(func() { m.kubectl("delete", "pod", "-n", "x", "d", "--wait=false") })
		if out := <-probes; strings.Contains(out, "HTTP/") {
			t.Errorf("the new pod x/d answered y/b while deny-all-ingress selects it:\n%s", out)
		}
		// The prober could see it: without the policy, x/d answers.
		m.kubectl("delete", "networkpolicies", "--all", "-n", "x")
		ip := strings.TrimSpace(m.kubectl("get", "pod", "-n", "x", "d", "-o", "jsonpath={.status.podIP}"))
		eventually(t, 30*time.Second, "x/d answers without a policy", func() error {
			if out := <-m.prober("y/b", []string{ip}, time.Second); !strings.Contains(out, "HTTP/") {
				return fmt.Errorf("x/d (%s) does not answer: %q", ip, out)
			}
			return nil
		})
	})
}
