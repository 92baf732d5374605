// Package healthcheck answers the health questions load balancers and tools ask a node's
// service proxy: each externalTrafficPolicy Local Service's healthCheckNodePort (whether this
// node has endpoints of it) and kube-proxy's own ports, /healthz on 10256 and /proxyMode on
// 10249. The proxy tells it what to answer; it never reads the cluster itself.
package healthcheck

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

// Servers serve each externalTrafficPolicy Local service's healthCheckNodePort on every node
// address: 200 where this node has endpoints of it, 503 where it has none, so an external load
// balancer sends clients only to nodes that can serve them.
type Servers struct {
	mu      sync.Mutex
	servers map[int]*http.Server
	counts  map[int]healthInfo
}

type healthInfo struct {
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	LocalEndpoints int    `json:"localEndpoints"`
}

// NewServers serves no port until Update says which.
func NewServers() *Servers {
	return &Servers{servers: map[int]*http.Server{}, counts: map[int]healthInfo{}}
}

// Port is one port (in one address family) of an externalTrafficPolicy Local Service.
type Port struct {
	Namespace, Name string
	// HealthCheckNodePort is the Service's spec.healthCheckNodePort (0: none to answer).
	HealthCheckNodePort int
	// LocalReady counts this node's ready endpoints of the port. Terminating ones still get
	// traffic but count as none: load balancers must leave a node whose endpoints all go.
	LocalReady int
}

// Update opens the ports now wanted, closes the others, and sets each one's answer.
func (h *Servers) Update(ports []Port) error {
	want := map[int]healthInfo{}
	for _, sp := range ports {
		if sp.HealthCheckNodePort == 0 {
			continue
		}
		info := want[sp.HealthCheckNodePort]
		info.Namespace, info.Name = sp.Namespace, sp.Name
		// One answer per service: its ready local endpoints over its ports and families, counted
		// once.
		if n := sp.LocalReady; n > info.LocalEndpoints {
			info.LocalEndpoints = n
		}
		want[sp.HealthCheckNodePort] = info
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

func (h *Servers) handler(port int) http.Handler {
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

// Close stops answering on every port.
func (h *Servers) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for port, srv := range h.servers {
		_ = srv.Close()
		delete(h.servers, port)
	}
}
