package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFiles stores the pair with the key private (0600) and the certificate
// world-readable (0644). The key is written first so that a certificate on disk
// always has its key beside it.
func (kp KeyPair) WriteFiles(certFile, keyFile string) error {
	if err := writeFileAtomic(keyFile, kp.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := writeFileAtomic(certFile, kp.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// WriteKubeconfig writes data to path with exactly mode, whatever the umask.
func WriteKubeconfig(path string, data []byte, mode os.FileMode) error {
	if err := writeFileAtomic(path, data, mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// writeFileAtomic goes through a temporary file and a rename so that a reader
// (kubectl, or the API server restarting) never sees a half-written file. The
// temporary file starts 0600, so a key is never briefly exposed, and Chmod
// rather than the create mode sets the final bits because the umask would
// otherwise strip some of them.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
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
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}
