package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// twoInstances opens two stores on one PostgreSQL database, as two
// vigil instances would.
func twoInstances(t *testing.T, clk clock.Clock) (a, b *store.DB, dsn string) {
	t.Helper()
	dsn = storetest.PostgresDSN(t)
	open := func() *store.DB {
		db, err := store.Open(context.Background(), store.Options{DSN: dsn, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return open(), open(), dsn
}

func TestModulePassSharing(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	a, b, _ := twoInstances(t, clk)
	ctx := context.Background()
	const every, hold = 10 * time.Second, time.Minute
	begin := func(db *store.DB, holder string, version int, poked bool) (*store.ModulePass, store.PassDecision) {
		t.Helper()
		p, d, err := db.BeginPass(ctx, "sync", holder, version, every, hold, poked, clk.Now)
		if err != nil {
			t.Fatalf("%s: BeginPass: %v", holder, err)
		}
		return p, d
	}
	want := func(step string, got, want store.PassDecision) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: decision %d, want %d", step, got, want)
		}
	}

	pa, d := begin(a, "a", 1, false)
	want("a first", d, store.PassRun)
	_, d = begin(b, "b", 1, false)
	want("b while a runs", d, store.PassBusy)
	_, d = begin(b, "b", 1, true)
	want("b poked while a runs", d, store.PassBusy)
	if err := pa.End(ctx, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	_, d = begin(b, "b", 1, false)
	want("b right after a's pass", d, store.PassRecent)
	pb, d := begin(b, "b", 1, true)
	want("b poked right after a's pass", d, store.PassRun)
	pb.End(ctx, nil)

	clk.Advance(every)
	pb, d = begin(b, "b", 2, false)
	want("b, a newer release, after the interval", d, store.PassRun)
	pb.End(ctx, nil)
	clk.Advance(every)
	_, d = begin(a, "a", 1, false)
	want("a, the older release", d, store.PassStandDown)

	states, err := a.ModuleStates(ctx)
	if err != nil || len(states) != 1 || states[0].Holder != "b" || states[0].Version != 2 || states[0].LastSuccess.IsZero() {
		t.Errorf("states = %+v, %v; want sync held last by b at version 2", states, err)
	}
}

// An instance killed in the middle of a pass releases its module at once:
// its connection closes and PostgreSQL ends its transaction. The dead
// pass's start was committed before the pass, so it still counts: the
// next instance runs the pass when it is due, not at once, and the APIs
// are not called twice within one interval.
func TestModulePassReleasedByDeath(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	a, b, dsn := twoInstances(t, clk)
	ctx := context.Background()
	const every = 10 * time.Second
	if _, d, err := a.BeginPass(ctx, "outbox", "a", 1, every, time.Minute, false, clk.Now); err != nil || d != store.PassRun {
		t.Fatalf("a: %v %v", d, err)
	}
	if _, d, _ := b.BeginPass(ctx, "outbox", "b", 1, every, time.Minute, false, clk.Now); d != store.PassBusy {
		t.Fatalf("b while a holds: %v, want busy", d)
	}
	// kill -9 of a, as PostgreSQL sees it: its backend goes away.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, d, err := b.BeginPass(ctx, "outbox", "b", 1, every, time.Minute, false, clk.Now)
		if err == nil && d == store.PassRecent {
			break // the lock is gone; a's start still counts
		}
		if time.Now().After(deadline) {
			t.Fatalf("b after a died: %v %v, want recent", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	clk.Advance(every * 9 / 10)
	if _, d, err := b.BeginPass(ctx, "outbox", "b", 1, every, time.Minute, false, clk.Now); err != nil || d != store.PassRun {
		t.Fatalf("b when the pass is due again: %v %v, want run", d, err)
	}
}

// An instance that hangs holding a module loses it after hold; the pass
// it began counts, so another instance runs the next one when it is due.
func TestModulePassReleasedByHang(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	a, b, _ := twoInstances(t, clk)
	ctx := context.Background()
	if _, d, err := a.BeginPass(ctx, "sessions", "a", 1, time.Hour, time.Second, false, clk.Now); err != nil || d != store.PassRun {
		t.Fatalf("a: %v %v", d, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, d, err := b.BeginPass(ctx, "sessions", "b", 1, time.Hour, time.Second, false, clk.Now)
		if err == nil && d == store.PassRecent {
			break // no longer busy: a's lock timed out
		}
		if time.Now().After(deadline) {
			t.Fatalf("b long after a hung: %v %v, want recent", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	clk.Advance(time.Hour)
	if _, d, err := b.BeginPass(ctx, "sessions", "b", 1, time.Hour, time.Second, false, clk.Now); err != nil || d != store.PassRun {
		t.Fatalf("b when the pass is due again: %v %v, want run", d, err)
	}
}

// On SQLite every pass runs: one process, no lock.
func TestModulePassSQLite(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	for range 2 {
		p, d, err := db.BeginPass(context.Background(), "sync", "a", 1, time.Minute, time.Minute, false, clk.Now)
		if err != nil || d != store.PassRun {
			t.Fatalf("sqlite: %v %v, want run", d, err)
		}
		if err := p.End(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A sync module's pass on one instance is visible to the others, and a
// failure keeps the time of the last success.
func TestRecordModuleState(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	a, b, _ := twoInstances(t, clk)
	ctx := context.Background()
	t1 := clk.Now()
	if err := a.RecordModuleState(ctx, "sentinel:ws", "a", t1, t1.Add(time.Second), ""); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(time.Minute)
	if err := a.RecordModuleState(ctx, "sentinel:ws", "a", t2, t2.Add(time.Second), "429 Too Many Requests"); err != nil {
		t.Fatal(err)
	}
	states, err := b.ModuleStates(ctx)
	if err != nil || len(states) != 1 {
		t.Fatalf("states = %+v, %v", states, err)
	}
	s := states[0]
	if s.Holder != "a" || !s.LastStart.Equal(t2) || !s.LastSuccess.Equal(t1.Add(time.Second)) || s.LastError != "429 Too Many Requests" {
		t.Errorf("state = %+v; want a's failed pass at %v after its success at %v", s, t2, t1.Add(time.Second))
	}
}
