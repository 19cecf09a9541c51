package ui_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// runFeed runs f until the test ends.
func runFeed(t *testing.T, f *ui.Feed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// ingestOne creates a work item through db and returns its id.
func ingestOne(t *testing.T, db *store.DB, id string) int64 {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"id": id})
	a := alert.Alert{Source: "e2e", SourceID: id, Title: "Live " + id, Severity: alert.SeverityHigh, Raw: raw}
	if err := a.Normalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := db.Ingest(context.Background(), workitem.DefaultProcess(), "test", []alert.Alert{a})
	if err != nil || len(res) != 1 {
		t.Fatalf("ingest: %v (%d results)", err, len(res))
	}
	return res[0].WorkItemID
}

// move sets an item's state through db, as a move on that instance does.
func move(t *testing.T, db *store.DB, id int64, state string) workitem.Item {
	t.Helper()
	it, err := db.UpdateWorkItem(context.Background(), id, func(it *workitem.Item) ([]workitem.Entry, error) {
		it.State = state
		return nil, nil
	})
	if err != nil {
		t.Fatalf("move item %d to %s: %v", id, state, err)
	}
	return it
}

// await waits up to within for a batch holding item id at rev.
func await(t *testing.T, ch <-chan []store.ItemChange, id int64, rev int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		select {
		case batch := <-ch:
			for _, c := range batch {
				if c.ID == id && c.Rev == rev {
					return time.Since(start)
				}
			}
		case <-deadline:
			t.Fatalf("item %d at rev %d not announced within %s", id, rev, within)
		}
	}
}

// Two instances on one PostgreSQL database: a move through one reaches a
// board open on the other through the notification alone, as both feeds
// would otherwise poll only once a minute.
func TestFeedAcrossInstancesOnPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	var dbs [2]*store.DB
	var feeds [2]*ui.Feed
	for i := range dbs {
		db, err := store.Open(context.Background(), store.Options{DSN: dsn})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
		feeds[i] = ui.NewFeed(db, clock.Real{}, time.Minute, slog.New(slog.DiscardHandler))
		feeds[i].Listen(db.ListenChanges, time.Minute)
	}
	id := ingestOne(t, dbs[0], "across-1")
	ch, cancel := feeds[1].Subscribe()
	defer cancel()
	for _, f := range feeds {
		runFeed(t, f)
	}
	// Let the first notified read (the one after LISTEN) pass, so that
	// what follows is announced by the move's own notification.
	time.Sleep(300 * time.Millisecond)
	for i, state := range []string{"Approved", "Active", "Verification"} {
		it := move(t, dbs[0], id, state)
		took := await(t, ch, id, it.Rev, time.Second)
		t.Logf("move %d announced on the other instance after %s", i+1, took)
	}
}

// fakeNotify hands the test the feed's callback.
type fakeNotify struct {
	mu sync.Mutex
	fn func()
	on chan struct{}
}

func (n *fakeNotify) notify(ctx context.Context, fn func()) error {
	n.mu.Lock()
	n.fn = fn
	n.mu.Unlock()
	close(n.on)
	<-ctx.Done()
	return ctx.Err()
}

func (n *fakeNotify) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fn()
}

// countCalls counts the reads that start within d.
func countCalls(src *fakeChanges, d time.Duration) int {
	n := 0
	deadline := time.After(d)
	for {
		select {
		case <-src.calls:
			n++
		case <-deadline:
			return n
		}
	}
}

func TestFeedReadsWhenNotified(t *testing.T) {
	src := newFakeChanges()
	f := ui.NewFeed(src, clock.Real{}, time.Hour, slog.New(slog.DiscardHandler))
	n := &fakeNotify{on: make(chan struct{})}
	f.Listen(n.notify, time.Hour)
	runFeed(t, f)
	<-n.on
	if got := countCalls(src, 300*time.Millisecond); got != 0 {
		t.Fatalf("reads before any notification = %d, want 0", got)
	}
	n.fire()
	if got := countCalls(src, 150*time.Millisecond); got != 1 {
		t.Fatalf("reads after one notification = %d, want 1", got)
	}
	// A stream of notifications is paced, at most one read per 200 ms
	// (the gap starts at the previous read, at most 150 ms ago).
	stop := time.After(time.Second)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				n.fire()
			}
		}
	}()
	if got := countCalls(src, time.Second); got < 3 || got > 6 {
		t.Errorf("reads during 1 s of notifications every 5 ms = %d, want 3 to 6", got)
	}
}

// Where the database cannot notify, the feed polls at its interval.
func TestFeedPollsWithoutNotifications(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		src := newFakeChanges()
		f := ui.NewFeed(src, clock.Real{}, 20*time.Millisecond, slog.New(slog.DiscardHandler))
		f.Listen(func(context.Context, func()) error { return store.ErrNoListen }, time.Hour)
		runFeed(t, f)
		if got := countCalls(src, 500*time.Millisecond); got < 5 {
			t.Errorf("reads in 500 ms at a 20 ms interval, notifications refused = %d, want at least 5", got)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		db := storetest.SQLite(t, clock.Real{})
		f := ui.NewFeed(db, clock.Real{}, 50*time.Millisecond, slog.New(slog.DiscardHandler))
		f.Listen(db.ListenChanges, time.Hour)
		ch, cancel := f.Subscribe()
		defer cancel()
		runFeed(t, f)
		id := ingestOne(t, db, "sqlite-1")
		it := move(t, db, id, "Approved")
		await(t, ch, id, it.Rev, time.Second)
	})
}
