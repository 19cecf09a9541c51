package ingest

import (
	"context"
	"errors"
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
