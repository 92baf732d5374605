package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's figures on the agent's metrics port.
type metrics struct {
	syncDuration prometheus.Histogram
	syncFailures prometheus.Counter
	lastSync     prometheus.Gauge
	servicePorts prometheus.Gauge
	endpoints    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weft_proxy_sync_duration_seconds", Help: "Time one sync of table inet weft-proxy took, from the caches to the kernel.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_proxy_sync_failures_total", Help: "Syncs that failed and were retried."}),
		lastSync:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_last_sync_timestamp_seconds", Help: "When the table was last written successfully."}),
		servicePorts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_service_ports", Help: "Service ports (per family) in the table."}),
		endpoints:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_endpoints", Help: "Endpoint chains in the table."}),
	}
	if reg != nil {
		reg.MustRegister(m.syncDuration, m.syncFailures, m.lastSync, m.servicePorts, m.endpoints)
	}
	return m
}
