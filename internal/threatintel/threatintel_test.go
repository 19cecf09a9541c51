package threatintel_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/feeds"
	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestOTXPulseRetroHunt is the first "done when" below the web:
// an alert is ingested; later an OTX pulse (the emulator) names its IP;
// one feed pass later the item carries the tag, a timeline entry naming
// the indicator, its feed and confidence, and a comment (which the
// item's write-backs mirror to Sentinel). Passes again change nothing;
// a new alert with the IP is matched as it arrives.
func TestOTXPulseRetroHunt(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	ingest := func(id string) store.IngestResult {
		a := alert.Alert{Source: "sentinel", SourceID: id, Title: "Outbound connection from vm-app-02", Severity: alert.SeverityMedium,
			Entities: []alert.Entity{{Kind: alert.EntityIP, Value: "203.0.113.66"}, {Kind: alert.EntityHost, Value: "vm-app-02"}}}
		if err := a.Normalize(clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	before := ingest("inc-1")

	emu, err := feedsemu.NewOTXServer("otx-key")
	if err != nil {
		t.Fatal(err)
	}
	u, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	otx, err := feeds.NewOTX(feeds.OTXConfig{BaseURL: u, APIKey: "otx-key", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc := threatintel.New(db, items, []feeds.Feed{otx}, clk, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := emu.AddPulse(feedsemu.OTXPulse{ID: "p-c2", Name: "C2 infrastructure", Created: clk.Now(), Modified: clk.Now(), Tags: []string{"c2", "cobalt strike"},
		Indicators: []feedsemu.OTXIndicator{{ID: 1, Indicator: "203.0.113.66", Type: "IPv4", Created: clk.Now(), IsActive: 1}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second pass changes nothing
		if err := svc.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	it, _ := items.Get(ctx, auth.System, before.WorkItemID)
	if !strings.Contains(strings.Join(it.Tags, ","), threatintel.Tag) {
		t.Errorf("item tags = %v, want %s", it.Tags, threatintel.Tag)
	}
	ms, _ := svc.Matches(ctx, auth.System, before.WorkItemID)
	if len(ms) != 1 || !ms[0].Retro || ms[0].Value != "203.0.113.66" || ms[0].Feeds[0] != "otx" {
		t.Fatalf("matches = %+v, want one retro-hunt match from otx", ms)
	}
	tl, _ := db.RecentTimeline(ctx, before.WorkItemID, 0, 100)
	var saw bool
	for _, e := range tl {
		saw = saw || (strings.Contains(e.Message, "matches indicator ip 203.0.113.66") && strings.Contains(e.Message, "otx"))
	}
	if !saw {
		t.Errorf("no timeline entry names the indicator and its feed: %+v", tl)
	}
	cs, _ := items.Comments(ctx, auth.System, before.WorkItemID)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "Threat intelligence: ip 203.0.113.66") {
		t.Errorf("comments = %+v, want one", cs)
	}
	run, _ := db.FeedRunOf(ctx, "otx")
	if run.Cursor == "" || run.LastError != "" || run.Total != 1 {
		t.Errorf("feed run = %+v", run)
	}

	// A new alert with the IP is matched as it arrives.
	clk.Advance(time.Minute)
	a := alert.Alert{Source: "sentinel", SourceID: "inc-2", Title: "Beacon", Severity: alert.SeverityHigh,
		Entities: []alert.Entity{{Kind: alert.EntityIP, Value: "203.0.113.66"}}}
	if err := a.Normalize(clk.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	svc.Ingested(ctx, []alert.Alert{a}, res)
	if ms, _ := svc.Matches(ctx, auth.System, res[0].WorkItemID); len(ms) != 0 {
		t.Fatalf("a match was applied inside the ingest: %+v; it is queued", ms)
	}
	sender := outbox.NewSender(db, map[string]outbox.Target{threatintel.Target: svc}, clk, slog.New(slog.DiscardHandler))
	if err := sender.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, _ := svc.Matches(ctx, auth.System, res[0].WorkItemID); len(ms) != 1 || ms[0].Retro {
		t.Errorf("the new alert's matches = %+v, want one made on arrival", ms)
	}
}

// TestRulesSeeTI: a rule reads ti.matched, ti.confidence and ti.feed,
// answered by the matcher, and raises the severity of an alert whose IP
// is a known indicator.
func TestRulesSeeTI(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	if _, err := db.UpsertIndicators(ctx, []intel.Indicator{{Type: intel.IP, Value: "203.0.113.66", Feeds: []string{"otx"}, Confidence: 85,
		FirstSeen: clk.Now(), LastSeen: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	svc := threatintel.New(db, items, nil, clk, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	automation.ThreatIntel = svc.Facts
	t.Cleanup(func() { automation.ThreatIntel = nil })
	set := automation.NewSet([]automation.Rule{{ID: 1, Version: 1, Definition: automation.Definition{Name: "known bad", Enabled: true,
		Triggers:  []string{"alert.created"},
		Condition: `ti.matched && ti.confidence >= 80 && ti.feed == "otx"`,
		Actions:   []automation.ActionSpec{{Type: automation.ActSeverity, Severity: "critical"}}}}}, automation.Options{})
	for _, tc := range []struct {
		ip   string
		want alert.Severity
	}{{"203.0.113.66", alert.SeverityCritical}, {"192.0.2.1", alert.SeverityLow}} {
		a := alert.Alert{Source: "api", SourceID: tc.ip, Title: "conn", Severity: alert.SeverityLow, Entities: []alert.Entity{{Kind: alert.EntityIP, Value: tc.ip}}}
		res := set.Evaluate(&automation.Event{Trigger: automation.AlertCreated, Source: "api", Alert: &a, Item: workitem.Item{Severity: alert.SeverityLow}}, clk.Now())
		if len(res.Errors) > 0 || res.Item.Severity != tc.want {
			t.Errorf("%s: severity %s (errors %v), want %s", tc.ip, res.Item.Severity, res.Errors, tc.want)
		}
	}
}
