package healthcheck

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestHealthCheckAnswersByLocalEndpoints(t *testing.T) {
	h := NewServers()
	defer h.Close()
	port := freePort(t)
	sp := Port{Namespace: "default", Name: "web", HealthCheckNodePort: port}
	get := func() (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if err := h.Update([]Port{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"localEndpoints":0`) {
		t.Errorf("no local endpoint: %d %s", code, body)
	}
	sp.LocalReady = 1
	if err := h.Update([]Port{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"localEndpoints":1`) {
		t.Errorf("one local endpoint: %d %s", code, body)
	}
	// The endpoint terminates: it still gets traffic, but load balancers must leave the node.
	sp.LocalReady = 0
	if err := h.Update([]Port{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"localEndpoints":0`) {
		t.Errorf("only a terminating local endpoint: %d %s", code, body)
	}
	if err := h.Update(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
		t.Error("the port still answers after its service went")
	}
}
