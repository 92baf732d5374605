package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestContainerRoot runs one lab whose pods prove what the node runtime gives containers: a
// root of their own that kubectl exec shares, volumes (emptyDir shared by two containers, a
// configMap), the agnhost image, and a host and node left untouched.
func TestContainerRoot(t *testing.T) {
	l := &lab{t: t, bin: weftBin(t), name: "e2e-root", port: 16451}
	images, built := t.TempDir(), t.TempDir()
	agnhostNote := buildAgnhost(t, built)
	downAtCleanupAndCompareHost(t, l)
	up := append([]string{"lab", "up", "--nodes", "2", "--https-listen-port", strconv.Itoa(l.port), "--images-dir", images}, l.labFlags()...)
	l.weft(up...)

	t.Run("exec-shares-the-container-root", func(t *testing.T) {
		l.apply(t, pinnedPod("marker", "node-1", "busybox", "sh", "-c", "echo from-the-container > /tmp/marker; mkdir -p /srv/made; sleep 86400"))
		l.waitRunning(t, "marker")
		eventually(t, 20*time.Second, "exec sees the container's /tmp/marker", func() error {
			out, err := l.kubectlErr("exec", "marker", "--", "cat", "/tmp/marker")
			if err != nil || strings.TrimSpace(out) != "from-the-container" {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
	})

	t.Run("emptyDir-shared-by-two-containers", func(t *testing.T) {
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  volumes:
  - name: results
    emptyDir: {}
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "echo written-by-writer > /results/file; sleep 86400"]
    volumeMounts: [{name: results, mountPath: /results}]
  - name: reader
    image: busybox
    command: ["sleep", "86400"]
    volumeMounts: [{name: results, mountPath: /data/in, readOnly: true}]
`)
		l.waitRunning(t, "shared")
		eventually(t, 20*time.Second, "reader sees writer's file", func() error {
			out, err := l.kubectlErr("exec", "shared", "-c", "reader", "--", "cat", "/data/in/file")
			if err != nil || strings.TrimSpace(out) != "written-by-writer" {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
		if out, err := l.kubectlErr("exec", "shared", "-c", "reader", "--", "touch", "/data/in/nope"); err == nil {
			t.Errorf("a readOnly mount was writable: %s", out)
		}
	})

	t.Run("configMap-volume", func(t *testing.T) {
		l.kubectl("create", "configmap", "settings", "--from-literal=greeting=hello-from-configmap", "--from-literal=other=x")
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: configured
spec:
  nodeName: node-2
  terminationGracePeriodSeconds: 1
  volumes:
  - name: config
    configMap:
      name: settings
      items: [{key: greeting, path: sub/greeting.txt}]
  containers:
  - name: main
    image: busybox
    command: ["sleep", "86400"]
    volumeMounts: [{name: config, mountPath: /etc/config}]
`)
		l.waitRunning(t, "configured")
		out := l.kubectl("exec", "configured", "--", "cat", "/etc/config/sub/greeting.txt")
		if strings.TrimSpace(out) != "hello-from-configmap" {
			t.Errorf("configMap key at its path: %q, want hello-from-configmap", out)
		}
		if out, err := l.kubectlErr("exec", "configured", "--", "ls", "/etc/config/other"); err == nil {
			t.Errorf("a key not in items was mounted: %s", out)
		}
		// The service account volume every pod gets (kube-api-access-*).
		ns := l.kubectl("exec", "configured", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if strings.TrimSpace(ns) != "default" {
			t.Errorf("service account namespace file: %q, want default", ns)
		}
	})

	t.Run("secret-downwardAPI-projected-memory-volumes", func(t *testing.T) {
		l.kubectl("create", "secret", "generic", "creds", "--from-literal=user=alice", "--from-literal=pass=pw")
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: volumes
  labels: {app: volumes}
spec:
  nodeName: node-2
  terminationGracePeriodSeconds: 1
  volumes:
  - name: mem
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
  - name: creds
    secret: {secretName: creds, defaultMode: 0400, items: [{key: user, path: u}]}
  - name: absent
    secret: {secretName: no-such-secret, optional: true}
  - name: info
    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - name: proj
    projected: {sources: [{serviceAccountToken: {path: token, audience: vault}}, {secret: {name: creds}}]}
  containers:
  - name: main
    image: busybox
    workingDir: /app/work
    command: ["sh", "-c", "echo in-memory > /mem/f; sleep 86400"]
    volumeMounts:
    - {name: mem, mountPath: /mem}
    - {name: creds, mountPath: /creds}
    - {name: absent, mountPath: /absent}
    - {name: info, mountPath: /info}
    - {name: proj, mountPath: /proj}
    - {name: info, mountPath: /etc/labels, subPath: labels}
`)
		l.waitRunning(t, "volumes")
		script := `pwd; stat -c %a /creds/u; cat /creds/u; echo; cat /info/labels; echo; ls /proj | tr '\n' ' '; echo; ls -A /absent | wc -l; cat /etc/labels; echo; mount | grep ' /mem ' | cut -d' ' -f5; cat /mem/f`
		want := "/app/work\n400\nalice\napp=\"volumes\"\npass token user \n0\napp=\"volumes\"\ntmpfs\nin-memory\n"
		eventually(t, 20*time.Second, "the volumes' content", func() error {
			out, err := l.kubectlErr("exec", "volumes", "--", "sh", "-c", script)
			if err != nil || out != want {
				return fmt.Errorf("%v:\n%s\nwant\n%s", err, out, want)
			}
			return nil
		})
	})

	t.Run("agnhost-netexec", func(t *testing.T) {
		if agnhostNote != "" {
			t.Skip(agnhostNote)
		}
		l.apply(t, `apiVersion: v1
kind: Pod
metadata:
  name: netexec
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  volumes:
  - name: results
    emptyDir: {}
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8083"]
    volumeMounts: [{name: results, mountPath: /results}]
`)
		l.apply(t, pinnedPod("client", "node-2", "busybox", "sleep", "86400"))
		// The lab came up with an empty images directory: the pod says how to fill it.
		eventually(t, 20*time.Second, "agnhost without a binary waits with RunContainerError", func() error {
			var pod struct {
				Status struct {
					ContainerStatuses []struct {
						State struct {
							Waiting *struct{ Reason, Message string }
						}
					}
				}
			}
			l.kubectlJSON(&pod, "get", "pod", "netexec")
			if len(pod.Status.ContainerStatuses) == 0 || pod.Status.ContainerStatuses[0].State.Waiting == nil {
				return fmt.Errorf("no waiting state yet: %+v", pod.Status)
			}
			w := pod.Status.ContainerStatuses[0].State.Waiting
			if w.Reason != "RunContainerError" || !strings.Contains(w.Message, "--images-dir") || !strings.Contains(w.Message, "go build") {
				return fmt.Errorf("waiting %s: %s", w.Reason, w.Message)
			}
			return nil
		})
		// The images directory is live in the nodes: the binary put there now is used at once.
		b, err := os.ReadFile(filepath.Join(built, "agnhost"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, "agnhost"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		ips := l.waitRunning(t, "netexec")
		l.waitRunning(t, "client")
		url := "http://" + net.JoinHostPort(ips[0], "8083") + "/hostname"
		eventually(t, 30*time.Second, "agnhost netexec answers /hostname", func() error {
			out, err := l.kubectlErr("exec", "client", "--", "wget", "-qO-", url)
			if err != nil || strings.TrimSpace(out) != "netexec" {
				return fmt.Errorf("%v: %q", err, out)
			}
			return nil
		})
		out := l.kubectl("exec", "netexec", "--", "sh", "-c", "ls /agnhost /localhost.crt /localhost.key && echo x > /results/r && cat /results/r")
		if !strings.Contains(out, "/localhost.key") || !strings.Contains(out, "x") {
			t.Errorf("agnhost's root: %q", out)
		}
	})

	t.Run("host-and-node-untouched", func(t *testing.T) {
		for _, p := range []string{"/agnhost", "/results", "/localhost.crt", "/tmp/marker", "/srv/made", "/data/in", "/etc/config"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("%s appeared on the host: containers must write only their own layers", p)
			}
			for _, node := range []string{"node-1", "node-2"} {
				if out, err := l.weftErr(append([]string{"lab", "exec"}, append(l.labFlags(), node, "--", "test", "-e", p)...)...); err == nil {
					t.Errorf("%s appeared in %s's view: containers must write only their own layers (%s)", p, node, out)
				}
			}
		}
	})

	t.Run("pods-go-with-their-mounts", func(t *testing.T) {
		l.kubectl("delete", "pod", "--all", "--wait=true", "--timeout=60s")
		for _, node := range []string{"node-1", "node-2"} {
			out, err := l.weftErr(append([]string{"lab", "exec"}, append(l.labFlags(), node, "--", "cat", "/proc/self/mountinfo")...)...)
			if err != nil {
				t.Fatalf("mountinfo of %s: %v\n%s", node, err, out)
			}
			if strings.Contains(out, "/pods/") {
				t.Errorf("%s still has mounts under its pods' directories after every pod went:\n%s", node, out)
			}
		}
	})
}

// buildAgnhost puts an agnhost binary in dir: $WEFT_AGNHOST if set, else one built from
// k8s.io/kubernetes in a scratch module with weft's requirements (weft's own go.sum lacks the
// modules only agnhost needs). It returns why not, when it cannot.
func buildAgnhost(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, "agnhost")
	if src := os.Getenv("WEFT_AGNHOST"); src != "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("WEFT_AGNHOST: %v", err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return ""
	}
	mod := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "go.mod" {
			b = []byte(strings.Replace(string(b), "module github.com/weftnet/weft", "module weft.local/agnhost", 1))
		}
		if err := os.WriteFile(filepath.Join(mod, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(gobin, "build", "-mod=mod", "-o", dst, "k8s.io/kubernetes/test/images/agnhost")
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Sprintf("no agnhost: set WEFT_AGNHOST to a binary built with `go build k8s.io/kubernetes/test/images/agnhost` (building one here failed: %v: %s)", err, out)
	}
	return ""
}
