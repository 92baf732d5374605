package dns

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's figures; a nil *metrics counts nothing.
type metrics struct {
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	upstreamFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_dns_requests_total",
			Help: "DNS queries answered, by query type and response code."}, []string{"type", "rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_dns_request_duration_seconds",
			Help:    "Time from a query's arrival to its answer, by where the answer came from (cluster, cache or upstream).",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}}, []string{"source"}),
		cacheHits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_dns_cache_hits_total", Help: "Forwarded questions answered from the cache."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_dns_cache_misses_total", Help: "Forwarded questions the cache could not answer."}),
		upstreamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_dns_upstream_failures_total",
			Help: "Exchanges with an upstream resolver that failed (timeout, SERVFAIL or REFUSED), by upstream."}, []string{"upstream"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.cacheHits, m.cacheMisses, m.upstreamFailures)
	}
	return m
}

func (m *metrics) request(qtype uint16, rcode int, source string, seconds float64) {
	if m == nil {
		return
	}
	t, ok := dns.TypeToString[qtype]
	if !ok {
		t = "other" // keeps the label set small whatever clients send
	}
	m.requests.WithLabelValues(t, dns.RcodeToString[rcode]).Inc()
	m.duration.WithLabelValues(source).Observe(seconds)
}

func (m *metrics) cacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

func (m *metrics) cacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

func (m *metrics) upstreamFailure(up string) {
	if m != nil {
		m.upstreamFailures.WithLabelValues(up).Inc()
	}
}
