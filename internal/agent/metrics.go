package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveReady answers 200 once a node sync has succeeded (the DaemonSet's readiness probe, so
// a rolling update moves on only when the new agent has the node in hand), 503 before.
func (a *Agent) serveReady(w http.ResponseWriter, _ *http.Request) {
	a.status.mu.Lock()
	synced := a.status.synced
	a.status.mu.Unlock()
	if synced.IsZero() {
		http.Error(w, "no node sync has succeeded yet", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok: last node sync %s\n", synced.Format(time.RFC3339))
}

// serveMetrics serves the features' metrics at /metrics and readiness at /readyz until ctx ends. A port in use is
// reported and the agent goes on: the node's network matters more than its figures.
func (a *Agent) serveMetrics(ctx context.Context, reg *prometheus.Registry) {
	if a.opts.MetricsAddress == "" {
		return
	}
	ln, err := net.Listen("tcp", a.opts.MetricsAddress)
	if err != nil {
		a.log.Error("metrics are not served", "err", fmt.Errorf("--metrics-bind-address %s: %w", a.opts.MetricsAddress, err))
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/readyz", a.serveReady)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("metrics server stopped", "err", err)
	}
}
