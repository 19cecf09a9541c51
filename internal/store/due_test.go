package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestWorkItemDueDate sets, keeps, changes and clears a due date through
// the service, as the API and the item page do.
func TestWorkItemDueDate(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "defender", "due1", "Disk encryption", alert.SeverityMedium))[0].WorkItemID
		svc := workitem.NewService(db, workitem.DefaultProcess(), clk)
		actor := auth.Actor{Kind: "user", Name: "ana", Role: auth.RoleResponder}
		due := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
		it, err := svc.Update(ctx, actor, id, workitem.Patch{DueAt: &due}, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := mustGetItem(t, db, id)
		if got.DueAt == nil || !got.DueAt.Equal(due) || got.Rev != it.Rev {
			t.Fatalf("due = %v (rev %d), want %v", got.DueAt, got.Rev, due)
		}
		// The same date again changes nothing.
		if again, err := svc.Update(ctx, actor, id, workitem.Patch{DueAt: &due}, 0); err != nil || again.Rev != it.Rev {
			t.Fatalf("same due date: rev %d, err %v; want rev %d", again.Rev, err, it.Rev)
		}
		later := due.Add(48 * time.Hour)
		if _, err := svc.Update(ctx, actor, id, workitem.Patch{DueAt: &later}, 0); err != nil {
			t.Fatal(err)
		}
		var zero time.Time
		if _, err := svc.Update(ctx, actor, id, workitem.Patch{DueAt: &zero}, 0); err != nil {
			t.Fatal(err)
		}
		if got := mustGetItem(t, db, id); got.DueAt != nil {
			t.Fatalf("cleared due date reads %v", got.DueAt)
		}
		var msgs []string
		for _, e := range mustTimeline(t, db, id) {
			if e.Kind == workitem.KindUpdate {
				msgs = append(msgs, e.Message)
			}
		}
		want := []string{`due date changed from "" to "2030-03-01"`, `due date changed from "2030-03-01" to "2030-03-03"`, `due date changed from "2030-03-03" to ""`}
		if len(msgs) != 3 || msgs[0] != want[0] || msgs[1] != want[1] || msgs[2] != want[2] {
			t.Fatalf("timeline = %q, want %q", msgs, want)
		}
	})
}
