package store_test

import (
	"context"
	"fmt"
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

func TestIngestDedupAndReopen(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()

		res, err := db.Ingest(ctx, proc, "test", []alert.Alert{testAlert("a1"), testAlert("a2"), testAlert("a1")})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Outcome{store.OutcomeCreated, store.OutcomeCreated, store.OutcomeUpdated}
		for i, r := range res {
			if r.Outcome != want[i] {
				t.Errorf("result %d outcome = %s, want %s", i, r.Outcome, want[i])
			}
		}
		if res[0].AlertID != res[2].AlertID || res[0].WorkItemID != res[2].WorkItemID {
			t.Errorf("repeated alert got alert %d item %d, want alert %d item %d", res[2].AlertID, res[2].WorkItemID, res[0].AlertID, res[0].WorkItemID)
		}
		if res[2].Version != 2 {
			t.Errorf("repeated alert version = %d, want 2", res[2].Version)
		}
		item, err := db.GetWorkItem(ctx, res[0].WorkItemID)
		if err != nil {
			t.Fatal(err)
		}
		if item.Type != workitem.TypeProblem || item.State != "New" {
			t.Errorf("item type/state = %s/%s, want Problem/New", item.Type, item.State)
		}

		// Close the item, then the alert fires again: a new item, linked.
		if _, err := db.UpdateWorkItem(ctx, item.ID, func(it *workitem.Item) ([]workitem.Entry, error) {
			it.State = "Closed"
			return []workitem.Entry{{Kind: workitem.KindTransition, Actor: "test", Message: "closed"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		res2, err := db.Ingest(ctx, proc, "test", []alert.Alert{testAlert("a1")})
		if err != nil {
			t.Fatal(err)
		}
		if got := res2[0]; got.Outcome != store.OutcomeReopened || got.WorkItemID == item.ID || got.Version != 3 {
			t.Fatalf("after close: %+v, want reopened on a new item, version 3", got)
		}
		next, err := db.GetWorkItem(ctx, res2[0].WorkItemID)
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
		var kinds []string
		for _, e := range tl {
			kinds = append(kinds, e.Kind)
		}
		if fmt.Sprint(kinds) != "[created alert transition reopened]" {
			t.Errorf("old item timeline kinds = %v", kinds)
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
