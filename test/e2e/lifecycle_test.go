package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type containerStatus struct {
	Name         string
	Ready        bool
	RestartCount int
	State        struct {
		Waiting *struct{ Reason, Message string }
		Running *struct{}
	}
}

// waitContainer waits until the named container's status satisfies ok.
func (l *lab) waitContainer(t *testing.T, pod, name, what string, ok func(containerStatus) bool) {
	t.Helper()
	eventually(t, 60*time.Second, name+" "+what, func() error {
		var p struct {
			Status struct{ ContainerStatuses []containerStatus }
		}
		l.kubectlJSON(&p, "get", "pod", pod)
		for _, c := range p.Status.ContainerStatuses {
			if c.Name == name && ok(c) {
				return nil
			}
		}
		return fmt.Errorf("statuses %+v", p.Status.ContainerStatuses)
	})
}

// checkLifecycle covers what the kubelet does with a pod over time: init containers first,
// restarts with back-off and the previous instance's log, readiness and liveness probes, and
// following a log.
func checkLifecycle(t *testing.T, l *lab) {
	l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: lifecycle
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: init
    image: busybox
    command: ["sh", "-c", "echo init-done"]
  containers:
  - name: web
    image: nginx
    readinessProbe:
      httpGet: {path: /, port: 80}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ["cat", "/no-such-file"]}
      initialDelaySeconds: 2
      periodSeconds: 1
      failureThreshold: 2
  - name: ticker
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
  - name: crash
    image: busybox
    command: ["sh", "-c", "echo crashed once; exit 1"]
`)
	t.Run("init-container-ran-first", func(t *testing.T) {
		l.waitRunning(t, "lifecycle")
		if out := l.kubectl("logs", "lifecycle", "-c", "init"); strings.TrimSpace(out) != "init-done" {
			t.Errorf("init container log: %q", out)
		}
	})
	t.Run("readiness-probe", func(t *testing.T) {
		l.waitContainer(t, "lifecycle", "web", "Ready through its httpGet probe", func(c containerStatus) bool { return c.Ready })
	})
	t.Run("liveness-probe-restarts", func(t *testing.T) {
		l.waitContainer(t, "lifecycle", "web", "restarted by its failing liveness probe", func(c containerStatus) bool { return c.RestartCount >= 1 })
	})
	t.Run("crashloop-and-previous-log", func(t *testing.T) {
		l.waitContainer(t, "lifecycle", "crash", "restarted and backing off", func(c containerStatus) bool {
			return c.RestartCount >= 1 && c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff"
		})
		if out := l.kubectl("logs", "lifecycle", "-c", "crash", "--previous"); strings.TrimSpace(out) != "crashed once" {
			t.Errorf("kubectl logs --previous: %q", out)
		}
	})
	t.Run("logs-follow", func(t *testing.T) {
		// A followed log keeps delivering new lines; the command is cut off after 2 s.
		out, _ := runErr(l.env(), 2*time.Second, l.bin, "kubectl", "logs", "-f", "--tail=1", "lifecycle", "-c", "ticker")
		if n := strings.Count(out, "tick "); n < 3 {
			t.Errorf("kubectl logs -f delivered %d lines in 2 s:\n%s", n, out)
		}
	})
	l.kubectl("delete", "pod", "lifecycle", "--wait=true", "--timeout=60s")
}
