package healthcheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The node's proxy health answers as kube-proxy's does on port 10256: unavailable until the
// rules were first written, then 200 with the time they were.
func TestProxyHealthAsKubeProxy(t *testing.T) {
	var h Proxy
	get := func(handler http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(h.handler(), "/healthz"); code != http.StatusServiceUnavailable || strings.Contains(body, "lastUpdated") {
		t.Errorf("before the first sync: %d %s", code, body)
	}
	h.Synced(time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC))
	for _, path := range []string{"/healthz", "/livez"} {
		if code, body := get(h.handler(), path); code != http.StatusOK || !strings.Contains(body, `"lastUpdated":"2026-12-04T06:00:00Z"`) {
			t.Errorf("%s after a sync: %d %s", path, code, body)
		}
	}
	if code, body := get(statusHandler(), "/proxyMode"); code != http.StatusOK || body != "weft" {
		t.Errorf("/proxyMode: %d %q", code, body)
	}
}
