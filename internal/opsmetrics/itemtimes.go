package opsmetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// ItemTimeBuckets suit times from half a minute to a week: a triage in
// minutes, a resolution in hours or days.
var ItemTimeBuckets = []float64{
	30, 60, 2 * 60, 5 * 60, 10 * 60, 15 * 60, 30 * 60,
	3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600, 168 * 3600,
}

// ItemTimes is vigil_workitem_ack_seconds{severity} (MTTA) and
// vigil_workitem_resolve_seconds{severity} (MTTR), observed from the
// items service's committed changes (it is a workitem.Observer).
//
// Acknowledged is when a person first moves the item out of the process's
// initial state (New): triage, whether they approve or remove it. That
// move happens once per item and is heard on whichever instance made it,
// so no read of the timeline is needed to tell a first acknowledgement
// from a later one. An acknowledged page moves its item the same way, as
// the responder, so paging is counted here too; the page's own time
// (opening to acknowledgement) is vigil_page_ack_seconds. A comment or an
// assignment alone does not count, and neither does a move by a rule, a
// source (Sentinel closing its incident) or vigil itself: an item that
// leaves New without a person is never acknowledged.
//
// Resolved is when the item reaches a terminal state, by anyone. Items
// closed by a creation rule before they were ever open are not observed:
// they never reach the observers, and were never work.
type ItemTimes struct {
	proc    *workitem.Process
	clk     clock.Clock
	ack     *prometheus.HistogramVec
	resolve *prometheus.HistogramVec
}

// NewItemTimes registers the histograms with reg.
func NewItemTimes(reg prometheus.Registerer, proc *workitem.Process, clk clock.Clock) *ItemTimes {
	if clk == nil {
		clk = clock.Real{}
	}
	t := &ItemTimes{proc: proc, clk: clk,
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_workitem_ack_seconds",
			Help:    "Time from a work item's creation to a person first moving it out of the initial state (MTTA), by severity.",
			Buckets: ItemTimeBuckets}, []string{"severity"}),
		resolve: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_workitem_resolve_seconds",
			Help:    "Time from a work item's creation to a terminal state (MTTR), by severity.",
			Buckets: ItemTimeBuckets}, []string{"severity"}),
	}
	reg.MustRegister(t.ack, t.resolve)
	return t
}

var _ workitem.Observer = (*ItemTimes)(nil)

// Changed observes a committed move.
func (t *ItemTimes) Changed(_ context.Context, c workitem.Change) {
	if c.Kind != workitem.ChangeMoved || c.Item.CreatedAt.IsZero() {
		return
	}
	sev := string(c.Item.Severity)
	if c.From == t.proc.Initial() && c.From != c.To && report.IsPerson(c.Actor) {
		t.ack.WithLabelValues(sev).Observe(since(c.Item.CreatedAt, t.clk.Now()))
	}
	if t.proc.Terminal(c.To) && !t.proc.Terminal(c.From) {
		at := t.clk.Now()
		if c.Item.ClosedAt != nil {
			at = *c.Item.ClosedAt
		}
		t.resolve.WithLabelValues(sev).Observe(since(c.Item.CreatedAt, at))
	}
}

func since(from, to time.Time) float64 { return max(0, to.Sub(from).Seconds()) }
