package enrichment_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestQuotaHoldsNeverDrops: VirusTotal's public quota is 4 lookups a
// minute. Six IPs asked by a rule's playbook action: four are looked up
// at once, two are held (not failed, no attempt spent) and looked up when
// the minute has passed, on a fake clock.
func TestQuotaHoldsNeverDrops(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	vt := vtemu.Start("k")
	t.Cleanup(vt.Close)
	var ents []alert.Entity
	for i := range 6 {
		ip := fmt.Sprintf("198.51.100.%d", 10+i)
		vt.AddIP(ip, vtemu.Stats{Harmless: 70}, nil)
		ents = append(ents, alert.Entity{Kind: alert.EntityIP, Value: ip})
	}
	p, err := enrich.NewVirusTotal(enrich.VTConfig{BaseURL: vt.BaseURL, APIKey: "k", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc := enrichment.New(db, items, []enrich.Provider{p}, enrichment.Options{Clock: clk})
	sender := outbox.NewSender(db, map[string]outbox.Target{enrichment.Target: svc}, clk, slog.New(slog.DiscardHandler))
	a := alert.Alert{Source: "api", SourceID: "q1", Title: "Scan from six addresses", Severity: alert.SeverityHigh, Entities: ents}
	if err := a.Normalize(clk.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := db.Ingest(ctx, items.Process(), "test", []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].WorkItemID
	// The rule's playbook action "VirusTotal".
	if err := svc.Run(ctx, id, automation.DeferredAction{Rule: "enrich scans", Action: automation.ActionSpec{Type: automation.ActPlaybook, Name: "VirusTotal"}}); err != nil {
		t.Fatal(err)
	}
	_ = sender.UpdateAll(ctx)
	reports, _ := svc.Enrichments(ctx, auth.System, id)
	if len(reports) != 4 || vt.Requests() != 4 {
		t.Fatalf("after the first pass: %d reports, %d requests; want 4 and 4 (the quota)", len(reports), vt.Requests())
	}
	held, _ := db.ListOutbox(ctx, outbox.Pending, id, 0, 10)
	if len(held) != 2 || held[0].Attempts != 0 || !strings.Contains(held[0].LastError, "quota") {
		t.Fatalf("held messages = %+v, want 2 pending, no attempt spent, held by the quota", held)
	}
	clk.Advance(61 * time.Second)
	_ = sender.UpdateAll(ctx)
	if reports, _ = svc.Enrichments(ctx, auth.System, id); len(reports) != 6 {
		t.Fatalf("after the minute: %d reports, want 6", len(reports))
	}
	comments, _ := items.Comments(ctx, auth.System, id)
	if len(comments) != 6 {
		t.Errorf("%d comments, want one per report", len(comments))
	}
}
