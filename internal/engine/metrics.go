package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports every module's passes to Prometheus: how long they
// take, how many failed, when each last succeeded, and the passes this
// instance left to another one. A nil *Metrics exports nothing.
type Metrics struct {
	duration    *prometheus.HistogramVec
	passes      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	skips       *prometheus.CounterVec
	stucks      *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_engine_pass_duration_seconds", Help: "How long each background module's pass took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"module"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_engine_passes_total", Help: "Passes run by this instance, by module and result (ok or error).",
		}, []string{"module", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_engine_last_success_timestamp_seconds", Help: "When each module's last successful pass on this instance ended.",
		}, []string{"module"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_engine_passes_skipped_total", Help: "Passes this instance left to another one: busy (running elsewhere), recent (ran elsewhere within the interval), stand-down (a newer version runs elsewhere) or error (the lock was unavailable).",
		}, []string{"module", "reason"}),
		stucks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_engine_stuck_passes_total", Help: "Passes still running long after their deadline.",
		}, []string{"module"}),
	}
	reg.MustRegister(m.duration, m.passes, m.lastSuccess, m.skips, m.stucks)
	return m
}

func (m *Metrics) observe(module string, took time.Duration, end time.Time, err error) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(module).Observe(took.Seconds())
	if err != nil {
		m.passes.WithLabelValues(module, "error").Inc()
		return
	}
	m.passes.WithLabelValues(module, "ok").Inc()
	m.lastSuccess.WithLabelValues(module).Set(float64(end.UnixNano()) / 1e9)
}

func (m *Metrics) skipped(module, reason string) {
	if m != nil {
		m.skips.WithLabelValues(module, reason).Inc()
	}
}

func (m *Metrics) stuck(module string) {
	if m != nil {
		m.stucks.WithLabelValues(module).Inc()
	}
}
