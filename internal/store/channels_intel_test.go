package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestNotificationLogEnrichmentIntel runs the tables of channels,
// enrichment and threat intelligence on SQLite and PostgreSQL.
func TestNotificationLogEnrichmentIntel(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// The notification log: a send, a callback, a late one that
		// must not move the status back, the rate-limit counts.
		e := store.NotificationLogEntry{ID: "page-1.r0.s0.cm1.d0", ContactMethodID: 1, User: "ana@example.com", Channel: "sms", Kind: "page",
			PageID: 1, WorkItemID: 1, Provider: "twilio", ProviderID: "SM1", Status: "sent"}
		if err := db.RecordSend(ctx, e, 3*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if _, moved, err := db.DeliveryStatus(ctx, "twilio", "SM1", "delivered", ""); err != nil || !moved {
			t.Fatalf("delivered: moved %v, %v", moved, err)
		}
		if _, moved, _ := db.DeliveryStatus(ctx, "twilio", "SM1", "sent", ""); moved {
			t.Error("a late sent moved a delivered notification back")
		}
		if n, _, err := db.SentSince(ctx, 1, "sms", t0.Add(-time.Minute)); err != nil || n != 1 {
			t.Errorf("sent since: %d, %v", n, err)
		}
		if first, _ := db.FirstInbound(ctx, "twilio-sms", "SMx"); !first {
			t.Error("first inbound not first")
		}
		if first, _ := db.FirstInbound(ctx, "twilio-sms", "SMx"); first {
			t.Error("a replay was first")
		}

		// An item with an IP, its enrichment and its match.
		a := alert.Alert{Source: "api", SourceID: "e1", Title: "beacon", Severity: alert.SeverityHigh,
			Entities: []alert.Entity{{Kind: alert.EntityIP, Value: "203.0.113.66"}}}
		if err := a.Normalize(clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		item := res[0].WorkItemID
		if es, err := db.ItemEntities(ctx, item); err != nil || len(es) != 1 || es[0].Value != "203.0.113.66" {
			t.Fatalf("item entities = %+v, %v", es, err)
		}
		en := store.Enrichment{WorkItemID: item, Provider: "VirusTotal", DataType: "ip", Data: "203.0.113.66", Verdict: "malicious",
			Summary: "12/94", Taxonomies: json.RawMessage(`[{"level":"malicious"}]`), Report: json.RawMessage(`{"x":1}`), RequestKey: "k1"}
		if _, created, err := db.SaveEnrichment(ctx, en); err != nil || !created {
			t.Fatalf("save: %v %v", created, err)
		}
		if _, created, _ := db.SaveEnrichment(ctx, en); created {
			t.Error("the same request key saved twice")
		}
		if n, oldest, err := db.ProviderCalls(ctx, "VirusTotal", t0.Add(-time.Minute)); err != nil || n != 1 || !oldest.Equal(t0) {
			t.Errorf("provider calls = %d, %s, %v", n, oldest, err)
		}
		if got, ok, _ := db.RecentEnrichment(ctx, "VirusTotal", "ip", "203.0.113.66", t0.Add(-time.Hour)); !ok || got.Verdict != "malicious" {
			t.Errorf("recent = %+v, %v", got, ok)
		}

		ind := intel.Indicator{Type: intel.IP, Value: "203.0.113.66", Feeds: []string{"otx"}, Confidence: 60, Tags: []string{"c2"}, FirstSeen: t0, LastSeen: t0}
		if n, err := db.UpsertIndicators(ctx, []intel.Indicator{ind}); err != nil || n != 1 {
			t.Fatalf("upsert: %d %v", n, err)
		}
		ind.Feeds, ind.Confidence, ind.Tags = []string{"misp"}, 90, []string{"apt"}
		if n, err := db.UpsertIndicators(ctx, []intel.Indicator{ind}); err != nil || n != 0 {
			t.Fatalf("merge: %d %v", n, err)
		}
		var got []intel.Indicator
		if err := db.Indicators(ctx, t0, time.Time{}, func(in intel.Indicator) { got = append(got, in) }); err != nil || len(got) != 1 ||
			got[0].Confidence != 90 || len(got[0].Feeds) != 2 || len(got[0].Tags) != 2 {
			t.Fatalf("indicators = %+v, %v", got, err)
		}
		if err := db.SaveFeedRun(ctx, store.FeedRun{Name: "otx", Cursor: "c1", Added: 1}, nil); err != nil {
			t.Fatal(err)
		}
		if run, err := db.FeedRunOf(ctx, "otx"); err != nil || run.Cursor != "c1" || run.Total != 1 {
			t.Errorf("feed run = %+v, %v", run, err)
		}
		var seen int
		if err := db.EntitiesSince(ctx, t0.Add(-time.Hour), func(store.EntitySighting) error { seen++; return nil }); err != nil || seen != 1 {
			t.Errorf("entities since: %d, %v", seen, err)
		}
		m := store.TIMatch{WorkItemID: item, AlertID: res[0].AlertID, Entity: "203.0.113.66", Type: "ip", Value: "203.0.113.66", Feeds: []string{"otx"}, Confidence: 90, Retro: true}
		if first, err := db.RecordMatch(ctx, m); err != nil || !first {
			t.Fatalf("match: %v %v", first, err)
		}
		if first, _ := db.RecordMatch(ctx, m); first {
			t.Error("the same match recorded twice")
		}
		if ms, err := db.TIMatches(ctx, item); err != nil || len(ms) != 1 || !ms[0].Retro {
			t.Errorf("matches = %+v, %v", ms, err)
		}
	})
}
