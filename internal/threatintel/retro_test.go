package threatintel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/feeds"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// ingestOpener submits straight to the store (the product uses the
// ingest pipeline).
type ingestOpener struct {
	db   *store.DB
	proc *workitem.Process
}

func (o ingestOpener) Submit(ctx context.Context, actor string, as []alert.Alert) ([]store.IngestResult, error) {
	return o.db.Ingest(ctx, o.proc, actor, as)
}

// resendFeed sends its indicators on every pass, as a feed re-listing
// them does.
type resendFeed struct{ inds []feeds.Indicator }

func (f *resendFeed) Name() string { return "resend" }
func (f *resendFeed) Pass(context.Context, string) (feeds.Result, error) {
	return feeds.Result{Indicators: f.inds, Cursor: "c"}, nil
}

// TestRetroHuntModes: with retro_hunt open_if_closed, a match on an open
// item annotates it, and a match on a closed item opens a new item of
// source threat-intel, noted on the old one's timeline; a second pass
// opens nothing more. An allow-listed value is neither matched nor
// hunted.
func TestRetroHuntModes(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	ingest := func(id, ip string) int64 {
		a := alert.Alert{Source: "sentinel", SourceID: id, Title: "Connection to " + ip, Severity: alert.SeverityMedium,
			Entities: []alert.Entity{{Kind: alert.EntityIP, Value: ip}}}
		if err := a.Normalize(clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].WorkItemID
	}
	open := ingest("a-open", "203.0.113.21")
	closed := ingest("a-closed", "203.0.113.22")
	ingest("a-allowed", "203.0.113.23")
	for _, to := range []string{"Approved", "Active", "Verification", "Closed"} {
		if _, err := items.Transition(ctx, auth.System, closed, to, "done", 0); err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
	}
	if err := db.Allowlist(ctx, intel.IP, "203.0.113.23", "a partner's gateway", "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	feed := &resendFeed{inds: []feeds.Indicator{
		{Type: intel.IP, Value: "203.0.113.21", Confidence: 80}, {Type: intel.IP, Value: "203.0.113.22", Confidence: 80}, {Type: intel.IP, Value: "203.0.113.23", Confidence: 80}}}
	svc := threatintel.New(db, items, []feeds.Feed{feed}, clk, nil)
	svc.OpenItems(ingestOpener{db, items.Process()}, threatintel.RetroOpenIfClosed)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, _ := db.TIMatches(ctx, open); len(ms) != 1 {
		t.Errorf("open item: %d matches, want 1 (annotated)", len(ms))
	}
	if ms, _ := db.TIMatches(ctx, closed); len(ms) != 0 {
		t.Errorf("closed item annotated: %+v", ms)
	}
	tl, err := db.Timeline(ctx, closed, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, e := range tl {
		if strings.Contains(e.Message, "opened item #") {
			note = e.Message
		}
	}
	if note == "" {
		t.Fatalf("closed item's timeline says nothing of a new item: %+v", tl)
	}
	list, err := db.ListWorkItems(ctx, workitem.Filter{Source: threatintel.Source})
	if err != nil || len(list) != 1 || !strings.Contains(list[0].Title, "203.0.113.22") || list[0].Severity != alert.SeverityHigh {
		t.Fatalf("opened items = %+v, %v", list, err)
	}
	if ms := svc.Matcher().Lookup(intel.IP, "203.0.113.23", clk.Now()); len(ms) != 0 {
		t.Errorf("allow-listed IP in the matcher: %+v", ms)
	}
	// A second pass of the same indicators (a feed re-sending them).
	feed.inds = append(feed.inds, feeds.Indicator{Type: intel.IP, Value: "192.0.2.99"})
	if err := svc.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ = db.ListWorkItems(ctx, workitem.Filter{Source: threatintel.Source}); len(list) != 1 {
		t.Errorf("a second pass opened more items: %d", len(list))
	}
}
