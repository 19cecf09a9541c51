package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
)

// changeSource is where the feed reads changes.
type changeSource interface {
	ChangedSince(ctx context.Context, since time.Time, limit int) ([]store.ItemChange, error)
}

// Feed turns work-item changes into live updates for open pages. It polls
// the store rather than listening to in-process events, so a change made
// by any path (a user, ingest, a sync follow-up) and by any instance
// sharing the database reaches every open board.
type Feed struct {
	src      changeSource
	clock    clock.Clock
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	subs   map[chan []store.ItemChange]struct{}
	pollMu sync.Mutex // one poll at a time (Run's, or a caller's)
	closed chan struct{}
	once   sync.Once
	poke   chan struct{}

	// since is the newest update time seen; seen holds the rev last
	// announced per item for changes inside the overlap window, which
	// re-reads recent rows in case a transaction that stamped an earlier
	// time committed late.
	since time.Time
	seen  map[int64]seenRev
}

type seenRev struct {
	rev int
	at  time.Time
}

// overlap is how far back each poll re-reads.
const overlap = 10 * time.Second

// NewFeed returns a feed polling src every interval.
func NewFeed(src changeSource, clk clock.Clock, interval time.Duration, log *slog.Logger) *Feed {
	return &Feed{src: src, clock: clk, interval: interval, log: log,
		subs: map[chan []store.ItemChange]struct{}{}, closed: make(chan struct{}), poke: make(chan struct{}, 1),
		seen: map[int64]seenRev{}}
}

// Run polls until ctx is done or Close is called.
func (f *Feed) Run(ctx context.Context) {
	f.since = f.clock.Now()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.Close()
			return
		case <-f.closed:
			return
		case <-t.C:
		case <-f.poke:
		}
		if err := f.Poll(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("live updates: poll failed", "err", err)
		}
	}
}

// Poke makes the feed poll now, after a change made through this instance.
func (f *Feed) Poke() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

// pollPage is how many changes one query of a poll reads.
const pollPage = 2000

// Poll reads the changes since the last poll and sends the new ones to
// every subscriber.
func (f *Feed) Poll(ctx context.Context) error {
	f.pollMu.Lock()
	defer f.pollMu.Unlock()
	var fresh []store.ItemChange
	from, limit := f.since.Add(-overlap), pollPage
	var err error
	for {
		var changes []store.ItemChange
		if changes, err = f.src.ChangedSince(ctx, from, limit); err != nil {
			break
		}
		for _, c := range changes {
			if s, ok := f.seen[c.ID]; ok && s.rev == c.Rev && s.at.Equal(c.UpdatedAt) {
				continue
			}
			f.seen[c.ID] = seenRev{c.Rev, c.UpdatedAt}
			fresh = append(fresh, c)
			if c.UpdatedAt.After(f.since) {
				f.since = c.UpdatedAt
			}
		}
		if len(changes) < limit {
			break
		}
		// A full page. Reading from the start of the window again would
		// return the same page (announced already) for as long as the
		// burst stays in the window, and nothing after it: read on from
		// the page's last change. The next page re-reads the changes
		// stamped with that same time; when the whole page has one time,
		// only a larger page gets past it.
		if last := changes[len(changes)-1].UpdatedAt; last.After(from) {
			from = last
		} else {
			limit *= 2
		}
	}
	horizon := f.since.Add(-2 * overlap)
	for id, s := range f.seen {
		if s.at.Before(horizon) {
			delete(f.seen, id)
		}
	}
	if len(fresh) == 0 {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- fresh:
		default:
			// A slow client misses a batch rather than stalling the feed;
			// its page catches up on the next change or reload.
		}
	}
	return err
}

// Subscribe returns a channel of change batches and a cancel func.
func (f *Feed) Subscribe() (<-chan []store.ItemChange, func()) {
	ch := make(chan []store.ItemChange, 16)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

// Done is closed when the feed stops.
func (f *Feed) Done() <-chan struct{} { return f.closed }

// Close stops the feed and ends every stream.
func (f *Feed) Close() { f.once.Do(func() { close(f.closed) }) }

// reloadAbove is the batch size above which a page is told to reload its
// board instead of fetching each changed card.
const reloadAbove = 50

// heartbeat keeps proxies from closing an idle stream.
const heartbeat = 25 * time.Second

// events streams changes to the page as server-sent events: one "item"
// event per changed item, with its id, state and rev.
func (u *UI) events(w http.ResponseWriter, r *http.Request, v *view) {
	rc := http.NewResponseController(w)
	// The server's timeouts are for ordinary requests; a stream lives as
	// long as the page. Without lifting the write deadline, the stream is
	// cut when it passes (TestEventsOutliveServerTimeouts); the read
	// deadline is lifted too, as the request outlives it.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		u.log.Debug("live updates: cannot lift the write deadline", "err", err)
	}
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		u.log.Debug("live updates: cannot lift the read deadline", "err", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ch, cancel := u.feed.Subscribe()
	defer cancel()
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-u.feed.Done():
			return
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case batch := <-ch:
			if len(batch) > reloadAbove {
				// A burst (an import, a bulk triage) is cheaper to show
				// by reloading the board once than card by card.
				fmt.Fprintf(w, "event: reload\ndata: {\"changes\":%d}\n\n", len(batch))
				break
			}
			for _, c := range batch {
				b, _ := json.Marshal(map[string]any{"id": c.ID, "state": c.State, "rev": c.Rev})
				fmt.Fprintf(w, "event: item\ndata: %s\n\n", b)
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
