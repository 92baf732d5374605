package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The ports kube-proxy serves on every node, which load balancers and tools probe: the proxy's
// own health (0.0.0.0:10256) and its status (127.0.0.1:10249). weft answers on both in its place.
const (
	ProxyHealthAddress = ":10256"
	ProxyStatusAddress = "127.0.0.1:10249"
)

// Proxy records when the node's rules were last written in full agreement with the API, and
// answers kube-proxy's health and status ports with it.
type Proxy struct {
	lastSync atomic.Int64 // unix nanoseconds; 0 before the first sync
}

// Synced records a sync that left the rules in agreement with the API.
func (h *Proxy) Synced(t time.Time) { h.lastSync.Store(t.UnixNano()) }

// handler answers /healthz and /livez as kube-proxy does: 200 with lastUpdated once the rules
// were written, 503 before. A load balancer that checks port 10256 leaves a node whose proxy
// never came up.
func (h *Proxy) handler() http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, _ *http.Request) {
		last := h.lastSync.Load()
		body := map[string]any{"currentTime": time.Now().UTC(), "nodeEligible": true}
		code := http.StatusServiceUnavailable
		if last != 0 {
			body["lastUpdated"] = time.Unix(0, last).UTC()
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
	mux.HandleFunc("GET /healthz", serve)
	mux.HandleFunc("GET /livez", serve)
	return mux
}

// statusHandler answers /proxyMode, which tools read to learn what serves Services.
func statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /proxyMode", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "weft")
	})
	return mux
}

// Serve answers /healthz and /livez on healthAddr and /proxyMode on statusAddr (either empty:
// not at all) until ctx ends, in the background; report hears of a port it could not serve.
func (h *Proxy) Serve(ctx context.Context, healthAddr, statusAddr string, report func(error)) {
	for _, srv := range []struct {
		addr string
		h    http.Handler
	}{{healthAddr, h.handler()}, {statusAddr, statusHandler()}} {
		if srv.addr == "" {
			continue
		}
		go func() {
			if err := serveUntil(ctx, srv.addr, srv.h); err != nil {
				report(err)
			}
		}()
	}
}

// serveUntil serves h on addr until ctx ends. A port another program holds (kube-proxy still
// running beside weft) is reported, not fatal: Services work without these answers.
func serveUntil(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (is kube-proxy still running?): %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
