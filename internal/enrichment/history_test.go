package enrichment_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestHistoryProvider: vigil's own history says how often an entity was
// seen and how its items ended, what other providers said, and its
// threat-intelligence matches; its reports are never reused.
func TestHistoryProvider(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	ingest := func(id, ip string) int64 {
		a := alert.Alert{Source: "api", SourceID: id, Title: "Beacon " + id, Severity: alert.SeverityHigh, Entities: []alert.Entity{{Kind: alert.EntityIP, Value: ip}}}
		if err := a.Normalize(clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].WorkItemID
	}
	h := enrichment.NewHistory(db, clk.Now)

	rep, err := h.Enrich(ctx, enrich.Request{DataType: "ip", Data: "192.0.2.200"})
	if err != nil || rep.Verdict() != enrich.LevelInfo || !strings.Contains(rep.Summary, "never seen before") {
		t.Fatalf("unknown IP: %+v, %v", rep, err)
	}

	first := ingest("h1", "198.51.100.50")
	clk.Advance(time.Hour)
	second := ingest("h2", "198.51.100.50")
	if _, err := db.RecordMatch(ctx, store.TIMatch{WorkItemID: first, Entity: "198.51.100.50", Type: "ip", Value: "198.51.100.50", Feeds: []string{"otx"}, Confidence: 90}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SaveEnrichment(ctx, store.Enrichment{WorkItemID: first, Provider: "VirusTotal", DataType: "ip", Data: "198.51.100.50",
		Verdict: "suspicious", Summary: "3/90", RequestKey: "vt1"}); err != nil {
		t.Fatal(err)
	}
	rep, err = h.Enrich(ctx, enrich.Request{DataType: "ip", Data: "198.51.100.50"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"seen in 2 items since 2026-12-07 (2 open, 0 closed, 0 removed)", "VirusTotal said suspicious", "1 threat-intelligence matches (confidence up to 90)"} {
		if !strings.Contains(rep.Summary, want) {
			t.Errorf("summary %q lacks %q", rep.Summary, want)
		}
	}
	if rep.Verdict() != enrich.LevelMalicious { // a TI match at confidence 90
		t.Errorf("verdict = %s", rep.Verdict())
	}

	// Through the service: two lookups in a row both ask the history
	// (never reused), and the comment lands on the item.
	svc := enrichment.New(db, items, []enrich.Provider{h}, enrichment.Options{Clock: clk})
	sender := outbox.NewSender(db, map[string]outbox.Target{enrichment.Target: svc}, clk, slog.New(slog.DiscardHandler))
	for _, id := range []int64{first, second} {
		if _, err := svc.Request(ctx, auth.System, id, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sender.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	rs, _ := svc.Enrichments(ctx, auth.System, second)
	if len(rs) != 1 || rs[0].Cached || rs[0].Provider != enrichment.HistoryName {
		t.Fatalf("reports = %+v", rs)
	}
	// A malicious verdict is a tag, which the board's card shows.
	if it, _ := items.Get(ctx, auth.System, second); !slices.Contains(it.Tags, "malicious") {
		t.Errorf("item tags = %v, want malicious", it.Tags)
	}
	cs, _ := items.Comments(ctx, auth.System, second)
	if len(cs) == 0 || !strings.Contains(cs[len(cs)-1].Body, "vigil history: seen in 2 items") {
		t.Errorf("comments = %+v", cs)
	}
}

// slowProvider counts calls and answers after a pause, so that
// concurrent deliveries overlap.
type slowProvider struct{ calls atomic.Int32 }

func (p *slowProvider) Name() string         { return "slow" }
func (p *slowProvider) Supports(string) bool { return true }
func (p *slowProvider) Enrich(_ context.Context, r enrich.Request) (enrich.Report, error) {
	p.calls.Add(1)
	time.Sleep(50 * time.Millisecond)
	return enrich.Report{Provider: "slow", Request: r, Summary: "ok", Taxonomies: []enrich.Taxonomy{{Level: enrich.LevelSafe}}}, nil
}

// TestSingleFlight: deliveries for several items with the same IP,
// running at once, make one call to the provider; the others share its
// answer and are marked reused, so they spend no quota.
func TestSingleFlight(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	p := &slowProvider{}
	svc := enrichment.New(db, items, []enrich.Provider{p}, enrichment.Options{Clock: clk, TTLs: map[string]time.Duration{"slow": 0}})
	var ids []int64
	for _, id := range []string{"s1", "s2", "s3"} {
		a := alert.Alert{Source: "api", SourceID: id, Title: "Beacon " + id, Severity: alert.SeverityHigh, Entities: []alert.Entity{{Kind: alert.EntityIP, Value: "198.51.100.60"}}}
		if err := a.Normalize(clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res[0].WorkItemID)
		if _, err := svc.Request(ctx, auth.System, res[0].WorkItemID, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := db.ListOutbox(ctx, outbox.Pending, 0, 0, 10)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("queued = %d, %v", len(msgs), err)
	}
	var wg sync.WaitGroup
	for _, m := range msgs {
		wg.Go(func() {
			if err := svc.Send(ctx, m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
	reused := 0
	for _, id := range ids {
		rs, _ := svc.Enrichments(ctx, auth.System, id)
		if len(rs) == 1 && rs[0].Cached {
			reused++
		}
	}
	if reused != 2 {
		t.Errorf("%d reports marked reused, want 2", reused)
	}
}
