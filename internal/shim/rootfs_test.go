package shim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as `weft-shim enter` when this variable names a root spec.
const enterSpecEnv = "WEFT_SHIM_TEST_ROOT_SPEC"

// ... and `weft-shim exec` when this one names a process.
const joinPIDEnv = "WEFT_SHIM_TEST_JOIN_PID"

func TestMain(m *testing.M) {
	if spec := os.Getenv(enterSpecEnv); spec != "" {
		err := Enter(EnterOptions{NetNS: "/proc/self/ns/net", RootSpec: spec, Hostname: "pod-host"}, os.Args[1:])
		fmt.Fprintln(os.Stderr, "enter:", err)
		os.Exit(111)
	}
	if pid := os.Getenv(joinPIDEnv); pid != "" {
		n, _ := strconv.Atoi(pid)
		err := Join(JoinOptions{PID: n, WorkDir: "/"}, os.Args[1:])
		fmt.Fprintln(os.Stderr, "join:", err)
		os.Exit(111)
	}
	os.Exit(m.Run())
}

// TestEnterBuildsRoot runs a shell as a container in a root built from a spec and checks what
// it sees and what it leaves behind on the host.
func TestEnterBuildsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mount namespaces, overlays and pivot_root")
	}
	dir := t.TempDir()
	podFiles, vol, img := filepath.Join(dir, "files"), filepath.Join(dir, "vol"), filepath.Join(dir, "image-file")
	for _, d := range []string{podFiles, vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range map[string]string{
		filepath.Join(podFiles, "hostname"): "pod-host\n", filepath.Join(podFiles, "hosts"): "10.0.0.9 pod-host\n",
		img: "from the image\n", filepath.Join(vol, "shared"): "from the volume\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	target := "/weft-test-" + filepath.Base(dir) // must not appear on the host
	spec := RootSpec{
		Dir: filepath.Join(dir, "rootfs"), PodFiles: podFiles, Hide: []string{dir},
		Binds: []Bind{
			{Source: img, Target: target + "/image-file", ReadOnly: true},
			{Source: vol, Target: "/results"},
		},
		WorkDir: "/work/dir/made",
	}
	specPath := filepath.Join(dir, "root.json")
	if err := WriteRootSpec(specPath, spec); err != nil {
		t.Fatal(err)
	}
	script := `set -e
echo "pwd=$(pwd)"
echo "hostname=$(cat /etc/hostname)"
echo "hosts=$(cat /etc/hosts)"
echo "image=$(cat ` + target + `/image-file)"
echo "volume=$(cat /results/shared)"
echo written > /results/by-container
echo x > /etc/weft-container-only
if echo x > ` + target + `/image-file 2>/dev/null; then echo image=writable; fi
echo "tmp=$(ls -A /tmp | wc -l)"
echo "proc=$(test -e /proc/self/status && echo yes)"
echo "devnull=$(test -c /dev/null && echo yes)"
echo "hidden=$(ls -A ` + dir + ` | wc -l)"
# Writing back the current values: should a write go through, nothing changes.
if cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname 2>/dev/null; then echo kernel-sysctl=writable; fi
if ! cat /proc/sys/net/ipv4/ip_forward > /proc/sys/net/ipv4/ip_forward 2>/dev/null; then echo net-sysctl=read-only; fi
`
	cmd := exec.Command(os.Args[0], "sh", "-c", script)
	cmd.Env = append(os.Environ(), enterSpecEnv+"="+specPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("container: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"pwd=/work/dir/made\n", "hostname=pod-host\n", "hosts=10.0.0.9 pod-host\n",
		"image=from the image\n", "volume=from the volume\n", "tmp=0\n", "proc=yes\n", "devnull=yes\n", "hidden=0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("container output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "kernel-sysctl=writable") {
		t.Error("/proc/sys/kernel was writable; want the host's knobs read-only")
	}
	if strings.Contains(got, "net-sysctl=read-only") {
		t.Error("/proc/sys/net was read-only; want the pod's network settings writable")
	}
	if strings.Contains(got, "image=writable") {
		t.Error("the image's file was writable; want it read-only")
	}
	if b, err := os.ReadFile(filepath.Join(vol, "by-container")); err != nil || string(b) != "written\n" {
		t.Errorf("the volume did not get the container's file: %q, %v", b, err)
	}
	for _, p := range []string{target, "/results/by-container", "/etc/weft-container-only", "/work/dir/made"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host after the container ran; containers must never write the host", p)
			os.RemoveAll(p)
		}
	}
	if entries, _ := os.ReadDir(spec.Dir); len(entries) != 0 {
		t.Errorf("%s is not empty on the host: the container's root leaked out of its mount namespace", spec.Dir)
	}
}

// TestJoinSeesTheContainerRoot checks that exec lands in the running container's root: a file
// the container wrote in its own /tmp is there, and nowhere else.
func TestJoinSeesTheContainerRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mount namespaces, overlays and pivot_root")
	}
	dir := t.TempDir()
	spec := RootSpec{Dir: filepath.Join(dir, "rootfs"), PodFiles: filepath.Join(dir, "files"), Hide: []string{dir}}
	specPath := filepath.Join(dir, "root.json")
	if err := WriteRootSpec(specPath, spec); err != nil {
		t.Fatal(err)
	}
	container := exec.Command(os.Args[0], "sh", "-c", "echo mine > /tmp/marker; exec sleep 60")
	container.Env = append(os.Environ(), enterSpecEnv+"="+specPath)
	if err := container.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = container.Process.Kill(); _ = container.Wait() }()
	var out []byte
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		join := exec.Command(os.Args[0], "cat", "/tmp/marker")
		join.Env = append(os.Environ(), joinPIDEnv+"="+strconv.Itoa(container.Process.Pid))
		if out, err = join.CombinedOutput(); err == nil {
			break
		}
	}
	if err != nil || string(out) != "mine\n" {
		t.Fatalf("exec in the container: %v: %q, want the container's /tmp/marker", err, out)
	}
	if _, err := os.Stat("/tmp/marker"); err == nil {
		t.Error("/tmp/marker is on the host; want it only in the container")
	}
}

// TestEnterFailureIsAStartError checks that a container whose root cannot be built ends as a
// StartError that says why, not as a plain exit 1.
func TestEnterFailureIsAStartError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mount namespaces")
	}
	dir := t.TempDir()
	spec := RootSpec{Dir: filepath.Join(dir, "rootfs"), PodFiles: filepath.Join(dir, "files"),
		Binds: []Bind{{Source: filepath.Join(dir, "no-such-volume"), Target: "/data"}}}
	specPath := filepath.Join(dir, "root.json")
	if err := WriteRootSpec(specPath, spec); err != nil {
		t.Fatal(err)
	}
	t.Setenv(enterSpecEnv, specPath)
	if err := Run(dir, filepath.Join(dir, "0.log"), []string{os.Args[0], "true"}); err != nil {
		t.Fatal(err)
	}
	var exit ExitRecord
	if !ReadRecord(filepath.Join(dir, ExitFile), &exit) || exit.Reason != "StartError" || exit.ExitCode != 128 || !strings.Contains(exit.Message, "no-such-volume") {
		t.Errorf("exit record %+v, want a StartError naming the missing source", exit)
	}
}
