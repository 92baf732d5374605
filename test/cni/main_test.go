// Package cni runs the weft-cni binary on a real kernel, driven by the real cnitool the way
// a container runtime drives it through libcni. Everything happens in network namespaces the
// tests create unnamed (held by a process each): the host's links, routes and named
// namespaces stay as they were. The tests need root; as another user they skip.
package cni

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var (
	// pluginDir is CNI_PATH: it holds weft-cni.
	pluginDir string
	// cnitool is the path of the cnitool binary, or "" when it is missing.
	cnitool string
)

const cnitoolInstall = "GOBIN=$PWD/.tools/bin go install github.com/containernetworking/cni/cnitool@v1.3.0"

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run()) // every test skips
	}
	dir, err := os.MkdirTemp("", "weft-cni-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		if err := preparePlugin(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pluginDir = dir
		cnitool = findCnitool()
		before := hostState()
		code := m.Run()
		if after := hostState(); !slices.Equal(before, after) {
			fmt.Fprintf(os.Stderr, "the tests changed the host:\nbefore: %v\nafter:  %v\n", before, after)
			return 1
		}
		return code
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// preparePlugin puts weft-cni into dir: $WEFT_CNI when set, else a fresh build.
func preparePlugin(dir string) error {
	dst := filepath.Join(dir, "weft-cni")
	if bin := os.Getenv("WEFT_CNI"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return err
		}
		return os.Symlink(abs, dst)
	}
	out, err := exec.Command("go", "build", "-o", dst, "github.com/weftnet/weft/cmd/weft-cni").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build weft-cni: %v\n%s", err, out)
	}
	return nil
}

func findCnitool() string {
	if p := os.Getenv("CNITOOL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	var candidates []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(p, "bin", "cnitool"))
		}
	}
	_, file, _, _ := runtime.Caller(0)
	candidates = append(candidates, filepath.Join(filepath.Dir(file), "..", "..", ".tools", "bin", "cnitool"))
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	if p, err := exec.LookPath("cnitool"); err == nil {
		return p
	}
	return ""
}

// needRoot skips a test that needs root, and fails one whose tools are missing.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, bridges and veths")
	}
	if cnitool == "" {
		t.Fatalf("cnitool not found (looked at $CNITOOL, $(go env GOPATH)/bin, .tools/bin and $PATH): install it with\n  %s", cnitoolInstall)
	}
	for _, tool := range []string{"unshare", "nsenter", "ip", "ping", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install util-linux, iproute2 and iputils-ping", tool)
		}
	}
}

// hostState is the part of the host the plugin could touch if a test ran it in the wrong
// namespace: links named like weft-cni's bridge and veths. Other links are left out, since
// other work on the machine may add or remove them meanwhile.
func hostState() []string {
	var state []string
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			name := strings.Split(strings.TrimSuffix(f[1], ":"), "@")[0]
			if strings.HasPrefix(name, "wft") || strings.HasPrefix(name, "weft") || strings.HasPrefix(name, "eth0") {
				state = append(state, name)
			}
		}
	}
	slices.Sort(state)
	return state
}
