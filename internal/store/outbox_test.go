package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func closeWithWriteBack(key string) func(*workitem.Item) ([]workitem.Entry, []outbox.Message, error) {
	return func(it *workitem.Item) ([]workitem.Entry, []outbox.Message, error) {
		it.State = "Closed"
		return []workitem.Entry{{Actor: "test", Kind: workitem.KindTransition, Message: "closed"}},
			[]outbox.Message{{Target: "defender", Op: "alert.resolve", Resource: "alert-1", IdemKey: key, Payload: []byte(`{"reason":"done"}`)}}, nil
	}
}

func TestOutboxLifecycle(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{testAlert("ob-1"), testAlert("ob-2")})
		if err != nil {
			t.Fatal(err)
		}
		id := res[0].WorkItemID

		// A failing change enqueues nothing: the write-back exists only if
		// the change committed.
		_, err = db.UpdateWorkItemEffects(ctx, id, func(it *workitem.Item) ([]workitem.Entry, []outbox.Message, error) {
			return nil, []outbox.Message{{Target: "defender", Op: "alert.resolve", Resource: "x", IdemKey: "k0"}}, errors.New("refused")
		})
		if err == nil {
			t.Fatal("want the fn error")
		}
		if ms, _ := db.ListOutbox(ctx, "", 0, 0, 10); len(ms) != 0 {
			t.Fatalf("outbox after a failed change = %d messages, want 0", len(ms))
		}

		if _, err := db.UpdateWorkItemEffects(ctx, id, closeWithWriteBack("wi-1-close")); err != nil {
			t.Fatal(err)
		}
		// The same logical write again (same key, on another change) is not queued twice.
		if _, err := db.UpdateWorkItemEffects(ctx, res[1].WorkItemID, closeWithWriteBack("wi-1-close")); err != nil {
			t.Fatal(err)
		}
		pending, err := db.ListOutbox(ctx, outbox.Pending, 0, 0, 10)
		if err != nil || len(pending) != 1 || pending[0].WorkItemID != id || string(pending[0].Payload) != `{"reason":"done"}` {
			t.Fatalf("pending = %+v, %v; want the one message of item %d", pending, err, id)
		}

		// Claimed messages are leased: a second claim finds nothing until the lease ends.
		claimed, err := db.ClaimOutbox(ctx, time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %d, %v", len(claimed), err)
		}
		if again, _ := db.ClaimOutbox(ctx, time.Minute, 10); len(again) != 0 {
			t.Errorf("claimed twice within the lease")
		}
		clk.Advance(2 * time.Minute) // the sender died mid-send: the lease runs out
		if again, _ := db.ClaimOutbox(ctx, time.Minute, 10); len(again) != 1 {
			t.Errorf("not claimable after the lease expired")
		}

		// A failed attempt waits for its next time.
		m := claimed[0]
		if err := db.RescheduleOutbox(ctx, m.ID, clk.Now().Add(30*time.Second), "429 Too Many Requests"); err != nil {
			t.Fatal(err)
		}
		if due, _ := db.ClaimOutbox(ctx, time.Minute, 10); len(due) != 0 {
			t.Errorf("claimed before its next attempt time")
		}
		clk.Advance(31 * time.Second)
		if due, _ := db.ClaimOutbox(ctx, time.Minute, 10); len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "429 Too Many Requests" {
			t.Errorf("after the wait: %+v", due)
		}

		// Given up on, it stays visible; "retry now" makes it due again.
		if err := db.FailOutbox(ctx, m.ID, "permanent"); err != nil {
			t.Fatal(err)
		}
		if failed, _ := db.ListOutbox(ctx, outbox.Failed, id, 0, 10); len(failed) != 1 || failed[0].Attempts != 2 {
			t.Errorf("failed = %+v", failed)
		}
		if err := db.RetryOutboxNow(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		due, _ := db.ClaimOutbox(ctx, time.Minute, 10)
		if len(due) != 1 {
			t.Fatalf("retry now: %d due", len(due))
		}
		if err := db.CompleteOutbox(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetOutbox(ctx, m.ID)
		if err != nil || got.State != outbox.Done || got.DoneAt == nil {
			t.Errorf("completed = %+v, %v", got, err)
		}
		if err := db.RetryOutboxNow(ctx, m.ID); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("retry of a done message = %v, want not found", err)
		}
	})
}

// TestOutboxSurvivesRestart: pending writes are still there after the
// process stops and the database is opened again.
func TestOutboxSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Options{DataDir: dir, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{testAlert("restart")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateWorkItemEffects(ctx, res[0].WorkItemID, closeWithWriteBack("restart-close")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(ctx, store.Options{DataDir: dir, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if due, err := db.ClaimOutbox(ctx, time.Minute, 10); err != nil || len(due) != 1 || due[0].IdemKey != "restart-close" {
		t.Errorf("after restart: %+v, %v", due, err)
	}
}
