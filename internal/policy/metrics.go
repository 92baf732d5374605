package policy

import "github.com/prometheus/client_golang/prometheus"

// metrics say how programming goes; what the rules drop is counted in the table itself
// (`counter drop` per direction and family: nft list table inet weft-policy).
type metrics struct {
	syncs    *prometheus.CounterVec
	duration prometheus.Histogram
	changed  prometheus.Counter
	elements *prometheus.GaugeVec
	problems prometheus.Gauge
	policies *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_policy_syncs_total",
			Help: "Syncs of the table inet weft-policy, by kind (full, partial, unchanged) and result."}, []string{"kind", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weft_policy_sync_duration_seconds",
			Help: "Time from reading the informers' state to the kernel holding it.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		changed: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_policy_elements_changed_total",
			Help: "Set and map elements added or deleted by partial syncs."}),
		elements: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_policy_elements",
			Help: "Elements in each set and verdict map of the table."}, []string{"set"}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_policy_problems",
			Help: "Parts of policies that cannot be enforced as written (they match nothing; the log names them)."}),
		policies: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_policy_policies",
			Help: "Policies read, by kind (NetworkPolicy, ClusterNetworkPolicy)."}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.syncs, m.duration, m.changed, m.elements, m.problems, m.policies)
	}
	return m
}
