package inhibit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/amconfig"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/compat"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/inhibit"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

type observer struct{ s *inhibit.Stage }

func (o observer) Ingested(ctx context.Context, as []alert.Alert, rs []store.IngestResult) {
	o.s.Ingested(ctx, as, rs)
}
func (observer) SourceResolved(context.Context, int64, string, string) {}

// TestInhibition: with Alertmanager's classic rule (a critical alert
// inhibits warnings on the same instance), a firing NodeDown on instance a
// leaves DiskFull on a without an item, explained on NodeDown's timeline;
// DiskFull on b is not inhibited; once NodeDown resolves, a new warning on
// a gets its item; a stage loaded from the store after a restart knows
// the firing sources.
func TestInhibition(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		src, _ := amconfig.ParseMatchers(`severity="critical"`)
		tgt, _ := amconfig.ParseMatchers(`severity="warning"`)
		rules := []amconfig.InhibitRule{{SourceMatchers: src, TargetMatchers: tgt, Equal: []string{"instance"}}}
		stage := inhibit.New(rules, db, clk.Now, nil)
		proc := workitem.DefaultProcess()
		pipe := ingest.New(db, proc, ingest.Options{}, stage)
		pipe.React(observer{stage})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { pipe.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })

		post := func(name, instance, severity, endsAt string) store.IngestResult {
			t.Helper()
			body := `[{"labels":{"alertname":"` + name + `","instance":"` + instance + `","severity":"` + severity + `"}` + endsAt + `}]`
			as, err := compat.ParseAlertmanager([]byte(body), clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			res, err := pipe.Submit(ctx, "test", as)
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		down := post("NodeDown", "a", "critical", "")
		if down.WorkItemID == 0 {
			t.Fatal("the source has no item")
		}
		disk := post("DiskFull", "a", "warning", "")
		if disk.Outcome != store.OutcomeSuppressed || disk.WorkItemID != 0 {
			t.Fatalf("DiskFull on a = %+v, want suppressed without an item", disk)
		}
		tl, _ := db.Timeline(ctx, down.WorkItemID, 0, 100)
		var saw bool
		for _, e := range tl {
			saw = saw || strings.Contains(e.Message, "inhibited alert") && strings.Contains(e.Message, "inhibit_rules[0]")
		}
		if !saw {
			t.Errorf("NodeDown's timeline does not explain the inhibition: %+v", tl)
		}
		if other := post("DiskFull", "b", "warning", ""); other.WorkItemID == 0 {
			t.Errorf("DiskFull on b (another instance) = %+v, want an item", other)
		}

		// After a restart, the firing source is known.
		fresh := inhibit.New(rules, db, clk.Now, nil)
		if err := fresh.Load(ctx); err != nil {
			t.Fatal(err)
		}
		as, _ := compat.ParseAlertmanager([]byte(`[{"labels":{"alertname":"CPU","instance":"a","severity":"warning"}}]`), clk.Now())
		as, _ = fresh.Process(ctx, as)
		if as[0].Inhibited == nil {
			t.Error("a stage loaded from the store does not know NodeDown fires")
		}

		// NodeDown resolves; a new warning on a gets its item.
		clk.Advance(time.Minute)
		post("NodeDown", "a", "critical", `,"startsAt":"`+clk.Now().Add(-2*time.Minute).Format(time.RFC3339)+`","endsAt":"`+clk.Now().Add(-time.Second).Format(time.RFC3339)+`"`)
		if mem := post("MemoryLow", "a", "warning", ""); mem.WorkItemID == 0 {
			t.Errorf("after NodeDown resolved, MemoryLow on a = %+v, want an item", mem)
		}
	})
}
