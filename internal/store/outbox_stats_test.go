package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

func TestOutboxStats(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		stats := func(step string, want []store.OutboxStat) {
			t.Helper()
			got, err := db.OutboxStats(ctx)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if got == nil || !slices.Equal(got, want) {
				t.Errorf("%s: stats =\n %+v\nwant\n %+v", step, got, want)
			}
		}
		stats("empty outbox", []store.OutboxStat{})

		msg := func(target, key string) outbox.Message {
			return outbox.Message{Target: target, Op: "alert.update", Resource: "r-" + key, IdemKey: key}
		}
		enqueue := func(msgs ...outbox.Message) {
			t.Helper()
			if _, err := db.Enqueue(ctx, msgs, nil); err != nil {
				t.Fatal(err)
			}
		}
		enqueue(msg("defender", "d1"), msg("defender", "d2"))
		clk.Advance(time.Minute)
		enqueue(msg("graph", "g1"), msg("graph", "g2"), msg("graph", "g3"), msg("sentinel", "s1"))
		all, err := db.ListOutbox(ctx, "", 0, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		id := map[string]int64{}
		for _, m := range all {
			id[m.IdemKey] = m.ID
		}
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}

		clk.Advance(time.Minute)
		step("reschedule d1", db.RescheduleOutbox(ctx, id["d1"], clk.Now().Add(time.Minute), "graph: 429 TooManyRequests"))
		clk.Advance(time.Minute)
		step("fail g1", db.FailOutbox(ctx, id["g1"], "graph: 400 BadRequest"))
		clk.Advance(time.Minute)
		step("fail g2", db.FailOutbox(ctx, id["g2"], "graph: 404 NotFound"))
		step("complete s1", db.CompleteOutbox(ctx, id["s1"]))
		stats("after failures", []store.OutboxStat{
			{Target: "defender", Pending: 2, OldestPending: t0, LastError: "graph: 429 TooManyRequests"},
			{Target: "graph", Pending: 1, Failed: 2, OldestPending: t0.Add(time.Minute), LastError: "graph: 404 NotFound"},
			// sentinel's one message was delivered: nothing to show
		})

		// The most recently updated error wins, pending or failed.
		clk.Advance(time.Minute)
		step("reschedule g3", db.RescheduleOutbox(ctx, id["g3"], clk.Now().Add(time.Minute), "graph: 503 ServiceUnavailable"))
		clk.Advance(time.Minute)
		step("retry g1", db.RetryOutboxNow(ctx, id["g1"])) // keeps its error, now pending
		stats("after a retry", []store.OutboxStat{
			{Target: "defender", Pending: 2, OldestPending: t0, LastError: "graph: 429 TooManyRequests"},
			{Target: "graph", Pending: 2, Failed: 1, OldestPending: t0.Add(time.Minute), LastError: "graph: 400 BadRequest"},
		})

		// Delivered messages drop out; a failed-only target has no oldest pending.
		for _, k := range []string{"d1", "d2", "g1", "g3"} {
			step("complete "+k, db.CompleteOutbox(ctx, id[k]))
		}
		stats("after delivery", []store.OutboxStat{
			{Target: "graph", Failed: 1, LastError: "graph: 404 NotFound"},
		})
	})
}
