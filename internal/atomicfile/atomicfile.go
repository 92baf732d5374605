// Package atomicfile replaces files so that a reader sees the old content or the whole new
// one, never a mix, and a crash at any moment leaves one or the other on disk. Weft's readers
// are other processes that may look at any time: a container runtime loading the CNI
// configuration, the CNI plugin reading its IP leases, kubectl and the API server reading
// kubeconfigs and keys, the node runtime reading a container's start and exit records.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, with permission bits exactly perm whatever the umask. The data
// goes to a temporary file in the same directory (so the rename cannot cross file systems),
// created 0600 so a key is never readable before its bits are set, and flushed to disk before
// the rename; the directory is flushed after it, so the rename itself survives a crash. The
// temporary file's name starts with a dot and ends in .tmp-<random>, which no reader of
// configuration directories takes for a file of its own. On failure path is untouched and the
// temporary file removed. The directory must exist.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
