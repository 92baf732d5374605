package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/weftnet/weft/internal/atomicfile"
)

// WriteFiles stores the pair with the key private (0600) and the certificate
// world-readable (0644). The key is written first so that a certificate on disk
// always has its key beside it.
func (kp KeyPair) WriteFiles(certFile, keyFile string) error {
	if err := writeFile(keyFile, kp.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := writeFile(certFile, kp.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// WriteKubeconfig writes data to path with exactly mode, whatever the umask.
func WriteKubeconfig(path string, data []byte, mode os.FileMode) error {
	if err := writeFile(path, data, mode); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// writeFile creates path's directory, then writes it whole or not at all (a reader, kubectl or
// the API server restarting, never sees half a file).
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	return atomicfile.Write(path, data, mode)
}
