package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %v, want %v", filepath.Base(path), got, want)
	}
}

func TestWriteFilesPermissions(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	leaf := mustIssue(t, ca, Leaf{CommonName: "admin", Client: true, ValidFor: time.Hour})
	tests := []struct {
		name  string
		write func(cert, key string) error
	}{
		{name: "CA", write: ca.WriteFiles},
		{name: "leaf", write: leaf.WriteFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cert := filepath.Join(dir, "pki", "nested", "x.crt")
			key := filepath.Join(dir, "pki", "private", "x.key")
			if err := tt.write(cert, key); err != nil {
				t.Fatal(err)
			}
			checkMode(t, cert, 0o644)
			checkMode(t, key, 0o600)
			checkMode(t, filepath.Dir(cert), 0o755)
			checkMode(t, filepath.Dir(key), 0o755)

			// A second write replaces the files and keeps the modes.
			if err := os.Chmod(key, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tt.write(cert, key); err != nil {
				t.Fatal(err)
			}
			checkMode(t, key, 0o600)
			assertNoTempFiles(t, filepath.Dir(key))
		})
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestLoadCARoundTrip(t *testing.T) {
	orig := mustCA(t, "weft-ca")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := orig.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !loaded.Cert.Equal(orig.Cert) {
		t.Error("loaded certificate differs")
	}
	if !loaded.Key.Equal(orig.Key) {
		t.Error("loaded key differs")
	}
	if string(loaded.CertPEM) != string(orig.CertPEM) {
		t.Error("loaded CertPEM differs")
	}

	leaf := mustIssue(t, loaded, Leaf{CommonName: "etcd", DNSNames: []string{"localhost"}, Server: true, ValidFor: time.Hour})
	_, err = mustParseCert(t, leaf.CertPEM).Verify(x509.VerifyOptions{
		Roots:     poolOf(orig.Cert),
		DNSName:   "localhost",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatalf("leaf from loaded CA does not verify against original: %v", err)
	}
}

func TestLoadCAErrors(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	other := mustCA(t, "other-ca")
	leaf := mustIssue(t, ca, Leaf{CommonName: "admin", Client: true, ValidFor: time.Hour})
	otherKey, err := keyPEM(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := keyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		cert, key  []byte // nil means the file is absent
		wantSubstr string
	}{
		{name: "missing cert", key: caKey, wantSubstr: "no such file"},
		{name: "missing key", cert: ca.CertPEM, wantSubstr: "no such file"},
		{name: "garbage cert", cert: []byte("nope"), key: caKey, wantSubstr: "CERTIFICATE"},
		{name: "garbage key", cert: ca.CertPEM, key: []byte("nope"), wantSubstr: "PEM"},
		{name: "mismatched key", cert: ca.CertPEM, key: otherKey, wantSubstr: "does not match"},
		{name: "leaf is not a CA", cert: leaf.CertPEM, key: leaf.KeyPEM, wantSubstr: "not a CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
			for path, data := range map[string][]byte{certFile: tt.cert, keyFile: tt.key} {
				if data != nil {
					if err := os.WriteFile(path, data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, err := LoadCA(certFile, keyFile)
			if err == nil || !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Fatalf("LoadCA error = %v, want one containing %q", err, tt.wantSubstr)
			}
		})
	}
}
