package app

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/opsmetrics"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// opsMetrics are the figures operators alert on beyond each component's
// own (docs/deploy.md#metrics lists them all; docs/grafana/vigil.json
// shows them, and grafana_test.go keeps the two in step). Those counted
// as things happen are built before the parts that count them; those
// read at scrape time are registered once the app is built (collect).
type opsMetrics struct {
	reg           *prometheus.Registry
	errs          *opsmetrics.Errors
	notifications *notify.Counter
	times         *opsmetrics.ItemTimes
}

func newOpsMetrics(reg *prometheus.Registry, proc *workitem.Process, clk clock.Clock, log *slog.Logger) *opsMetrics {
	return &opsMetrics{
		reg:           reg,
		errs:          opsmetrics.NewErrors(reg, log),
		notifications: notify.NewCounter(reg),
		times:         opsmetrics.NewItemTimes(reg, proc, clk),
	}
}

// collect registers the scrape-time collectors over the built app.
func (m *opsMetrics) collect(a *App) {
	m.reg.MustRegister(
		opsmetrics.NewOpenItems(a.DB, a.Items.Process().OpenStates(), m.errs),
		opsmetrics.NewOutbox(a.DB, slices.Sorted(maps.Keys(a.Targets)), a.clock, m.errs),
		opsmetrics.NewRuleHits(a.DB, m.errs),
		opsmetrics.NewFeeds(a.feedFreshness, a.clock, m.errs),
		// The connector-health page's list: the sync modules and the
		// engine's own, with what other instances ran on PostgreSQL.
		opsmetrics.NewConnectors(func() []engine.Status { return a.connectors() }),
	)
}

// feedFreshness is the configured threat-intelligence feeds' last
// success and live indicators, as the feed health page reads them. A
// feed no longer configured is left out: it would look stale for ever.
// So are the upload to Sentinel and the hunt, which the page lists beside
// the feeds but which import nothing: vigil_connector_up and the engine's
// series cover them as the modules they are.
func (a *App) feedFreshness(ctx context.Context) ([]opsmetrics.Feed, error) {
	fs, err := a.Intel.Feeds(ctx, auth.System, a.cfg.ThreatIntel.Interval)
	if err != nil {
		return nil, err
	}
	out := []opsmetrics.Feed{}
	for _, f := range fs {
		if f.Configured && f.Name != threatintel.UploadName && f.Name != threatintel.HuntName {
			out = append(out, opsmetrics.Feed{Name: f.Name, LastSuccess: f.LastOKAt, Indicators: f.Indicators})
		}
	}
	return out, nil
}
