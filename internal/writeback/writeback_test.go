package writeback_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// TestDefenderWriteBack is the loop end to end against the simulated
// tenant: a Defender for Cloud alert becomes a work item; starting work on
// it sets the alert InProgress, and closing it resolves the alert through
// a 429 storm, with every step on the item's timeline.
func TestDefenderWriteBack(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Now())
	db := storetest.SQLite(t, clk)
	proc := workitem.DefaultProcess()

	srv, err := simulator.Listen(simulator.New(simulator.Options{Preload: 1}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	info := srv.Info
	client, err := defender.New(defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	sink := func(ctx context.Context, as []alert.Alert) error {
		_, err := db.Ingest(ctx, proc, "connector:defender", as)
		return err
	}
	if err := defender.NewPoller(client, sink, log, clk.Now).UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := db.ListWorkItems(ctx, workitem.Filter{Source: "defender"})
	if err != nil || len(items) != 1 {
		t.Fatalf("work items = %d, %v; want the preloaded alert's", len(items), err)
	}
	item, _ := db.GetWorkItem(ctx, items[0].ID)
	dfcName := srv.Sim.World().DefenderAlerts()[0].Name

	svc := workitem.NewService(db, proc, clk).WithPlanner(writeback.New(db))
	sender := outbox.NewSender(db, map[string]outbox.Target{"defender": client}, clk, log)
	analyst := auth.Actor{Kind: "user", Name: "ana@contoso.com", Role: auth.RoleResponder}
	move := func(to, reason string) {
		t.Helper()
		if _, err := svc.Transition(ctx, analyst, item.ID, to, reason, 0); err != nil {
			t.Fatalf("move to %s: %v", to, err)
		}
	}
	dfcStatus := func() string {
		a, _ := srv.Sim.World().DefenderAlertByName(dfcName)
		return a.Status
	}

	move("Approved", "")
	move("Active", "")
	if err := sender.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dfcStatus(); got != simulator.DfCInProgress {
		t.Fatalf("Defender alert after Active = %s, want InProgress", got)
	}

	// Throttled twice, then through: the write is retried, never dropped.
	srv.Sim.Inject(simulator.Fault{Endpoint: "defender.alerts.resolve", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 7, Times: 2})
	move("Verification", "")
	move("Closed", "TruePositive: contained by isolating the VM")
	for i := 0; i < 3; i++ {
		if err := sender.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(outbox.MaxDelay) // past any backoff, and past the 7 s Retry-After
	}
	if got := dfcStatus(); got != simulator.DfCResolved {
		t.Fatalf("Defender alert after Closed = %s, want Resolved", got)
	}
	if hits := srv.Sim.Hits("defender.alerts.resolve"); hits != 3 {
		t.Errorf("resolve calls = %d, want 3 (two throttled, one through)", hits)
	}
	sa, _ := srv.Sim.World().SentinelAlertByID(srv.Sim.World().DefenderAlerts()[0].SentinelAlertID)
	if sa.Status != simulator.SentinelAlertResolved {
		t.Errorf("Sentinel alert = %s, want Resolved (Defender propagates it)", sa.Status)
	}

	// Nothing left to send, and each step is explained on the timeline.
	if pending, _ := db.ListOutbox(ctx, outbox.Pending, item.ID, 0, 10); len(pending) != 0 {
		t.Errorf("pending write-backs = %d, want 0", len(pending))
	}
	tl, err := db.Timeline(ctx, item.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var syncs []string
	for _, e := range tl {
		if e.Kind == workitem.KindSync {
			syncs = append(syncs, e.Message)
		}
	}
	want := []string{"queued write-back: defender alert.inProgress", "write-back done: defender alert.inProgress",
		"queued write-back: defender alert.resolve", "write-back will be retried", "write-back will be retried",
		"write-back done: defender alert.resolve"}
	if len(syncs) != len(want) {
		t.Fatalf("sync timeline = %q, want %d entries", syncs, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(syncs[i], w) {
			t.Errorf("sync entry %d = %q, want it to start with %q", i, syncs[i], w)
		}
	}
	if !strings.Contains(syncs[3], "429") {
		t.Errorf("retry entry %q does not say why", syncs[3])
	}
}
