// Package e2e runs real labs: a real control plane, nodes as namespaces, real packets.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/test/hoststate"
)

// dataDir keeps the tests' labs apart from a user's labs under /var/lib/weft.
const dataDir = "/var/lib/weft-e2e"

func weftBin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab creates network namespaces (run `sudo make test`)")
	}
	bin := os.Getenv("WEFT_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/weft")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("weft binary %s not found: build it with `make build` or set WEFT_BIN", bin)
	}
	return bin
}

// run runs a command and returns its combined output; it fails the test on error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(env, 5*time.Minute, name, args...)
	if err != nil {
		// Also on stderr: lab helpers fail through the lab's test, and a failure on a parent
		// test from inside a subtest loses its message.
		fmt.Fprintf(os.Stderr, "FAILED: %s %s: %v\n%s\n", name, strings.Join(args, " "), err, out)
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(env []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// lab is one running lab under test.
type lab struct {
	t    *testing.T
	bin  string
	name string
	port int
	// dir, when set, replaces dataDir: for tests whose labs must not meet the others'.
	dir string
}

func (l *lab) dataDir() string {
	if l.dir != "" {
		return l.dir
	}
	return dataDir
}

func (l *lab) env() []string {
	return []string{"WEFT_LAB=" + l.name, "WEFT_DATA_DIR=" + l.dataDir(), "KUBECONFIG="}
}

func (l *lab) weft(args ...string) string {
	l.t.Helper()
	return run(l.t, l.env(), l.bin, args...)
}

func (l *lab) weftErr(args ...string) (string, error) {
	return runErr(l.env(), 5*time.Minute, l.bin, args...)
}

func (l *lab) kubectl(args ...string) string {
	l.t.Helper()
	return l.weft(append([]string{"kubectl"}, args...)...)
}

func (l *lab) kubectlJSON(into any, args ...string) {
	l.t.Helper()
	out := l.kubectl(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), into); err != nil {
		l.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
}

// inNode runs a command inside one of the lab's network namespaces.
func (l *lab) in(role string, args ...string) (string, error) {
	return runErr(nil, time.Minute, "ip", append([]string{"netns", "exec", fmt.Sprintf("weft-%s-%s", l.name, role)}, args...)...)
}

func (l *lab) labFlags() []string {
	return []string{"--name", l.name, "--data-dir", l.dataDir()}
}

// eventually retries check until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// downAtCleanupAndCompareHost snapshots the host now and, when the test ends however it ends,
// takes the lab down and reports every difference from the snapshot.
func downAtCleanupAndCompareHost(t *testing.T, l *lab) {
	t.Helper()
	before, err := hoststate.Take()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever happened, leave nothing behind, and prove it.
		if out, err := l.weftErr(append([]string{"lab", "down"}, l.labFlags()...)...); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
		after, err := hoststate.Take()
		if err != nil {
			t.Fatal(err)
		}
		if diff := hoststate.Diff(before, after); diff != "" {
			t.Errorf("the host changed between lab up and lab down:\n%s", diff)
		}
	})
}
