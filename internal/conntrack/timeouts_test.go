package conntrack

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConntrackTimeoutsAreWrittenInSeconds(t *testing.T) {
	dir := t.TempDir()
	old := sysctlDir
	sysctlDir = dir
	t.Cleanup(func() { sysctlDir = old })
	for _, name := range []string{"nf_conntrack_tcp_timeout_established", "nf_conntrack_tcp_timeout_close_wait"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("60\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := DefaultTimeouts().Apply(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"nf_conntrack_tcp_timeout_established": "86400", "nf_conntrack_tcp_timeout_close_wait": "3600"} {
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// Zero leaves the kernel's value.
	if err := os.WriteFile(filepath.Join(dir, "nf_conntrack_tcp_timeout_close_wait"), []byte("60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Timeouts{Established: 2 * time.Hour}).Apply(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "nf_conntrack_tcp_timeout_close_wait")); string(got) != "60\n" {
		t.Errorf("close_wait changed to %q though its timeout was zero", got)
	}
	sysctlDir = filepath.Join(dir, "missing")
	if err := DefaultTimeouts().Apply(); err == nil {
		t.Error("a node without the sysctls must be an error, not silence")
	}
}
