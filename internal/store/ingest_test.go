package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func testAlert(id string) alert.Alert {
	a := alert.Alert{
		Source: "defender", SourceID: id, Product: "Azure Security Center",
		Title: "Suspicious PowerShell command line", Severity: alert.SeverityHigh,
		Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "VM-Web-01"}, {Kind: alert.EntityIP, Value: "10.0.0.4"}},
		Raw:      []byte(`{"name":"` + id + `"}`),
	}
	if err := a.Normalize(t0); err != nil {
		panic(err)
	}
	return a
}

// TestIngestDedupAndReopen follows one Defender alert (a polled source,
// whose status is the source's own): a re-send in the same batch is the
// same alert and changes nothing; closing its item does not make a
// re-send reopen it; a resolution at the source goes on the closed
// item; only a new firing (open again after resolved) opens a new item.
func TestIngestDedupAndReopen(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()

		res, err := db.Ingest(ctx, proc, "test", []alert.Alert{testAlert("a1"), testAlert("a2"), testAlert("a1")})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Outcome{store.OutcomeCreated, store.OutcomeCreated, store.OutcomeUnchanged}
		for i, r := range res {
			if r.Outcome != want[i] {
				t.Errorf("result %d outcome = %s, want %s", i, r.Outcome, want[i])
			}
		}
		if res[0].AlertID != res[2].AlertID || res[0].WorkItemID != res[2].WorkItemID {
			t.Errorf("repeated alert got alert %d item %d, want alert %d item %d", res[2].AlertID, res[2].WorkItemID, res[0].AlertID, res[0].WorkItemID)
		}
		if res[2].Version != 1 {
			t.Errorf("repeated unchanged alert version = %d, want 1", res[2].Version)
		}
		if a, err := db.GetAlert(ctx, res[0].AlertID); err != nil || a.SeenCount != 2 || a.Version != 1 {
			t.Errorf("repeated alert = version %d seen %d, %v; want version 1 seen twice", a.Version, a.SeenCount, err)
		}
		item, err := db.GetWorkItem(ctx, res[0].WorkItemID)
		if err != nil {
			t.Fatal(err)
		}
		if item.Type != workitem.TypeProblem || item.State != "New" {
			t.Errorf("item type/state = %s/%s, want Problem/New", item.Type, item.State)
		}

		// Close the item; the alert is re-sent as it was: nothing new.
		if _, err := db.UpdateWorkItem(ctx, item.ID, func(it *workitem.Item) ([]workitem.Entry, error) {
			it.State = "Closed"
			return []workitem.Entry{{Kind: workitem.KindTransition, Actor: "test", Message: "closed"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		ingestOne := func(a alert.Alert) store.IngestResult {
			t.Helper()
			r, err := db.Ingest(ctx, proc, "test", []alert.Alert{a})
			if err != nil {
				t.Fatal(err)
			}
			return r[0]
		}
		if got := ingestOne(testAlert("a1")); got.Outcome != store.OutcomeUnchanged || got.WorkItemID != item.ID || got.Version != 1 {
			t.Fatalf("re-send after close: %+v, want unchanged on item %d, version 1", got, item.ID)
		}

		// Resolved at the source: a new version on the closed item, which
		// stays closed.
		resolved := testAlert("a1")
		resolved.Status = alert.StatusResolved
		if got := ingestOne(resolved); got.Outcome != store.OutcomeUpdated || got.WorkItemID != item.ID || got.Version != 2 {
			t.Fatalf("resolved after close: %+v, want updated on item %d, version 2", got, item.ID)
		}

		// Open again at the source: a new firing, a new item, linked.
		res2 := ingestOne(testAlert("a1"))
		if res2.Outcome != store.OutcomeReopened || res2.WorkItemID == item.ID || res2.Version != 3 {
			t.Fatalf("new firing after close: %+v, want reopened on a new item, version 3", res2)
		}
		next, err := db.GetWorkItem(ctx, res2.WorkItemID)
		if err != nil {
			t.Fatal(err)
		}
		if next.PreviousID != item.ID {
			t.Errorf("new item previous_id = %d, want %d", next.PreviousID, item.ID)
		}
		vs, err := db.AlertVersions(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 3 || string(vs[0].Raw) != `{"name":"a1"}` {
			t.Errorf("versions = %d (first raw %s), want 3 with the raw payload kept", len(vs), vs[0].Raw)
		}
		tl, err := db.Timeline(ctx, item.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := kinds(tl), []string{workitem.KindCreated, workitem.KindTransition, workitem.KindAlert, workitem.KindReopened}; !slices.Equal(got, want) {
			t.Errorf("old item timeline kinds = %v, want %v", got, want)
		}
		if items, err := db.ListWorkItems(ctx, workitem.Filter{}); err != nil || len(items) != 3 {
			t.Errorf("ListWorkItems = %d items, %v; want 3 (a1, a2, a1's new firing)", len(items), err)
		}
	})
}

func BenchmarkIngest(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB, clock.Clock) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}}
	for _, d := range dbs {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", d.name, batch), func(b *testing.B) {
				db := d.open(b, clock.Real{})
				proc := workitem.DefaultProcess()
				as := make([]alert.Alert, batch)
				n := 0
				b.ResetTimer()
				for b.Loop() {
					for i := range as {
						n++
						as[i] = testAlert(fmt.Sprintf("bench-%d", n))
					}
					if _, err := db.Ingest(context.Background(), proc, "bench", as); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}
