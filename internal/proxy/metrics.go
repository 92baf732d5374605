package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's figures on the agent's metrics port.
type metrics struct {
	syncDuration       *prometheus.HistogramVec
	syncFailures       prometheus.Counter
	lastSync           prometheus.Gauge
	programmingLatency prometheus.Histogram
	servicePorts       prometheus.Gauge
	endpoints          prometheus.Gauge
	objects            *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "weft_proxy_sync_duration_seconds", Help: "Time one sync of table inet weft-proxy took, from the caches to the kernel; kind is full (the table rewritten) or partial (only what changed).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"kind"}),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_proxy_sync_failures_total", Help: "Syncs that failed and were retried."}),
		lastSync:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_last_sync_timestamp_seconds", Help: "When the table was last written successfully."}),
		programmingLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weft_proxy_network_programming_duration_seconds", Help: "From an endpoint change (its EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time) to this node's table holding it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		servicePorts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_service_ports", Help: "Service ports (per family) in the table."}),
		endpoints:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_proxy_endpoints", Help: "Endpoints (per service port) in the table."}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_proxy_table_objects", Help: "Objects the proxy holds in its table below the fixed skeleton, by kind: chains, sets, elements."},
			[]string{"kind"}),
	}
	for _, kind := range []string{"full", "partial"} {
		m.syncDuration.WithLabelValues(kind) // present from the start, so a scrape sees both kinds
	}
	if reg != nil {
		reg.MustRegister(m.syncDuration, m.syncFailures, m.lastSync, m.programmingLatency, m.servicePorts, m.endpoints, m.objects)
	}
	return m
}

// countPorts moves the size gauges from one Service's old ports to its new ones.
func (m *metrics) countPorts(old, now []*servicePort) {
	m.servicePorts.Add(float64(len(now) - len(old)))
	for _, sp := range old {
		m.endpoints.Sub(float64(len(sp.endpoints)))
	}
	for _, sp := range now {
		m.endpoints.Add(float64(len(sp.endpoints)))
	}
}

// synced records a successful sync.
func (m *metrics) synced(full bool, took time.Duration, triggers []time.Time, t *table) {
	kind := "partial"
	if full {
		kind = "full"
	}
	m.syncDuration.WithLabelValues(kind).Observe(took.Seconds())
	m.lastSync.SetToCurrentTime()
	for _, at := range triggers {
		m.programmingLatency.Observe(time.Since(at).Seconds())
	}
	chains, sets, elements := t.counts()
	m.objects.WithLabelValues("chains").Set(float64(chains))
	m.objects.WithLabelValues("sets").Set(float64(sets))
	m.objects.WithLabelValues("elements").Set(float64(elements))
}
