// Package opsmetrics exports the Prometheus figures operators alert on
// that no one component owns: the open work items, the outbox's backlog,
// connector health, rule hits and feed freshness, read at scrape time,
// and the time to acknowledge and to resolve work items, observed from
// the items service's committed changes.
//
// The scrape-time figures are read from the store (or from the health
// registries) by collectors, not kept up to date by every writer: they
// are then what every instance sharing the database agrees on, they
// survive restarts, and no writer can forget to update them. Each read
// has a short deadline, and a failed read leaves its series out of that
// scrape and counts in vigil_metrics_scrape_errors_total, rather than
// failing the whole scrape or holding it up.
package opsmetrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds each collector's read: Prometheus' own scrape
// timeout is 10 s by default, and one slow query must not cost the Go
// runtime's and the engine's series too. (A variable so that a test of
// the deadline need not wait for it.)
var scrapeTimeout = 2 * time.Second

// Errors counts the collectors' failed reads, by collector. A nil *Errors
// counts nothing.
type Errors struct {
	vec *prometheus.CounterVec
	log *slog.Logger
}

// NewErrors registers the error counter with reg.
func NewErrors(reg prometheus.Registerer, log *slog.Logger) *Errors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Errors{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_metrics_scrape_errors_total",
		Help: "Reads behind /metrics that failed or timed out, by collector; their series were left out of that scrape.",
	}, []string{"collector"}), log: log.With("component", "metrics")}
	reg.MustRegister(e.vec)
	return e
}

// failed records that collector's read failed.
func (e *Errors) failed(collector string, err error) {
	if e == nil {
		return
	}
	e.vec.WithLabelValues(collector).Inc()
	e.log.Warn("metrics read failed; its series are left out of this scrape", "collector", collector, "err", err)
}

// read runs fn with the scrape deadline.
func read[T any](collector string, errs *Errors, fn func(ctx context.Context) (T, error)) (T, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil {
		errs.failed(collector, err)
		return v, false
	}
	return v, true
}
