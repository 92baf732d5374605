package proxy

import (
	"io"
	"net"
	"net/http"
	"net/netip"
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
	h := newHealthChecks()
	defer h.close()
	port := freePort(t)
	sp := &servicePort{namespace: "default", name: "web", externalLocal: true, healthCheckNodePort: port}
	get := func() (int, string) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if err := h.update([]*servicePort{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"localEndpoints":0`) {
		t.Errorf("no local endpoint: %d %s", code, body)
	}
	sp.localEndpoints, sp.localReady = []endpoint{{ip: netip.MustParseAddr("10.42.0.5"), port: 80}}, 1
	if err := h.update([]*servicePort{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"localEndpoints":1`) {
		t.Errorf("one local endpoint: %d %s", code, body)
	}
	// The endpoint terminates: it still gets traffic, but load balancers must leave the node.
	sp.localReady = 0
	if err := h.update([]*servicePort{sp}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"localEndpoints":0`) {
		t.Errorf("only a terminating local endpoint: %d %s", code, body)
	}
	if err := h.update(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
		t.Error("the port still answers after its service went")
	}
}
