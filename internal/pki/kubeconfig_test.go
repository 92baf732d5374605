package pki

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// field returns the value of the first line whose trimmed text starts with key
// and carries a value (so "cluster:" opening a mapping is skipped), unquoting
// it if it is a double-quoted scalar.
func field(t *testing.T, doc, key string) string {
	t.Helper()
	for line := range strings.Lines(doc) {
		rest, ok := strings.CutPrefix(strings.TrimLeft(line, " -"), key+":")
		if !ok {
			continue
		}
		v := strings.TrimSpace(rest)
		if v == "" {
			continue
		}
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("%s: bad quoted value %s: %v", key, v, err)
			}
			return u
		}
		return v
	}
	t.Fatalf("no %q line in:\n%s", key, doc)
	return ""
}

func TestKubeconfig(t *testing.T) {
	ca := mustCA(t, "weft-ca")
	client := mustIssue(t, ca, Leaf{CommonName: "admin", Organization: []string{"system:masters"}, Client: true, ValidFor: time.Hour})
	tests := []struct{ name, server string }{
		{name: "weft", server: "https://127.0.0.1:6443"},
		{name: "lab: one", server: "https://[::1]:6443"},
		{name: "on", server: "https://localhost:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := string(Kubeconfig(tt.name, tt.server, ca.CertPEM, client))
			for key, want := range map[string]string{
				"apiVersion":      "v1",
				"kind":            "Config",
				"server":          tt.server,
				"name":            tt.name,
				"cluster":         tt.name,
				"user":            tt.name,
				"current-context": tt.name,
			} {
				if got := field(t, doc, key); got != want {
					t.Errorf("%s = %q, want %q", key, got, want)
				}
			}
			for key, want := range map[string][]byte{
				"certificate-authority-data": ca.CertPEM,
				"client-certificate-data":    client.CertPEM,
				"client-key-data":            client.KeyPEM,
			} {
				got, err := base64.StdEncoding.DecodeString(field(t, doc, key))
				if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				if string(got) != string(want) {
					t.Errorf("%s decodes to different bytes", key)
				}
			}
			for _, section := range []string{"clusters:", "contexts:", "users:"} {
				if !strings.Contains(doc, "\n"+section+"\n") {
					t.Errorf("missing top-level %s", section)
				}
			}
		})
	}
}

func TestWriteKubeconfig(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
	}{
		{name: "private", mode: 0o600},
		{name: "shared", mode: 0o644},
		{name: "group", mode: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a", "b", "kubeconfig")
			for _, data := range []string{"first\n", "second\n"} {
				if err := WriteKubeconfig(path, []byte(data), tt.mode); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != data {
					t.Errorf("content = %q, want %q", got, data)
				}
				checkMode(t, path, tt.mode)
			}
			checkMode(t, filepath.Dir(path), 0o755)
			assertNoTempFiles(t, filepath.Dir(path))
		})
	}
}
