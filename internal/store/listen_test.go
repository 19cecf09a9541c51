package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// listener runs db.Listen on channel for the test and collects payloads.
type listener struct {
	got  chan string
	done chan error
}

func startListen(t *testing.T, db *store.DB, channel string) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{got: make(chan string, 100), done: make(chan error, 1)}
	go func() { l.done <- db.Listen(ctx, channel, func(p string) { l.got <- p }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-l.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Listen returned %v after cancel, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Listen did not return within 5s of cancel")
		}
	})
	// The first call, with "", says LISTEN has taken effect.
	l.next(t, "the listener to start", 10*time.Second)
	return l
}

// next waits up to within for a payload.
func (l *listener) next(t *testing.T, what string, within time.Duration) string {
	t.Helper()
	select {
	case p := <-l.got:
		return p
	case err := <-l.done:
		t.Fatalf("waiting for %s: Listen returned %v", what, err)
	case <-time.After(within):
		t.Fatalf("waiting for %s: nothing within %s", what, within)
	}
	return ""
}

// quiet fails the test when a payload arrives within d.
func (l *listener) quiet(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case p := <-l.got:
		t.Fatalf("%s: got a notification %q, want none", what, p)
	case <-time.After(d):
	}
}

// openTwo opens two stores, as two instances would, on one new database.
func openTwo(t *testing.T) (a, b *store.DB, dsn string) {
	t.Helper()
	dsn = storetest.PostgresDSN(t)
	for _, p := range []**store.DB{&a, &b} {
		db, err := store.Open(context.Background(), store.Options{DSN: dsn, Clock: clock.Real{}})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		*p = db
	}
	return a, b, dsn
}

func TestListenSeesChangesOfAnotherHandle(t *testing.T) {
	a, b, dsn := openTwo(t)
	l := startListen(t, b, store.ChangesChannel)

	start := time.Now()
	res := mustIngest(t, a, newAlert(t, "e2e", "n-1", "Listen", alert.SeverityHigh))
	l.next(t, "the notification of a new work item", time.Second)
	t.Logf("new item announced after %s", time.Since(start))

	start = time.Now()
	mustUpdate(t, a, res[0].WorkItemID, func(it *workitem.Item) { it.State = "Approved" })
	l.next(t, "the notification of a move", time.Second)
	t.Logf("move announced after %s", time.Since(start))
	l.quiet(t, "after one move", 200*time.Millisecond)

	// Statements of one transaction collapse into one notification; a
	// transaction that writes no work item sends none.
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tx.Exec(`UPDATE workitems SET updated_at = updated_at + 1`); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	l.next(t, "the notification of a transaction of three updates", time.Second)
	l.quiet(t, "after one transaction of three updates", 300*time.Millisecond)
	if _, err := raw.Exec(`UPDATE workitems SET updated_at = 0 WHERE false`); err != nil {
		t.Fatal(err)
	}
	// A statement-level trigger fires even when no row matched: one
	// spurious wake-up, harmless, is the price of not firing per row.
	l.next(t, "the notification of an update of no row", time.Second)
	if _, err := raw.Exec(`SELECT count(*) FROM alerts`); err != nil {
		t.Fatal(err)
	}
	l.quiet(t, "after a read", 300*time.Millisecond)
}

func TestListenDeliversPayloads(t *testing.T) {
	_, b, dsn := openTwo(t)
	l := startListen(t, b, "engine pokes") // any name: it is quoted
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`SELECT pg_notify('engine pokes', 'outbox')`); err != nil {
		t.Fatal(err)
	}
	if got := l.next(t, "a payload", time.Second); got != "outbox" {
		t.Errorf("payload = %q, want %q", got, "outbox")
	}
}

func TestListenReconnects(t *testing.T) {
	a, b, dsn := openTwo(t)
	l := startListen(t, b, store.ChangesChannel)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	for round := range 2 {
		var n int
		err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&n)
		if err != nil || n != 1 {
			t.Fatalf("round %d: terminated %d listener backends (%v), want 1", round, n, err)
		}
		// After reconnecting the listener says so with "", as changes
		// made while it was away were not announced to it.
		l.next(t, "the call after reconnecting", 5*time.Second)
		l.quiet(t, "after reconnecting", 200*time.Millisecond)
		mustIngest(t, a, newAlert(t, "e2e", "r-"+string(rune('a'+round)), "Reconnect", alert.SeverityLow))
		l.next(t, "a change after reconnecting", time.Second)
	}
}

func TestListenNeedsPostgres(t *testing.T) {
	db := storetest.SQLite(t, clock.Real{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := db.Listen(ctx, store.ChangesChannel, func(string) { t.Error("fn called on SQLite") })
	if !errors.Is(err, store.ErrNoListen) || ctx.Err() != nil {
		t.Errorf("Listen on SQLite = %v (ctx %v), want ErrNoListen at once", err, ctx.Err())
	}
}

// A listener that waits longer than its health-check period checks its
// connection and goes on listening on it: the wait's timeout must not
// break the connection nor count as a drop.
func TestListenSurvivesQuietPeriods(t *testing.T) {
	t.Cleanup(store.SetListenCheck(50 * time.Millisecond))
	a, b, _ := openTwo(t)
	l := startListen(t, b, store.ChangesChannel)
	l.quiet(t, "while nothing changes, across several health checks", 400*time.Millisecond)
	mustIngest(t, a, newAlert(t, "e2e", "q-1", "Quiet", alert.SeverityLow))
	l.next(t, "a change after a quiet period", time.Second)
	l.quiet(t, "after the change", 200*time.Millisecond)
}
