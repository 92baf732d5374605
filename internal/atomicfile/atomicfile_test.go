package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	old := syscall.Umask(0o077) // perm must win over the umask
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name     string
		existing string // the file's content before, "" for none
		data     string
		perm     os.FileMode
	}{
		{"new file", "", "a", 0o644},
		{"replaces", "old content, longer than the new", "new", 0o644},
		{"a key stays private", "", "key", 0o600},
		{"world-readable despite the umask", "x", "kubeconfig", 0o644},
		{"empty", "x", "", 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, []byte(tc.data), tc.perm); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tc.data {
				t.Errorf("file holds %q (%v), want %q", b, err, tc.data)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v (%v), want %v", fi.Mode().Perm(), err, tc.perm)
			}
			assertAlone(t, dir)
		})
	}
}

func TestWriteFailureLeavesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory in the way: the rename fails after the temporary file was written.
	if err := Write(dir, []byte("new"), 0o644); err == nil {
		t.Error("replacing a directory succeeded")
	}
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("new"), 0o644); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file holds %q after failed writes", b)
	}
	assertAlone(t, dir)
}

// assertAlone fails when dir holds anything but f: no temporary file may stay behind.
func assertAlone(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "f" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
