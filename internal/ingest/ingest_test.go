package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// fakeStore records each transaction and fails any that holds a "poison"
// alert, as a constraint violation would.
type fakeStore struct {
	mu    sync.Mutex
	txs   [][]string // source ids per transaction
	gate  chan struct{}
	calls int
}

func (f *fakeStore) IngestPrepared(ctx context.Context, _ *workitem.Process, actor string, as []store.Prepared) ([]store.IngestResult, error) {
	f.mu.Lock()
	f.calls++
	first := f.calls == 1
	f.mu.Unlock()
	if first && f.gate != nil {
		<-f.gate // hold the first transaction so that others queue up behind it
	}
	ids := make([]string, len(as))
	res := make([]store.IngestResult, len(as))
	for i, a := range as {
		if a.SourceID == "poison" {
			return nil, errors.New("constraint failed")
		}
		ids[i] = a.SourceID
		res[i] = store.IngestResult{AlertID: int64(i + 1), Outcome: store.OutcomeCreated}
	}
	f.mu.Lock()
	f.txs = append(f.txs, ids)
	f.mu.Unlock()
	return res, nil
}

func mkAlerts(ids ...string) []alert.Alert {
	out := make([]alert.Alert, len(ids))
	for i, id := range ids {
		out[i] = alert.Alert{Source: "test", SourceID: id, Title: "t", Severity: alert.SeverityLow, Status: alert.StatusNew}
	}
	return out
}

func TestGroupCommitAndIsolation(t *testing.T) {
	fs := &fakeStore{gate: make(chan struct{})}
	p := New(fs, workitem.DefaultProcess(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	// The first request holds the writer; the next three queue and must
	// then share one transaction, except the poisoned one, which fails alone.
	type answer struct {
		id  string
		n   int
		err error
	}
	answers := make(chan answer, 4)
	send := func(id string) {
		res, err := p.Submit(context.Background(), "tester", mkAlerts(id))
		answers <- answer{id, len(res), err}
	}
	go send("first")
	time.Sleep(50 * time.Millisecond)
	for _, id := range []string{"a", "poison", "b"} {
		go send(id)
	}
	time.Sleep(100 * time.Millisecond)
	close(fs.gate)

	got := map[string]answer{}
	for range 4 {
		a := <-answers
		got[a.id] = a
	}
	for _, id := range []string{"first", "a", "b"} {
		if got[id].err != nil || got[id].n != 1 {
			t.Errorf("request %s: %d results, err %v; want 1 result", id, got[id].n, got[id].err)
		}
	}
	if got["poison"].err == nil {
		t.Errorf("poisoned request succeeded")
	}
	fs.mu.Lock()
	// first alone; then the group of three failed; then a, poison, b one by one.
	if len(fs.txs) != 3 || len(fs.txs[0]) != 1 {
		t.Errorf("committed transactions = %v, want [first] then a and b separately after the failed group", fs.txs)
	}
	if fs.calls != 5 {
		t.Errorf("store calls = %d, want 5 (first, the group of 3, then 3 retries)", fs.calls)
	}
	fs.mu.Unlock()

	cancel()
	<-done
	if _, err := p.Submit(context.Background(), "tester", mkAlerts("late")); !errors.Is(err, ErrStopped) {
		t.Errorf("submit after stop = %v, want ErrStopped", err)
	}
}

func TestGroupCommitBatches(t *testing.T) {
	fs := &fakeStore{gate: make(chan struct{})}
	p := New(fs, workitem.DefaultProcess(), Options{MaxBatch: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	var wg sync.WaitGroup
	wg.Go(func() { p.Submit(context.Background(), "x", mkAlerts("gate")) })
	time.Sleep(50 * time.Millisecond)
	for i := range 20 {
		wg.Go(func() {
			if _, err := p.Submit(context.Background(), "x", mkAlerts(string(rune('a'+i)))); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(fs.gate)
	wg.Wait()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.txs) != 2 || len(fs.txs[1]) != 20 {
		t.Errorf("transactions = %d (sizes %v), want the 20 queued requests in one", len(fs.txs), sizes(fs.txs))
	}
}

func TestStagesRun(t *testing.T) {
	fs := &fakeStore{}
	drop := StageFunc(func(_ context.Context, as []alert.Alert) ([]alert.Alert, error) {
		var out []alert.Alert
		for _, a := range as {
			if a.SourceID != "drop" {
				out = append(out, a)
			}
		}
		return out, nil
	})
	p := New(fs, workitem.DefaultProcess(), Options{}, drop)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	res, err := p.Submit(context.Background(), "x", mkAlerts("keep", "drop"))
	if err != nil || len(res) != 1 {
		t.Fatalf("Submit = %d results, %v; want 1", len(res), err)
	}
	if res, err := p.Submit(context.Background(), "x", mkAlerts("drop")); err != nil || len(res) != 0 {
		t.Errorf("all dropped: %d results, %v; want 0, nil", len(res), err)
	}
}

func sizes(txs [][]string) []int {
	out := make([]int, len(txs))
	for i, t := range txs {
		out[i] = len(t)
	}
	return out
}

// event is one thing the reaction tests saw happen, in order.
type event struct {
	what   string // "commit" or "react"
	itemID int64
	source string
	cause  string
}

// eventLog is shared by a fake store and a fake reactor, so that a test
// sees whether a reaction came after the commit.
type eventLog struct {
	mu     sync.Mutex
	events []event
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) take() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// reactor records what it hears.
type reactor struct{ log *eventLog }

func (r reactor) SourceResolved(_ context.Context, itemID int64, source, cause string) {
	r.log.add(event{what: "react", itemID: itemID, source: source, cause: cause})
}

// resolvingStore answers each alert by its source id from results, and
// fails a batch holding "poison"; its ChangeAlertStatus answers change.
type resolvingStore struct {
	log     *eventLog
	results map[string]store.IngestResult
	change  store.StatusChange
	err     error
}

func (s *resolvingStore) IngestPrepared(_ context.Context, _ *workitem.Process, _ string, as []store.Prepared) ([]store.IngestResult, error) {
	res := make([]store.IngestResult, len(as))
	for i, a := range as {
		if a.SourceID == "poison" {
			return nil, errors.New("constraint failed")
		}
		res[i] = s.results[a.SourceID]
	}
	s.log.add(event{what: "commit"})
	return res, nil
}

func (s *resolvingStore) ChangeAlertStatus(_ context.Context, _, _ string, _ alert.Status, _, _ string) (store.StatusChange, error) {
	if s.err != nil {
		return store.StatusChange{}, s.err
	}
	s.log.add(event{what: "commit"})
	return s.change, nil
}

func runPipeline(t *testing.T, st Store, r Reactor) *Pipeline {
	t.Helper()
	p := New(st, workitem.DefaultProcess(), Options{})
	if r != nil {
		p.React(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// TestReactSourceResolved checks that the reactor hears, after the
// commit, of each item a batch left resolved at its source: once per
// item, however many of its alerts the batch carried, and never for a
// failed batch, an item not resolved or an alert without an item.
func TestReactSourceResolved(t *testing.T) {
	resolved := func(alertID, itemID int64) store.IngestResult {
		return store.IngestResult{AlertID: alertID, WorkItemID: itemID, Outcome: store.OutcomeUpdated, SourceResolved: true}
	}
	log := &eventLog{}
	st := &resolvingStore{log: log, results: map[string]store.IngestResult{
		"a1":   resolved(1, 7),
		"a2":   resolved(2, 7), // the same item: told once
		"open": {AlertID: 3, WorkItemID: 8, Outcome: store.OutcomeUpdated},
		"held": {AlertID: 4, Outcome: store.OutcomeHeld, SourceResolved: true}, // no item to tell of
		"b1":   resolved(5, 9),
	}}
	p := runPipeline(t, st, reactor{log})
	cause := func(id int64, status alert.Status) string {
		return fmt.Sprintf("test alert %d %s at the source", id, status)
	}

	tests := []struct {
		name    string
		alerts  []alert.Alert
		wantErr bool
		want    []event
	}{
		{
			name:   "two items resolved, one of them twice",
			alerts: withStatuses(mkAlerts("a1", "open", "a2", "held", "b1"), alert.StatusResolved, alert.StatusNew, alert.StatusDismissed, alert.StatusResolved, alert.StatusResolved),
			want: []event{{what: "commit"}, {what: "react", itemID: 7, source: "test", cause: cause(1, alert.StatusResolved)},
				{what: "react", itemID: 9, source: "test", cause: cause(5, alert.StatusResolved)}},
		},
		{
			name:   "nothing resolved",
			alerts: mkAlerts("open"),
			want:   []event{{what: "commit"}},
		},
		{
			name:    "failed batch",
			alerts:  mkAlerts("a1", "poison"),
			wantErr: true,
		},
	}
	for _, tt := range tests {
		_, err := p.Submit(context.Background(), "tester", tt.alerts)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: Submit error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if got := log.take(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: events %+v, want %+v", tt.name, got, tt.want)
		}
	}

	// Without a reactor the pipeline stores as before.
	p2 := runPipeline(t, &resolvingStore{log: &eventLog{}, results: st.results}, nil)
	if res, err := p2.Submit(context.Background(), "tester", mkAlerts("a1")); err != nil || len(res) != 1 || !res[0].SourceResolved {
		t.Errorf("Submit without reactor = %+v, %v; want the store's result", res, err)
	}
}

func withStatuses(as []alert.Alert, sts ...alert.Status) []alert.Alert {
	for i := range as {
		as[i].Status = sts[i]
	}
	return as
}

// TestSetStatusReacts checks that a sender's status event reaches the
// reactor, after the commit, exactly when it left the item resolved at
// its source.
func TestSetStatusReacts(t *testing.T) {
	tests := []struct {
		name      string
		change    store.StatusChange
		err       error
		wantFound bool
		wantErr   bool
		want      []event
	}{
		{
			name:      "resolved the item",
			change:    store.StatusChange{Found: true, AlertID: 3, WorkItemID: 11, SourceResolved: true},
			wantFound: true,
			want: []event{{what: "commit"},
				{what: "react", itemID: 11, source: "pagerduty", cause: "pagerduty alert 3 resolved at the source (resolve event)"}},
		},
		{
			name:      "item still has an open alert",
			change:    store.StatusChange{Found: true, AlertID: 3, WorkItemID: 11},
			wantFound: true,
			want:      []event{{what: "commit"}},
		},
		{
			name:   "unknown alert",
			change: store.StatusChange{},
			want:   []event{{what: "commit"}},
		},
		{
			name:    "store error",
			err:     errors.New("database is locked"),
			wantErr: true,
		},
	}
	for _, tt := range tests {
		log := &eventLog{}
		p := runPipeline(t, &resolvingStore{log: log, change: tt.change, err: tt.err}, reactor{log})
		found, err := p.SetStatus(context.Background(), "pagerduty", "dedup-1", alert.StatusResolved, "token:pd", "resolve event")
		if found != tt.wantFound || (err != nil) != tt.wantErr {
			t.Errorf("%s: SetStatus = %v, %v; want %v, error %v", tt.name, found, err, tt.wantFound, tt.wantErr)
		}
		if got := log.take(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: events %+v, want %+v", tt.name, got, tt.want)
		}
	}

	// A store that cannot change statuses is an error, not a silent no.
	p := runPipeline(t, &fakeStore{}, reactor{&eventLog{}})
	if found, err := p.SetStatus(context.Background(), "pagerduty", "dedup-1", alert.StatusResolved, "x", "y"); err == nil || found {
		t.Errorf("SetStatus on a store without statuses = %v, %v; want an error", found, err)
	}
}
