package hoststate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSysctl(t *testing.T) {
	root := filepath.Join(t.TempDir(), "net")
	writeFile(t, filepath.Join(root, "ipv4", "ip_forward"), "0\n")
	writeFile(t, filepath.Join(root, "ipv4", "tcp_rmem"), "4096\t131072\t6291456\n")
	writeFile(t, filepath.Join(root, "core", "somaxconn"), "4096\n")
	writeFile(t, filepath.Join(root, "netfilter", "nf_conntrack_count"), "17\n")

	got, err := readSysctl(root)
	if err != nil {
		t.Fatal(err)
	}
	want := "net/core/somaxconn = 4096\nnet/ipv4/ip_forward = 0\nnet/ipv4/tcp_rmem = 4096 131072 6291456\n"
	if got != want {
		t.Errorf("readSysctl:\n got %q\nwant %q", got, want)
	}

	// A real change must show; a change to a volatile entry must not.
	writeFile(t, filepath.Join(root, "ipv4", "ip_forward"), "1\n")
	writeFile(t, filepath.Join(root, "netfilter", "nf_conntrack_count"), "3\n")
	changed, err := readSysctl(root)
	if err != nil {
		t.Fatal(err)
	}
	if changed == got || !strings.Contains(changed, "net/ipv4/ip_forward = 1\n") {
		t.Errorf("ip_forward change not visible: %q", changed)
	}
	if strings.Contains(changed, "nf_conntrack_count") {
		t.Errorf("volatile entry listed: %q", changed)
	}

	if _, err := readSysctl(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("readSysctl of a missing tree succeeded, want error")
	}
}

func TestReadNetns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "netns")
	got, err := readNetns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := dir + ": absent\n"; got != want {
		t.Errorf("absent dir: got %q, want %q", got, want)
	}

	writeFile(t, filepath.Join(dir, "weft-b"), "")
	writeFile(t, filepath.Join(dir, "weft-a"), "")
	got, err = readNetns(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := dir + ": present\n" + filepath.Join(dir, "weft-a") + "\n" + filepath.Join(dir, "weft-b") + "\n"
	if got != want {
		t.Errorf("present dir: got %q, want %q", got, want)
	}
}
