package cni

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// netNS is a network namespace held by a sleeping process: its path is /proc/PID/ns/net, so
// nothing is pinned in /run/netns and the namespace dies with the process.
type netNS struct {
	cmd  *exec.Cmd
	Pid  int
	Path string
	done chan struct{}
}

// newNS starts a holder process in a new network namespace. script runs in it first (it may
// mount things when mount is set, which gives the holder a private mount namespace too).
func newNS(t *testing.T, mount bool, script string, args ...string) *netNS {
	t.Helper()
	flags := []string{"--net"}
	if mount {
		flags = append(flags, "--mount", "--propagation", "private")
	}
	full := append(flags, "--", "sh", "-c", script+"\necho ready\nexec sleep 600", "holder")
	cmd := exec.Command("unshare", append(full, args...)...)
	// If the test binary dies, so does the holder, and with it the namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start namespace holder: %v", err)
	}
	pid := cmd.Process.Pid
	ns := &netNS{cmd: cmd, Pid: pid, Path: fmt.Sprintf("/proc/%d/ns/net", pid), done: make(chan struct{})}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	go func() { cmd.Wait(); close(ns.done) }()
	t.Cleanup(ns.Kill)
	if strings.TrimSpace(line) != "ready" {
		ns.Kill()
		t.Fatalf("namespace holder failed: %s", stderr.String())
	}
	return ns
}

// Kill ends the holder and waits until it is gone.
func (ns *netNS) Kill() {
	ns.cmd.Process.Kill()
	<-ns.done
}

// Exec runs a command inside the namespace and returns its stdout.
func (ns *netNS) Exec(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := ns.Try(name, args...)
	if err != nil {
		t.Fatalf("in %s: %s %s: %v", ns.Path, name, strings.Join(args, " "), err)
	}
	return out
}

// Try runs a command inside the namespace and returns its stdout, or an error with stderr.
func (ns *netNS) Try(name string, args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"--net=" + ns.Path, "--", name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s%s", err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// node is a simulated node: a network namespace that gets the bridge and host veths, with
// a private mount namespace whose /var/lib is a scratch directory, so libcni's result cache
// (/var/lib/cni) stays out of the host.
type node struct {
	*netNS
	t       *testing.T
	dir     string
	confDir string
	dataDir string
	network string
}

func newNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, dir: dir, confDir: filepath.Join(dir, "net.d"), dataDir: filepath.Join(dir, "ipam"), network: "weft-test"}
	varlib := filepath.Join(dir, "varlib")
	for _, d := range []string{n.confDir, varlib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.netNS = newNS(t, true, `mount --bind "$1" /var/lib`, varlib)
	return n
}

// pod is a pod's network namespace.
func newPod(t *testing.T) *netNS { return newNS(t, false, ":") }

// conf is the weft-cni plugin object of a test network.
func (n *node) conf(cniVersion string, podCIDRs ...string) map[string]any {
	return map[string]any{"cniVersion": cniVersion, "name": n.network, "type": "weft-cni",
		"bridge": "weft0", "mtu": 1500, "hairpinMode": true, "podCIDRs": podCIDRs, "dataDir": n.dataDir}
}

// writeConf installs a configuration list holding the plugin object, as a runtime would
// find it.
func (n *node) writeConf(plugin map[string]any) {
	n.t.Helper()
	list := map[string]any{"cniVersion": plugin["cniVersion"], "name": n.network, "plugins": []any{plugin}}
	data, _ := json.Marshal(list)
	if err := os.WriteFile(filepath.Join(n.confDir, n.network+".conflist"), data, 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// cnitool runs cnitool inside the node: verb is add, check, del, gc or status.
func (n *node) cnitool(verb string, pod string) (string, error) {
	args := []string{"--net=" + n.Path, fmt.Sprintf("--mount=/proc/%d/ns/mnt", n.Pid), "--", cnitool, verb, n.network}
	if pod != "" {
		args = append(args, pod)
	} else {
		args = append(args, "/none") // cnitool wants a namespace argument even where unused
	}
	cmd := exec.Command("nsenter", args...)
	cmd.Env = append(os.Environ(), "NETCONFPATH="+n.confDir, "CNI_PATH="+pluginDir, "CNI_IFNAME=eth0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("cnitool %s: %w: %s", verb, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

func (n *node) mustCnitool(verb, pod string) string {
	n.t.Helper()
	out, err := n.cnitool(verb, pod)
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

// cniError is the error object a plugin prints.
type cniError struct {
	CNIVersion string `json:"cniVersion"`
	Code       uint   `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details"`
}

// plugin runs weft-cni directly inside the node, the way libcni does: the environment
// carries the command and stdin the configuration. It returns stdout and, when the plugin
// fails, the error object it printed.
func (n *node) plugin(env map[string]string, stdin any) (string, *cniError) {
	n.t.Helper()
	var in []byte
	switch v := stdin.(type) {
	case string:
		in = []byte(v)
	default:
		in, _ = json.Marshal(v)
	}
	cmd := exec.Command("nsenter", "--net="+n.Path, "--", filepath.Join(pluginDir, "weft-cni"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = bytes.NewReader(in)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	var e cniError
	if jerr := json.Unmarshal(stdout.Bytes(), &e); jerr != nil {
		n.t.Fatalf("weft-cni failed (%v) without a CNI error on stdout: %q", err, stdout.String())
	}
	return stdout.String(), &e
}

// containerID is the ID cnitool gives the attachment of a namespace path.
func containerID(nsPath string) string {
	s := sha512.Sum512([]byte(nsPath))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// waitFor waits for a condition that the kernel reaches asynchronously, such as the links
// of a dead namespace disappearing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
