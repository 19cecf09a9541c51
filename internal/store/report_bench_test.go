package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// BenchmarkReports1M answers every report over a store holding a year of
// history: 1,000,000 work items (their facts, flow and daily roll-ups, as
// the report module keeps them) and 100,000 pages with their
// notifications, on both databases. Each case runs three rounds of 20
// queries and reports the median round's p95 (p95-ms) and median (p50-ms)
// latency. Set VIGIL_BENCH_ITEMS to use fewer items while developing.
//
//	go test ./internal/store/ -run '^$' -bench BenchmarkReports1M -benchtime 1x -timeout 60m
func BenchmarkReports1M(b *testing.B) {
	n := 1_000_000
	if v := benchItems(); v > 0 {
		n = v
	}
	now := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			clk := clock.NewFake(now)
			var db *store.DB
			if dialect == "sqlite" {
				db = storetest.SQLite(b, clk)
			} else {
				db = storetest.Postgres(b, clk)
			}
			ctx := context.Background()
			proc := workitem.DefaultProcess()
			start := time.Now()
			facts, pages, notes := benchHistory(n, now)
			if err := db.SeedReportFactsForTest(ctx, facts); err != nil {
				b.Fatal(err)
			}
			facts = nil
			if err := db.SeedPagesForTest(ctx, pages, notes); err != nil {
				b.Fatal(err)
			}
			seeded := time.Since(start)
			slos := []report.SLO{
				{Name: "high-ack", Metric: report.MetricAck, Severity: []string{"high", "critical"}, Target: 15 * time.Minute, Objective: 0.95},
				{Name: "resolve", Metric: report.MetricResolve, Target: 24 * time.Hour, Objective: 0.9},
				{Name: "blue-ack", Metric: report.MetricAck, Team: "blue", Target: 30 * time.Minute, Objective: 0.9},
			}
			svc := report.New(db, benchRota(b), proc, report.Options{SLOs: slos, Clock: clk, TimeZone: "Europe/Helsinki"})
			start = time.Now()
			if err := report.NewModule(db, proc, svc).UpdateAll(ctx); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d items seeded in %s, roll-ups built in %s", dialect, n, seeded.Round(time.Second), time.Since(start).Round(time.Second))

			for _, c := range []struct {
				name, report string
				q            url.Values
			}{
				{"response-30d", report.NameResponse, url.Values{"days": {"30"}}},
				{"response-365d-weekly", report.NameResponse, url.Values{"days": {"365"}}},
				{"response-365d-severity", report.NameResponse, url.Values{"days": {"365"}, "severity": {"high"}}},
				{"response-90d-team", report.NameResponse, url.Values{"days": {"90"}, "team": {"blue"}}},
				{"response-365d-rule-severity", report.NameResponse, url.Values{"days": {"365"}, "rule": {"rule-007"}, "severity": {"high"}}},
				{"slos-30d", report.NameSLOs, url.Values{"days": {"30"}}},
				{"slos-365d", report.NameSLOs, url.Values{"days": {"365"}}},
				{"quality-30d", report.NameQuality, url.Values{"days": {"30"}}},
				{"quality-365d", report.NameQuality, url.Values{"days": {"365"}}},
				{"oncall-30d", report.NameOnCall, url.Values{"days": {"30"}}},
				{"oncall-365d", report.NameOnCall, url.Values{"days": {"365"}}},
				{"flow-90d", report.NameFlow, url.Values{"days": {"90"}}},
				{"flow-365d", report.NameFlow, url.Values{"days": {"365"}}},
			} {
				b.Run(c.name, func(b *testing.B) {
					var p95s, p50s []float64
					for range b.N {
						for round := 0; round < 3; round++ {
							lat := make([]float64, 0, 20)
							for range 20 {
								t0 := time.Now()
								if _, err := svc.Run(ctx, c.report, c.q); err != nil {
									b.Fatal(err)
								}
								lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
							}
							slices.Sort(lat)
							p95s = append(p95s, lat[int(math.Ceil(0.95*float64(len(lat))))-1])
							p50s = append(p50s, lat[len(lat)/2])
						}
					}
					slices.Sort(p95s)
					slices.Sort(p50s)
					b.ReportMetric(p95s[len(p95s)/2], "p95-ms")
					b.ReportMetric(p50s[len(p50s)/2], "p50-ms")
				})
			}
		})
	}
}

func benchItems() int {
	var n int
	if _, err := fmt.Sscanf(os.Getenv("VIGIL_BENCH_ITEMS"), "%d", &n); err != nil {
		return 0
	}
	return n
}

var people = func() []string {
	out := make([]string, 20)
	for i := range out {
		out[i] = fmt.Sprintf("analyst%02d@example.com", i)
	}
	return out
}()

func benchRota(b *testing.B) report.Rota {
	sc := oncall.Schedule{Name: "primary", TimeZone: "Europe/Helsinki", Layers: []oncall.Rotation{{Name: "week", Type: "weekly", ShiftLength: 1,
		TimeZone: "Europe/Helsinki", Start: time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC), Participants: people[:8]}}}
	if err := sc.Normalize(); err != nil {
		b.Fatal(err)
	}
	return staticRota{schedules: []*oncall.Schedule{&sc}, teams: map[string][]string{"blue": people[:5]}}
}

// benchHistory makes a year of items ending at now: a quarter of them
// alerts that are removed within hours (noise), half worked through
// Approved, Active and Verification to Closed, the rest still open; and
// a page for every tenth, notifying one to three people.
func benchHistory(n int, now time.Time) ([]report.Fact, []store.SeedPage, []report.NotificationRow) {
	rng := rand.New(rand.NewPCG(1, 2))
	year := 365 * 24 * time.Hour
	sevs := []string{"low", "low", "low", "low", "medium", "medium", "medium", "high", "high", "critical"}
	sources := []string{"sentinel", "sentinel", "defender", "prometheus", "graph"}
	exp := func(mean time.Duration) time.Duration {
		return time.Duration(rng.ExpFloat64() * float64(mean))
	}
	facts := make([]report.Fact, 0, n)
	var pages []store.SeedPage
	var notes []report.NotificationRow
	for i := range n {
		created := now.Add(-year + time.Duration(float64(year)*float64(i)/float64(n))).UTC().Truncate(time.Second)
		src := sources[rng.IntN(len(sources))]
		f := report.Fact{ItemID: int64(i + 1), Type: "Issue", Source: src, Severity: sevs[rng.IntN(len(sevs))],
			Assignee: people[rng.IntN(len(people))], Rule: fmt.Sprintf("rule-%03d", int(200*math.Pow(rng.Float64(), 2))),
			AlertType: fmt.Sprintf("type-%02d", rng.IntN(30)), Created: created}
		if src == "defender" {
			f.Type = "Problem"
		}
		t := created
		span := func(state string, d time.Duration) {
			end := t.Add(d)
			if end.After(now) {
				f.Spans = append(f.Spans, report.Span{State: state, From: t})
				f.State, f.StateSince = state, t
				t = now.Add(time.Hour)
				return
			}
			f.Spans = append(f.Spans, report.Span{State: state, From: t, To: &end})
			t = end
		}
		ack := t.Add(exp(20 * time.Minute))
		switch r := rng.Float64(); {
		case r < 0.45:
			span("New", exp(2*time.Hour))
			if t.Before(now) {
				f.AckAt, f.AckBy, f.Acted = &t, f.Assignee, true
				f.Class = []string{report.FalsePositive, report.BenignPositive}[rng.IntN(2)]
				f.ClosedBy = f.Assignee
				end := t
				f.ClosedAt, f.State, f.StateSince = &end, "Removed", t
				f.Spans = append(f.Spans, report.Span{State: "Removed", From: t})
			}
		case r < 0.95:
			span("New", ack.Sub(created))
			for _, st := range []struct {
				s string
				d time.Duration
			}{{"Approved", exp(time.Hour)}, {"Active", exp(4 * time.Hour)}, {"Verification", exp(2 * time.Hour)}} {
				if !t.Before(now) {
					break
				}
				span(st.s, st.d)
			}
			if !ack.After(now) {
				f.AckAt, f.AckBy, f.Acted = &ack, f.Assignee, true
			}
			if t.Before(now) {
				end := t
				f.ClosedAt, f.State, f.StateSince, f.ClosedBy = &end, "Closed", t, f.Assignee
				f.Class = []string{report.TruePositive, report.TruePositive, report.Undetermined}[rng.IntN(3)]
				f.Spans = append(f.Spans, report.Span{State: "Closed", From: t})
			}
		default:
			f.Spans = []report.Span{{State: "New", From: created}}
			f.State, f.StateSince = "New", created
		}
		if i%10 == 0 {
			f.Service = fmt.Sprintf("svc-%d", rng.IntN(10))
			p := store.SeedPage{ID: int64(len(pages) + 1), Service: f.Service, Created: created, Step: rng.IntN(3)}
			if f.AckAt != nil {
				p.AckAt, p.AckBy = f.AckAt, f.AckBy
			}
			pages = append(pages, p)
			for k := 0; k <= p.Step; k++ {
				notes = append(notes, report.NotificationRow{PageID: p.ID, User: people[rng.IntN(8)],
					At: created.Add(time.Duration(k) * 5 * time.Minute)})
			}
		}
		facts = append(facts, f)
	}
	return facts, pages, notes
}

// BenchmarkReportModule measures the report module catching up: the facts
// of 5,000 freshly ingested items (each with a transition), their flow and
// the roll-ups of their day, in one pass. items/s is the figure.
func BenchmarkReportModule(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				clk := clock.NewFake(time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC))
				var db *store.DB
				if dialect == "sqlite" {
					db = storetest.SQLite(b, clk)
				} else {
					db = storetest.Postgres(b, clk)
				}
				ctx := context.Background()
				proc := workitem.DefaultProcess()
				const n = 5000
				alerts := make([]alert.Alert, n)
				for i := range alerts {
					alerts[i] = newAlert(b, "prometheus", fmt.Sprintf("a%d", i), fmt.Sprintf("rule %d", i%50), alert.SeverityHigh)
				}
				for i := 0; i < n; i += 500 {
					mustIngest(b, db, alerts[i:i+500]...)
				}
				svc := report.New(db, nil, proc, report.Options{Clock: clk})
				mod := report.NewModule(db, proc, svc)
				b.StartTimer()
				t0 := time.Now()
				if err := mod.UpdateAll(ctx); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(n/time.Since(t0).Seconds(), "items/s")
			}
		})
	}
}
