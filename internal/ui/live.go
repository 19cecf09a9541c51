package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
)

// changeSource is where the feed reads changes.
type changeSource interface {
	ChangedSince(ctx context.Context, since time.Time, limit int) ([]store.ItemChange, error)
}

// Notify tells the feed when work items may have changed, through any
// instance: it calls fn for each such change (and whenever changes may
// have been missed) until ctx is done. It returns at once with an error
// when the database cannot notify (SQLite), and the feed then polls.
type Notify func(ctx context.Context, fn func()) error

// Feed turns work-item changes into live updates for open pages. It reads
// the store rather than listening to in-process events, so a change made
// by any path (a user, ingest, a sync follow-up) and by any instance
// sharing the database reaches every open board. It reads every interval
// or, given a Notify (PostgreSQL's LISTEN), when notified, with a slow
// safety poll in case a notification was lost.
type Feed struct {
	src      changeSource
	clock    clock.Clock
	interval time.Duration
	log      *slog.Logger

	notify Notify
	safety time.Duration // the poll's period while notify works
	wake   chan struct{} // notify has announced a change

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
		wake: make(chan struct{}, 1), seen: map[int64]seenRev{}}
}

// Listen makes Run read when notify announces a change, and otherwise
// only every safety interval instead of every interval; when notify
// fails (SQLite has no notifications), Run goes back to the interval.
// Call it before Run.
func (f *Feed) Listen(notify Notify, safety time.Duration) {
	f.notify, f.safety = notify, safety
}

// Run polls until ctx is done or Close is called.
func (f *Feed) Run(ctx context.Context) {
	f.since = f.clock.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listener when Close ends the feed
	period, lost := f.interval, f.listen(ctx)
	if lost != nil {
		period = f.safety
	}
	t := time.NewTicker(period)
	defer t.Stop()
	var last time.Time // when the last poll started
	var took time.Duration
	for {
		select {
		case <-ctx.Done():
			f.Close()
			return
		case <-f.closed:
			return
		case err := <-lost:
			lost = nil
			f.listenLost(ctx, err)
			t.Reset(f.interval)
			continue
		case <-t.C:
		case <-f.poke:
		case <-f.wake:
			if !f.pace(ctx, last, took) {
				continue
			}
		}
		last = time.Now()
		if err := f.Poll(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("live updates: poll failed", "err", err)
		}
		took = time.Since(last)
	}
}

// listen starts the notify listener, if any; the channel yields its error
// when it stops.
func (f *Feed) listen(ctx context.Context) <-chan error {
	if f.notify == nil {
		return nil
	}
	lost := make(chan error, 1)
	go func() { lost <- f.notify(ctx, f.notified) }()
	return lost
}

// listenLost logs why the listener stopped, unless the feed is stopping.
func (f *Feed) listenLost(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, store.ErrNoListen):
		f.log.Debug("live updates: no notifications; polling", "every", f.interval)
	default:
		f.log.Warn("live updates: notifications stopped; polling", "every", f.interval, "err", err)
	}
}

// notified is the listener's callback.
func (f *Feed) notified() {
	select {
	case f.wake <- struct{}{}:
	default: // a read is due already, and will see this change too
	}
}

// Pacing of notified polls. Under a stream of changes (ingest on every
// instance) each instance is notified many times a second; reading after
// every notification would keep the feed querying without a pause. So a
// notified poll waits until notifyGapFactor times the last poll's
// duration has passed since it started, at least notifyGapMin and at
// most the interval: the feed stays under 1/notifyGapFactor of a
// connection, never reads more often than 1/notifyGapMin, and never
// lags more than the plain poll would.
const (
	notifyGapMin    = 200 * time.Millisecond
	notifyGapFactor = 4
)

// pace waits until a notified poll may run; false when the feed stops.
func (f *Feed) pace(ctx context.Context, last time.Time, took time.Duration) bool {
	gap := min(max(notifyGapFactor*took, notifyGapMin), f.interval)
	wait := time.Until(last.Add(gap))
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-f.closed:
		return false
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
	release, ok := u.streams.acquire(streamSession(r), streamUser(v))
	if !ok {
		// EventSource gives up on an error answer; app.js opens a new
		// one after Retry-After, by when a closed tab may have freed a
		// slot.
		u.log.Debug("live updates: too many streams", "user", v.Actor.Name)
		w.Header().Set("Retry-After", strconv.Itoa(streamRetryAfter))
		http.Error(w, "too many live-update streams open; close some tabs", http.StatusTooManyRequests)
		return
	}
	defer release()
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

// Default caps on open live-update streams. A page holds one; eight
// covers a user's tabs on one browser, 32 a user on a few devices. Each
// stream holds a connection and a feed subscription, so without a cap
// one session could open thousands.
const (
	defaultStreamsPerSession = 8
	defaultStreamsPerUser    = 32
)

// streamRetryAfter is the Retry-After, in seconds, of a refused stream.
const streamRetryAfter = 30

// streamLimiter counts the open live-update streams per session and per
// user, and refuses one beyond either cap.
type streamLimiter struct {
	perSession, perUser int

	mu       sync.Mutex
	sessions map[string]int
	users    map[string]int
}

func newStreamLimiter(perSession, perUser int) *streamLimiter {
	return &streamLimiter{perSession: perSession, perUser: perUser, sessions: map[string]int{}, users: map[string]int{}}
}

// acquire takes a slot for a stream of session and user; release gives
// it back, once, when the stream ends. ok is false, and release nil,
// when either cap is reached.
func (l *streamLimiter) acquire(session, user string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions[session] >= l.perSession || l.users[user] >= l.perUser {
		return nil, false
	}
	l.sessions[session]++
	l.users[user]++
	var once sync.Once
	return func() { once.Do(func() { l.release(session, user) }) }, true
}

func (l *streamLimiter) release(session, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Drop zero counts, so that the maps hold only open streams.
	if l.sessions[session]--; l.sessions[session] <= 0 {
		delete(l.sessions, session)
	}
	if l.users[user]--; l.users[user] <= 0 {
		delete(l.users, user)
	}
}

// streamSession identifies the request's session by a hash of its
// cookie (signedIn has checked it), so that the limiter holds no token.
func streamSession(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	h := sha256.Sum256([]byte(c.Value))
	return hex.EncodeToString(h[:16])
}

// streamUser identifies the signed-in user across sessions.
func streamUser(v *view) string {
	return v.Actor.Kind + ":" + strconv.FormatInt(v.Actor.ID, 10)
}
