// Command cni measures the latency of CNI ADD and DEL for weft-cni and for the reference
// bridge + host-local plugins, side by side in one run, one attachment at a time and many in
// parallel. Both are executed the way a container runtime executes them, through libcni's
// AddNetworkList and DelNetworkList. Everything runs in network namespaces the command
// creates unnamed (a "node" for the bridges and one per pod), so the host is not touched.
//
//	GOBIN=$PWD/.tools/bin go install github.com/containernetworking/plugins/plugins/main/bridge@v1.10.0 \
//	    github.com/containernetworking/plugins/plugins/ipam/host-local@v1.10.0
//	sudo go run ./bench/cni --plugins .tools/bin
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// insideEnv marks the copy of this command that runs inside the node namespace.
const insideEnv = "WEFT_CNI_BENCH_INSIDE"

func main() {
	opts := options{}
	flag.StringVar(&opts.weftCNI, "weft-cni", "", "weft-cni binary (default: build ./cmd/weft-cni)")
	flag.StringVar(&opts.plugins, "plugins", ".tools/bin", "directory holding the reference bridge and host-local plugins")
	flag.IntVar(&opts.n, "n", 200, "attachments per measurement and run")
	flag.IntVar(&opts.runs, "runs", 3, "runs of every measurement; figures are the median with the minimum and maximum, ratios the median and the worst")
	flag.StringVar(&opts.parallel, "parallel", "1,16", "concurrency levels, comma-separated")
	flag.StringVar(&opts.families, "families", "ipv4,dual", "address families to measure: ipv4, ipv6, dual")
	flag.Parse()
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root (sudo): it creates network namespaces, bridges and veths"))
	}
	if opts.runs < 1 || opts.n < 1 {
		fail(fmt.Errorf("-n %d -runs %d: want at least 1 of each", opts.n, opts.runs))
	}
	if os.Getenv(insideEnv) != "" {
		if err := runInside(opts); err != nil {
			fail(err)
		}
		return
	}
	if err := runOutside(opts); err != nil {
		fail(err)
	}
}

type options struct {
	weftCNI, plugins, parallel, families string
	n, runs                              int
}

// runOutside prepares the plugin directory, creates the node namespace and runs this command
// again inside it, so that libcni and the plugins it executes all live in the node.
func runOutside(opts options) error {
	work, err := os.MkdirTemp("", "weft-cni-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	binDir := filepath.Join(work, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		return err
	}
	if opts.weftCNI == "" {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "weft-cni"), "./cmd/weft-cni").CombinedOutput(); err != nil {
			return fmt.Errorf("build weft-cni: %v\n%s", err, out)
		}
	} else if err := copyFile(opts.weftCNI, filepath.Join(binDir, "weft-cni")); err != nil {
		return err
	}
	for _, p := range []string{"bridge", "host-local"} {
		if err := copyFile(filepath.Join(opts.plugins, p), filepath.Join(binDir, p)); err != nil {
			return fmt.Errorf("reference plugin %s: %w (install it as the command's doc says)", p, err)
		}
	}
	node, err := holdNamespace()
	if err != nil {
		return err
	}
	defer node.kill()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("nsenter", append([]string{"--net=" + node.path, "--", self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), insideEnv+"="+work)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// holder is a process that keeps a fresh network namespace alive.
type holder struct {
	cmd  *exec.Cmd
	path string
}

func holdNamespace() (*holder, error) {
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", "echo ready; exec sleep 3600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("unshare: %w", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	h := &holder{cmd: cmd, path: "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"}
	if strings.TrimSpace(line) != "ready" {
		h.kill()
		return nil, fmt.Errorf("namespace holder did not start")
	}
	return h, nil
}

func (h *holder) kill() {
	h.cmd.Process.Kill()
	h.cmd.Wait()
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/cni:", err)
	os.Exit(1)
}
