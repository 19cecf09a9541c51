package opsmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// openGauges is every open state × severity at 0, with the given counts
// on top.
func openGauges(counts map[[2]string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, st := range workitem.DefaultProcess().OpenStates() {
		for _, sev := range alert.Severities {
			out[fmt.Sprintf(`vigil_workitems_open{severity=%q,state=%q}`, sev, st)] = 0
		}
	}
	for k, v := range counts {
		out[fmt.Sprintf(`vigil_workitems_open{severity=%q,state=%q}`, k[1], k[0])] = v
	}
	return out
}

func TestMetricOpenItems(t *testing.T) {
	clk := clock.NewFake(t0)
	proc := workitem.DefaultProcess()
	tests := []struct {
		name string
		sevs []alert.Severity
		// edit changes the seeded items (ids in the order of sevs).
		edit func(t *testing.T, items *workitem.Service, ids []int64)
		want map[[2]string]float64
	}{
		{"an empty store", nil, nil, nil},
		{"new items by severity",
			[]alert.Severity{alert.SeverityHigh, alert.SeverityHigh, alert.SeverityLow}, nil,
			map[[2]string]float64{{"New", "high"}: 2, {"New", "low"}: 1}},
		{"moved and closed items",
			[]alert.Severity{alert.SeverityCritical, alert.SeverityCritical, alert.SeverityMedium, alert.SeverityMedium},
			func(t *testing.T, items *workitem.Service, ids []int64) {
				ctx := context.Background()
				move := func(id int64, to ...string) {
					for _, st := range to {
						reason := ""
						if proc.Terminal(st) {
							reason = "False positive"
						}
						if _, err := items.Transition(ctx, person, id, st, reason, 0); err != nil {
							t.Fatalf("move %d to %s: %v", id, st, err)
						}
					}
				}
				move(ids[0], "Approved", "Active")
				move(ids[1], "Removed")
				move(ids[3], "Approved", "Active", "Verification", "Closed")
				// (Merged items are left out too: the store's own test.)
			},
			map[[2]string]float64{{"Active", "critical"}: 1, {"New", "medium"}: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.SQLite(t, clk)
			items := workitem.NewService(db, proc, clk)
			ids := ingest(t, db, tt.sevs...)
			if tt.edit != nil {
				tt.edit(t, items, ids)
			}
			got := gather(t, NewOpenItems(db, proc.OpenStates(), nil))
			diff(t, "vigil_workitems_open", got, openGauges(tt.want))
		})
	}
}

// failing is a store whose every read fails.
type failing struct{ err error }

func (f failing) OpenItemCounts(context.Context, []string) ([]store.ItemCount, error) {
	return nil, f.err
}
func (f failing) OutboxStats(context.Context) ([]store.OutboxStat, error)     { return nil, f.err }
func (f failing) RuleHitCounts(context.Context) ([]store.RuleHitCount, error) { return nil, f.err }

// hanging is a store whose reads wait until they are given up on.
type hanging struct{}

func (hanging) OpenItemCounts(ctx context.Context, _ []string) ([]store.ItemCount, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestMetricFailedReadsLeaveTheSeriesOut(t *testing.T) {
	defer func(d time.Duration) { scrapeTimeout = d }(scrapeTimeout)
	scrapeTimeout = 50 * time.Millisecond
	clk := clock.NewFake(t0)
	down := failing{errors.New("database is locked")}
	tests := []struct {
		name      string
		collector func(*Errors) prometheus.Collector
		label     string
	}{
		{"open items", func(e *Errors) prometheus.Collector { return NewOpenItems(down, []string{"New"}, e) }, "workitems_open"},
		{"outbox", func(e *Errors) prometheus.Collector { return NewOutbox(down, []string{"sentinel"}, clk, e) }, "outbox"},
		{"rule hits", func(e *Errors) prometheus.Collector { return NewRuleHits(down, e) }, "rule_hits"},
		{"feeds", func(e *Errors) prometheus.Collector {
			return NewFeeds(func(context.Context) ([]Feed, error) { return nil, down.err }, clk, e)
		}, "feeds"},
		{"a read that hangs", func(e *Errors) prometheus.Collector { return NewOpenItems(hanging{}, []string{"New"}, e) }, "workitems_open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			errs := NewErrors(reg, slog.New(slog.DiscardHandler))
			start := time.Now()
			if err := reg.Register(tt.collector(errs)); err != nil {
				t.Fatal(err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatalf("a failed read failed the scrape: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the scrape took %v", took)
			}
			for _, mf := range mfs {
				if mf.GetName() != "vigil_metrics_scrape_errors_total" {
					t.Errorf("a failed read still reported %s", mf.GetName())
				}
			}
			// Counted as it fails; the registry may have read the counter
			// first, so the scrape after shows it.
			if got := testutil.ToFloat64(errs.vec.WithLabelValues(tt.label)); got != 1 {
				t.Errorf("vigil_metrics_scrape_errors_total{collector=%q} = %v, want 1", tt.label, got)
			}
		})
	}
}

type outboxStats []store.OutboxStat

func (o outboxStats) OutboxStats(context.Context) ([]store.OutboxStat, error) { return o, nil }

func TestMetricOutbox(t *testing.T) {
	clk := clock.NewFake(t0)
	tests := []struct {
		name    string
		targets []string
		stats   outboxStats
		want    map[string]float64
	}{
		{"nothing waiting", []string{"notify"}, nil, map[string]float64{
			`vigil_outbox_pending{target="notify"}`:                    0,
			`vigil_outbox_failed{target="notify"}`:                     0,
			`vigil_outbox_oldest_pending_age_seconds{target="notify"}`: 0,
		}},
		{"a backlog, and a target not configured", []string{"notify", "sentinel"}, outboxStats{
			{Target: "graph", Failed: 2, LastError: "404"},
			{Target: "sentinel", Pending: 3, Failed: 1, OldestPending: t0.Add(-90 * time.Second)},
		}, map[string]float64{
			`vigil_outbox_pending{target="graph"}`:                       0,
			`vigil_outbox_failed{target="graph"}`:                        2,
			`vigil_outbox_oldest_pending_age_seconds{target="graph"}`:    0,
			`vigil_outbox_pending{target="notify"}`:                      0,
			`vigil_outbox_failed{target="notify"}`:                       0,
			`vigil_outbox_oldest_pending_age_seconds{target="notify"}`:   0,
			`vigil_outbox_pending{target="sentinel"}`:                    3,
			`vigil_outbox_failed{target="sentinel"}`:                     1,
			`vigil_outbox_oldest_pending_age_seconds{target="sentinel"}`: 90,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, "outbox", gather(t, NewOutbox(tt.stats, tt.targets, clk, nil)), tt.want)
		})
	}
}

type ruleCounts []store.RuleHitCount

func (r ruleCounts) RuleHitCounts(context.Context) ([]store.RuleHitCount, error) { return r, nil }

func TestMetricRuleHits(t *testing.T) {
	tests := []struct {
		name   string
		counts ruleCounts
		want   map[string]float64
	}{
		{"no rules", nil, map[string]float64{}},
		{"hits by what they did", ruleCounts{
			{Rule: "quiet lab", Hits: 7, Suppressed: 5},
			{Rule: "close drills", Hits: 3, Closed: 3},
		}, map[string]float64{
			`vigil_rule_hits_total{action="suppress",rule="quiet lab"}`:    5,
			`vigil_rule_hits_total{action="close",rule="quiet lab"}`:       0,
			`vigil_rule_hits_total{action="other",rule="quiet lab"}`:       2,
			`vigil_rule_hits_total{action="suppress",rule="close drills"}`: 0,
			`vigil_rule_hits_total{action="close",rule="close drills"}`:    3,
			`vigil_rule_hits_total{action="other",rule="close drills"}`:    0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, "rule hits", gather(t, NewRuleHits(tt.counts, nil)), tt.want)
		})
	}
}

func TestMetricFeedsAreReadOncePerMinute(t *testing.T) {
	clk := clock.NewFake(t0)
	reads := 0
	feeds := []Feed{{Name: "otx", LastSuccess: t0.Add(-time.Hour), Indicators: 1200}, {Name: "misp"}}
	c := NewFeeds(func(context.Context) ([]Feed, error) {
		reads++
		return feeds, nil
	}, clk, nil)
	want := map[string]float64{
		`vigil_feed_last_success_timestamp_seconds{feed="otx"}`:  float64(t0.Add(-time.Hour).Unix()),
		`vigil_feed_indicators{feed="otx"}`:                      1200,
		`vigil_feed_last_success_timestamp_seconds{feed="misp"}`: 0, // never succeeded
		`vigil_feed_indicators{feed="misp"}`:                     0,
	}
	steps := []struct {
		advance time.Duration
		reads   int
	}{
		{0, 1},
		{30 * time.Second, 1},
		{30 * time.Second, 2},
		{10 * time.Second, 2},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		if reads != s.reads {
			t.Errorf("after %v more: %d reads, want %d", s.advance, reads, s.reads)
		}
	}
	diff(t, "feeds", gather(t, c), want)
}

func TestMetricConnectorUp(t *testing.T) {
	at := t0.Add(-time.Minute)
	statuses := []engine.Status{
		{Name: "sentinel-poller", LastRun: at, LastSuccess: at},
		{Name: "graph-poller", LastRun: at, LastError: "401 Unauthorized", LastErrorAt: at},
		{Name: "boards-mirror"}, // not run yet
		{Name: "outbox", LastRun: at, LastSuccess: at},
		{Name: "outbox", LastRun: at, LastSuccess: at}, // listed twice: reported once
	}
	got := gather(t, NewConnectors(func() []engine.Status { return statuses }))
	diff(t, "connectors", got, map[string]float64{
		`vigil_connector_up{connector="sentinel-poller"}`: 1,
		`vigil_connector_up{connector="graph-poller"}`:    0,
		`vigil_connector_up{connector="outbox"}`:          1,
	})
}
