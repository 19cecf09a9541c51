package threatintel_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/feeds"
	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// staticFeed yields its indicators once.
type staticFeed struct{ inds []feeds.Indicator }

func (f *staticFeed) Name() string { return "bench" }
func (f *staticFeed) Pass(_ context.Context, cursor string) (feeds.Result, error) {
	if cursor != "" {
		return feeds.Result{Cursor: cursor}, nil
	}
	return feeds.Result{Indicators: f.inds, Cursor: "done"}, nil
}

// BenchmarkRetroHunt: 100,000 new indicators from a feed, hunted over 30
// days of 1,000,000 stored entities (250,000 alerts of 4 entities: two
// IPs, a domain and a hash), 1,000 of which match. One op is the feed's
// whole pass: storing the indicators, loading them into the matcher, the
// hunt, and annotating the 1,000 matched items (tag, timeline, comment).
//
//	go test ./internal/threatintel/ -run '^$' -bench RetroHunt -benchtime 1x -count 3
func BenchmarkRetroHunt(b *testing.B) {
	const alerts, perAlert, newInds, hits = 250_000, 4, 100_000, 1_000
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
		db := storetest.SQLite(b, clk)
		items := workitem.NewService(db, workitem.DefaultProcess(), clk)
		batch := make([]alert.Alert, 0, 1000)
		for i := range alerts {
			a := alert.Alert{Source: "api", SourceID: fmt.Sprintf("a%d", i), Title: fmt.Sprintf("conn %d", i%500), Severity: alert.SeverityLow,
				Entities: []alert.Entity{
					{Kind: alert.EntityIP, Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
					{Kind: alert.EntityIP, Value: fmt.Sprintf("172.16.%d.%d", i>>8&255, i&255)},
					{Kind: alert.EntityDomain, Value: fmt.Sprintf("host%d.example.net", i)},
					{Kind: alert.EntityFileHash, Value: fmt.Sprintf("%064x", i)}}}
			if err := a.Normalize(clk.Now()); err != nil {
				b.Fatal(err)
			}
			batch = append(batch, a)
			if len(batch) == cap(batch) {
				if _, err := db.Ingest(ctx, items.Process(), "bench", batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		var inds []feeds.Indicator
		for i := range newInds {
			v := fmt.Sprintf("192.%d.%d.%d", 1+i>>16&255, i>>8&255, i&255) // no match
			if i < hits {
				v = fmt.Sprintf("10.%d.%d.%d", (i*97)>>16&255, (i*97)>>8&255, (i*97)&255) // the first IP of alert i*97
			}
			inds = append(inds, feeds.Indicator{Type: "ip", Value: v, Confidence: 70})
		}
		svc := threatintel.New(db, items, []feeds.Feed{&staticFeed{inds: inds}}, clk, slog.New(slog.DiscardHandler))
		b.StartTimer()
		start := time.Now()
		if err := svc.UpdateAll(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(time.Since(start).Seconds(), "s/pass")
		// The hunt found what it should: item 1's first IP is indicator 0.
		if ms, err := svc.Matches(ctx, auth.System, 1); err != nil || len(ms) != 1 || !ms[0].Retro {
			b.Fatalf("item 1's matches = %+v, %v; want the retro-hunt's", ms, err)
		}
		b.ReportMetric(float64(alerts*perAlert), "entities")
	}
}

// BenchmarkImportSTIX1M: a STIX 2.1 bundle of 1,000,000 indicator
// objects (IPv4, domains, SHA-256, a third each) read by the STIX file
// feed: streamed, normalised, stored a thousand per transaction and
// loaded into the matcher. It reports the indicators imported a second.
//
//	go test ./internal/threatintel/ -run '^$' -bench ImportSTIX1M -benchtime 1x -count 3
func BenchmarkImportSTIX1M(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "bundle.json")
	if err := feedsemu.WriteSTIXBundle(path, n, 10); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
		db := storetest.SQLite(b, clk)
		items := workitem.NewService(db, workitem.DefaultProcess(), clk)
		feed, err := feeds.NewSTIXFile("partner", path)
		if err != nil {
			b.Fatal(err)
		}
		svc := threatintel.New(db, items, []feeds.Feed{feed}, clk, slog.New(slog.DiscardHandler))
		b.StartTimer()
		start := time.Now()
		if err := svc.UpdateAll(ctx); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		if got := svc.Matcher().Len(); got != n {
			b.Fatalf("the matcher holds %d indicators, want %d", got, n)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "indicators/s")
	}
}
