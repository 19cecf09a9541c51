package account

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// ErrBusy refuses a sign-in, without checking its password, because as
// many passwords as the server allows are being checked already and the
// queue for the next is full or did not move in time. The error returned
// is a *RetryError that says when to try again.
var ErrBusy = errors.New("the server is busy checking other sign-ins; try again in a few seconds")

// RetryError is a refusal that a client may retry after a while. It
// wraps ErrBusy or ErrThrottled, and reads as the error it wraps.
type RetryError struct {
	Err   error
	After time.Duration // how long to wait before trying again
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfter returns how long a client should wait after err, if err is
// a refusal to be retried.
func RetryAfter(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) {
		return re.After, true
	}
	return 0, false
}

// Defaults of the hash gate.
const (
	defaultHashQueue = 4
	defaultHashWait  = 2 * time.Second
)

// gate bounds the password checks under way across the process. Each
// argon2id hash holds 19 MiB for tens of milliseconds and a core while
// it runs; without a bound, a few hundred sign-in attempts at once, with
// any emails, took the server to gigabytes. More hashes at once than cores
// would not finish any sooner, so the default is one slot per core, and a
// short queue in front: a burst of real sign-ins waits a moment, a flood
// is refused at once (ErrBusy) without costing a hash.
type gate struct {
	slots chan struct{} // a token per hash under way
	queue chan struct{} // a token per attempt waiting for a slot
	wait  time.Duration // how long an attempt waits for a slot at most

	mu      sync.Mutex
	logged  time.Time // when a refusal was last logged
	refused int       // refusals since then
}

func newGate(slots, queue int, wait time.Duration) *gate {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	slots = max(slots, 1)
	switch {
	case queue == 0:
		queue = defaultHashQueue
	case queue < 0:
		queue = 0
	}
	if wait <= 0 {
		wait = defaultHashWait
	}
	return &gate{slots: make(chan struct{}, slots), queue: make(chan struct{}, queue), wait: wait}
}

// do runs fn in a slot, or returns a *RetryError wrapping ErrBusy without
// running it when the queue is full or no slot came free in time.
func (g *gate) do(ctx context.Context, fn func() error) error {
	if err := g.enter(ctx); err != nil {
		return err
	}
	defer func() { <-g.slots }()
	return fn()
}

func (g *gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case g.queue <- struct{}{}:
	default:
		return g.busy()
	}
	defer func() { <-g.queue }()
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return g.busy()
	case <-ctx.Done():
		return fmt.Errorf("sign in: waiting for a password check: %w", context.Cause(ctx))
	}
}

func (g *gate) busy() error {
	g.mu.Lock()
	g.refused++
	g.mu.Unlock()
	// By the time a slot would have come free, a retry has a chance.
	return &RetryError{Err: ErrBusy, After: g.wait}
}

// refusals returns how many attempts were refused since the last call
// that returned a positive count, if a log line is due at now: one per
// every so often, so that a flood does not flood the log as well.
func (g *gate) refusals(now time.Time, every time.Duration) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused == 0 || (!g.logged.IsZero() && now.Sub(g.logged) < every) {
		return 0
	}
	n := g.refused
	g.logged, g.refused = now, 0
	return n
}
