package ui_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ui"
)

// fakeChanges is a change source with the store's semantics: the items
// updated at or after since, oldest change first, then by id.
type fakeChanges struct {
	mu    sync.Mutex
	items map[int64]store.ItemChange
	calls chan time.Time // the since of each query, as it starts
}

func newFakeChanges() *fakeChanges {
	return &fakeChanges{items: map[int64]store.ItemChange{}, calls: make(chan time.Time, 1000)}
}

// set records a change of an item, replacing its previous one.
func (s *fakeChanges) set(cs ...store.ItemChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		s.items[c.ID] = c
	}
}

func (s *fakeChanges) ChangedSince(ctx context.Context, since time.Time, limit int) ([]store.ItemChange, error) {
	s.calls <- since
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.ItemChange
	for _, c := range s.items {
		if !c.UpdatedAt.Before(since) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b store.ItemChange) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out[:min(limit, len(out))], nil
}

// revs lists a batch as "id@rev".
func revs(batch []store.ItemChange) []string {
	out := make([]string, len(batch))
	for i, c := range batch {
		out[i] = fmt.Sprintf("%d@%d", c.ID, c.Rev)
	}
	return out
}

func TestFeed(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeChanges()
	// Changed before the feed started: never announced.
	src.set(store.ItemChange{ID: 1, Rev: 3, State: "Active", UpdatedAt: t0.Add(-time.Minute)})
	f := ui.NewFeed(src, clk, time.Hour, slog.New(slog.DiscardHandler))
	ch, cancel := f.Subscribe()
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(ran)
	}()

	// poll makes the feed poll and waits until the poll has started; as
	// polls run one after the other, the previous one has then finished.
	poll := func(t *testing.T) time.Time {
		t.Helper()
		f.Poke()
		select {
		case since := <-src.calls:
			return since
		case <-time.After(5 * time.Second):
			t.Fatal("the feed did not poll after a poke")
		}
		return time.Time{}
	}
	// want checks what the feed announces of the changes made so far
	// (none for want == nil). A poll that had started before the changes
	// were made may or may not see them; the first poll started here sees
	// them, and it has finished when the second starts.
	want := func(t *testing.T, want ...string) {
		t.Helper()
		poll(t)
		poll(t)
		var got []string
		for done := false; !done; {
			select {
			case b := <-ch:
				got = append(got, revs(b)...)
			default:
				done = true
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("got announced %v, want %v", got, want)
		}
	}

	if since := poll(t); !since.Equal(t0.Add(-10 * time.Second)) {
		t.Errorf("first poll read from %v, want the start minus the overlap (%v)", since, t0.Add(-10*time.Second))
	}
	want(t) // item 1 changed before the start

	steps := []struct {
		name    string
		advance time.Duration
		changes []store.ItemChange
		want    []string
	}{
		{"a change after the start", time.Second, []store.ItemChange{{ID: 2, Rev: 1, State: "New", UpdatedAt: t0.Add(time.Second)}}, []string{"2@1"}},
		{"re-read within the overlap", time.Second, nil, nil},
		{"a late commit stamped earlier", 0, []store.ItemChange{{ID: 3, Rev: 2, State: "Approved", UpdatedAt: t0.Add(500 * time.Millisecond)}}, []string{"3@2"}},
		{"a new rev", time.Second, []store.ItemChange{{ID: 2, Rev: 2, State: "Approved", UpdatedAt: t0.Add(2 * time.Second)}}, []string{"2@2"}},
		{"several at once, oldest first", time.Second, []store.ItemChange{
			{ID: 5, Rev: 1, State: "New", UpdatedAt: t0.Add(3 * time.Second)},
			{ID: 4, Rev: 1, State: "New", UpdatedAt: t0.Add(3 * time.Second)},
			{ID: 1, Rev: 4, State: "Verification", UpdatedAt: t0.Add(2500 * time.Millisecond)},
		}, []string{"1@4", "4@1", "5@1"}},
		{"nothing new, still within the overlap", 5 * time.Second, nil, nil},
		{"nothing new, after the overlap", time.Minute, nil, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Advance(s.advance)
			src.set(s.changes...)
			want(t, s.want...)
		})
	}

	t.Run("Close ends the feed", func(t *testing.T) {
		f.Close()
		select {
		case <-f.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after Close")
		}
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after Close")
		}
		f.Close() // a second Close is harmless
	})
}

func TestFeedEndsWithContext(t *testing.T) {
	f := ui.NewFeed(newFakeChanges(), clock.NewFake(t0), time.Hour, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(ran)
	}()
	cancel()
	for _, ch := range []<-chan struct{}{ran, f.Done()} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("the feed did not stop when its context ended")
		}
	}
}

// TestFeedBurst: more changes within the overlap window than one query
// reads must not stall the feed.
func TestFeedBurst(t *testing.T) {
	tests := []struct {
		name   string
		spread time.Duration // between consecutive changes
	}{
		{"one instant", 0},
		{"spread over a second", time.Second / 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			src := newFakeChanges()
			const n = 5000
			for i := range n {
				src.set(store.ItemChange{ID: int64(i + 1), Rev: 1, State: "New", UpdatedAt: t0.Add(time.Duration(i) * tt.spread)})
			}
			f := ui.NewFeed(src, clk, time.Hour, slog.New(slog.DiscardHandler))
			ch, cancel := f.Subscribe()
			defer cancel()
			seen := map[int64]int{}
			poll := func() {
				if err := f.Poll(context.Background()); err != nil {
					t.Fatal(err)
				}
				for done := false; !done; {
					select {
					case b := <-ch:
						for _, c := range b {
							seen[c.ID]++
						}
					default:
						done = true
					}
				}
			}
			for range 3 {
				poll()
			}
			clk.Advance(time.Second)
			src.set(store.ItemChange{ID: n + 1, Rev: 1, State: "New", UpdatedAt: t0.Add(time.Second)})
			poll()
			poll()
			if len(seen) != n+1 {
				t.Errorf("got %d items announced, want %d", len(seen), n+1)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("got item %d announced %d times, want once", id, k)
				}
			}
			if seen[n+1] != 1 {
				t.Error("the change after the burst was not announced: the feed stalled")
			}
		})
	}
}

// TestEvents reads the live-update stream as a browser's EventSource does.
func TestEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.ingest(t, spec{title: "watched"})[0]
	feed := e.ui.Feed()
	// Without Run, the first poll reads every item; no one listens yet.
	if err := feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("signed out", func(t *testing.T) {
		e.newClient().get(t, "/events").wantCode(t, http.StatusSeeOther).wantLocation(t, "/login?next=%2Fevents")
	})

	c := e.as(t, viewer)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", e.srv.URL+"/events", nil)
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %d %q, want 200 text/event-stream", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", got)
	}
	br := bufio.NewReader(res.Body)
	// readUntil reads lines until one starts with prefix and returns it.
	readUntil := func(t *testing.T, prefix string) string {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended before %q: %v", prefix, err)
			}
			if line = strings.TrimRight(line, "\n"); strings.HasPrefix(line, prefix) {
				return line
			}
		}
	}
	readUntil(t, "retry: ")
	readUntil(t, ": connected") // subscribed

	t.Run("a move is announced", func(t *testing.T) {
		if _, err := e.items.Transition(ctx, e.actor(responder), id, "Approved", "", 0); err != nil {
			t.Fatal(err)
		}
		if err := feed.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if line := readUntil(t, "event: "); line != "event: item" {
			t.Errorf("got %q, want event: item", line)
		}
		var got struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
			Rev   int    `json:"rev"`
		}
		data := readUntil(t, "data: ")
		if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &got); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if got.ID != id || got.State != "Approved" || got.Rev != 2 {
			t.Errorf("got %+v, want item %d Approved at rev 2", got, id)
		}
	})
	t.Run("a comment is announced", func(t *testing.T) {
		e.clk.Advance(time.Second)
		if _, err := e.items.Comment(ctx, auth.System, id, "noted"); err != nil {
			t.Fatal(err)
		}
		if err := feed.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		data := readUntil(t, "data: ")
		if !strings.Contains(data, fmt.Sprintf(`"id":%d`, id)) {
			t.Errorf("got %q, want item %d", data, id)
		}
	})
	t.Run("closing the UI ends the stream", func(t *testing.T) {
		e.ui.Close()
		for {
			if _, err := br.ReadString('\n'); err != nil {
				if rctx.Err() != nil {
					t.Fatal("the stream did not end on Close")
				}
				return
			}
		}
	})
}

// TestEventsOutliveServerTimeouts holds a stream open past the server's
// read and write timeouts (vigil's are 60 s; here 300 ms): a live page
// must not be cut off, or miss changes while it reconnects.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.ingest(t, spec{title: "watched"})[0]
	if err := e.ui.Feed().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	defer srv.Close()

	c := e.as(t, viewer)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", srv.URL+"/events", nil)

	req.AddCookie(&http.Cookie{Name: "vigil_session", Value: c.cookie})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want 200", res.StatusCode)
	}
	lines := make(chan string, 16)
	go func() {
		br := bufio.NewReader(res.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- strings.TrimRight(line, "\n")
		}
	}()
	time.Sleep(time.Second) // past both timeouts
	e.clk.Advance(time.Second)
	if _, err := e.items.Transition(ctx, e.actor(responder), id, "Approved", "", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.ui.Feed().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, fmt.Sprintf(`"id":%d`, id)) {
			return
		}
	}
	t.Fatal("the stream ended before the change arrived")
}
