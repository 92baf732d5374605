package kubeletapi

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestAuthentication(t *testing.T) {
	p := newTestPKI(t)
	pods := &fakePods{logs: map[string]string{"default/web/app": writeLog(t, "hello\n")}}
	base, _ := startServer(t, p, pods, func(c *Config) { c.AllowedUsers = []string{apiServerUser} })
	logs := base + "/containerLogs/default/web/app"

	for _, tc := range []struct {
		name     string
		client   *http.Client
		url      string
		wantCode int
		wantBody string
	}{
		{"health needs no certificate", p.httpClient(t, nil), base + "/healthz", http.StatusOK, "ok"},
		{"no certificate", p.httpClient(t, nil), logs, http.StatusUnauthorized, "Unauthorized"},
		{"certificate from another CA", p.httpClient(t, &p.foreign), logs, http.StatusUnauthorized, "Unauthorized"},
		{"user not allowed", p.httpClient(t, &p.node), logs, http.StatusForbidden, "system:node:other"},
		{"API server", p.httpClient(t, &p.apiServer), logs, http.StatusOK, "hello\n"},
		{"unknown path", p.httpClient(t, &p.apiServer), base + "/pods", http.StatusNotFound, "no kubelet API at /pods"},
		{"unknown path without certificate", p.httpClient(t, nil), base + "/pods", http.StatusUnauthorized, "Unauthorized"},
		{"attach", p.httpClient(t, &p.apiServer), base + "/attach/default/web/app", http.StatusNotFound, "not served"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.client, tc.url)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tc.url, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{Addr: "10250", StreamIdleTimeout: -1}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an empty config")
	}
	for _, want := range []string{"10250", "--tls-cert-file", "--tls-private-key-file", "--client-ca-file", "stream idle timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not name %s", err, want)
		}
	}
}

// /logs/ serves the node's log directory to the API server (nodes/<node>/proxy/logs/), and to
// nobody else.
func TestNodeLogs(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "syslog"), []byte("node booted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := startServer(t, p, &fakePods{}, func(c *Config) { c.AllowedUsers = []string{apiServerUser}; c.NodeLogDir = dir })
	for _, tc := range []struct {
		name     string
		client   *http.Client
		path     string
		wantCode int
		wantBody string
	}{
		{"listing", p.httpClient(t, &p.apiServer), "/logs/", http.StatusOK, "syslog"},
		{"a file", p.httpClient(t, &p.apiServer), "/logs/syslog", http.StatusOK, "node booted"},
		{"outside the directory", p.httpClient(t, &p.apiServer), "/logs/../../etc/passwd", http.StatusNotFound, ""},
		{"not the API server", p.httpClient(t, &p.node), "/logs/", http.StatusForbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.client, base+tc.path)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}
