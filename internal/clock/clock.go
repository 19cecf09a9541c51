// Package clock provides an injectable source of time so that tests can
// fast-forward schedules, escalations and retries instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Timer is a clock that can also wait. Real and Fake both are; a Clock
// that is not waits on the wall clock (see After).
type Timer interface {
	After(d time.Duration) <-chan time.Time
}

// After waits d on c: on c's own timers when c is a Timer (a Fake fires
// them when advanced), else on the wall clock.
func After(c Clock, d time.Duration) <-chan time.Time {
	if t, ok := c.(Timer); ok {
		return t.After(d)
	}
	return time.After(d)
}

// Stoppable is a Timer whose waits can be given up, so that a fake
// clock does not count them as waiting any more.
type Stoppable interface {
	NewTimer(d time.Duration) (c <-chan time.Time, stop func())
}

// NewTimer waits d on c like After, and returns a function that gives
// the wait up.
func NewTimer(c Clock, d time.Duration) (<-chan time.Time, func()) {
	if s, ok := c.(Stoppable); ok {
		return s.NewTimer(d)
	}
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// NewTimer is time.NewTimer.
func (Real) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// NewTimer is After with a stop function that removes the wait.
func (f *Fake) NewTimer(d time.Duration) (<-chan time.Time, func()) {
	ch := f.After(d)
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, w := range f.waiters {
			if w.ch == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				return
			}
		}
	}
}

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a manually advanced clock for tests.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// After returns a channel that receives the fake time once the clock has
// been advanced by d or more.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Waiters reports how many After channels have not fired yet: a test can
// wait for a goroutine to be asleep on the clock before advancing it.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// fire sends to the waiters that are due. f.mu is held.
func (f *Fake) fire() {
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- f.now
	}
	f.waiters = kept
}

// NewFake returns a fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.fire()
	f.mu.Unlock()
}

// Set moves the fake clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.fire()
	f.mu.Unlock()
}
