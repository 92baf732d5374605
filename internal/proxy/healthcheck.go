package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// healthChecks serves each externalTrafficPolicy Local service's healthCheckNodePort on every
// node address: 200 where this node has endpoints of it, 503 where it has none, so an external
// load balancer sends clients only to nodes that can serve them.
type healthChecks struct {
	mu      sync.Mutex
	servers map[int]*http.Server
	counts  map[int]healthInfo
}

type healthInfo struct {
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	LocalEndpoints int    `json:"localEndpoints"`
}

func newHealthChecks() *healthChecks {
	return &healthChecks{servers: map[int]*http.Server{}, counts: map[int]healthInfo{}}
}

// update opens the ports now wanted, closes the others, and sets each one's answer.
func (h *healthChecks) update(ports []*servicePort) error {
	want := map[int]healthInfo{}
	for _, sp := range ports {
		if !sp.externalLocal || sp.healthCheckNodePort == 0 {
			continue
		}
		info := want[sp.healthCheckNodePort]
		info.Namespace, info.Name = sp.namespace, sp.name
		// One answer per service: its ready local endpoints over its ports and families, counted
		// once. Terminating ones still get traffic (localEndpoints) but count as none here.
		if n := sp.localReady; n > info.LocalEndpoints {
			info.LocalEndpoints = n
		}
		want[sp.healthCheckNodePort] = info
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts = want
	var errs []error
	for port, srv := range h.servers {
		if _, ok := want[port]; !ok {
			_ = srv.Close()
			delete(h.servers, port)
		}
	}
	for port := range want {
		if _, ok := h.servers[port]; ok {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, fmt.Errorf("health check node port %d: %w", port, err))
			continue
		}
		srv := &http.Server{Handler: h.handler(port), ReadHeaderTimeout: 5 * time.Second}
		h.servers[port] = srv
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = ln.Close()
			}
		}()
	}
	return errors.Join(errs...)
}

func (h *healthChecks) handler(port int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		info := h.counts[port]
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if info.LocalEndpoints == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"service": map[string]string{"namespace": info.Namespace, "name": info.Name}, "localEndpoints": info.LocalEndpoints})
	})
}

func (h *healthChecks) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, srv := range h.servers {
		_ = srv.Close()
		delete(h.servers, port)
	}
}
