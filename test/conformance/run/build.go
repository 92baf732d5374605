package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// tools are the programs a run needs, built from this module (the Kubernetes release weft embeds).
type tools struct {
	e2e, kubectl, ginkgo string
	imagesDir            string // what the lab's containers of test images find: agnhost
}

// The packages built, by output name. e2e.test is a test binary: see e2e_test.go.
var toolPackages = map[string]string{
	"kubectl":        "k8s.io/kubernetes/cmd/kubectl",
	"ginkgo":         "github.com/onsi/ginkgo/v2/ginkgo",
	"images/agnhost": "k8s.io/kubernetes/test/images/agnhost",
	// The image of the spec that sends an out-of-window segment (the invalid conntrack state bug).
	"images/regression-issue-74839": "k8s.io/kubernetes/test/images/regression-issue-74839",
}

// corednsModule is CoreDNS, built in its own module: agnhost's image carries /coredns, which
// the DNS spec with a pod's own nameservers runs as the server it points the pod at.
const corednsModule = "../coredns"

// corednsOut is where the lab's agnhost containers find it (see internal/noderuntime/images.go).
const corednsOut = "images/coredns"

// stampInputs decide whether the tools are current: the module's requirements and the suite's
// own source. Go caches compiled packages, but linking e2e.test alone takes a minute on two
// cores, so an unchanged build is skipped altogether.
var stampInputs = []string{"go.mod", "go.sum", "e2e_test.go", "tools.go",
	corednsModule + "/go.mod", corednsModule + "/go.sum", corednsModule + "/main.go"}

// buildTools builds what is missing or stale into dir; it runs in the conformance module.
func buildTools(ctx context.Context, dir string) (*tools, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	t := &tools{
		e2e:       filepath.Join(dir, "e2e.test"),
		kubectl:   filepath.Join(dir, "kubectl"),
		ginkgo:    filepath.Join(dir, "ginkgo"),
		imagesDir: filepath.Join(dir, "images"),
	}
	stamp, err := inputsStamp()
	if err != nil {
		return nil, fmt.Errorf("the conformance tools are built from test/conformance (run from there): %w", err)
	}
	stampFile := filepath.Join(dir, "stamp")
	if old, err := os.ReadFile(stampFile); err == nil && string(old) == stamp && t.allExist() {
		return t, nil
	}
	fmt.Println("conformance: building e2e.test, agnhost, coredns, kubectl and ginkgo (first time: about 10 minutes; later runs reuse them)")
	if err := goCmd(ctx, "test", "-c", "-o", t.e2e, "."); err != nil {
		return nil, fmt.Errorf("build e2e.test: %w", err)
	}
	for out, pkg := range toolPackages {
		if err := goCmd(ctx, "build", "-o", filepath.Join(dir, out), pkg); err != nil {
			return nil, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	if err := goCmd(ctx, "build", "-C", corednsModule, "-o", filepath.Join(dir, corednsOut), "."); err != nil {
		return nil, fmt.Errorf("build CoreDNS in %s: %w", corednsModule, err)
	}
	return t, os.WriteFile(stampFile, []byte(stamp), 0o644)
}

func (t *tools) allExist() bool {
	for _, p := range []string{t.e2e, t.kubectl, t.ginkgo, filepath.Join(t.imagesDir, "agnhost"), filepath.Join(t.imagesDir, "coredns")} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

func inputsStamp() (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, name := range stampInputs {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func goCmd(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, goBinary(), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// goBinary is the go that runs this program, so `sudo make conformance` needs no PATH.
func goBinary() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
