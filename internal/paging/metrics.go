package paging

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are paging's Prometheus series: how many pages open, how they
// end, and how long people take to acknowledge them (the on-call team's
// MTTA, per service and urgency).
type metrics struct {
	opened      *prometheus.CounterVec
	escalations *prometheus.CounterVec
	acked       *prometheus.HistogramVec
	resolved    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_pages_opened_total",
			Help: "Pages opened, by service and urgency."}, []string{"service", "urgency"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_page_escalations_total",
			Help: "Escalations to a page's next step (by the engine or a person), by service."}, []string{"service"}),
		acked: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_page_ack_seconds",
			Help:    "Time from a page's opening to its acknowledgement, by service and urgency.",
			Buckets: []float64{15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400}}, []string{"service", "urgency"}),
		resolved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_pages_resolved_total",
			Help: "Pages resolved, by service and whether anyone had acknowledged them."}, []string{"service", "acknowledged"}),
	}
	if reg != nil {
		reg.MustRegister(m.opened, m.escalations, m.acked, m.resolved)
	}
	return m
}

func (m *metrics) ack(service, urgency string, opened, at time.Time) {
	m.acked.WithLabelValues(service, urgency).Observe(at.Sub(opened).Seconds())
}
