package account

import (
	"sync"
	"time"
)

// Password guessing limits, per email.
const (
	maxFailures = 5 // failures within failWindow that lock an email
	failWindow  = 15 * time.Minute
	lockout     = 15 * time.Minute // how long a locked email is refused
	maxTracked  = 10000            // emails tracked before old entries are swept
)

// throttle counts failed sign-ins per lower-cased email, in memory: a
// restart forgets them, which costs an attacker a restart per five
// guesses. An attempt counts from the moment it starts, so that many
// guesses sent at once, all checking their password in parallel, cannot
// slip past the limit before the first of them has failed.
type throttle struct {
	mu sync.Mutex
	m  map[string]*attempts
}

type attempts struct {
	tries []time.Time // attempts within failWindow: failed or under way
	until time.Time   // locked until then
}

// begin reports whether an attempt for key may go ahead and, if so,
// counts it until succeed or cancel.
func (t *throttle) begin(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.m[key]
	if a == nil {
		if len(t.m) >= maxTracked {
			t.sweep(now)
		}
		a = &attempts{}
		t.m[key] = a
	}
	if now.Before(a.until) {
		return false
	}
	a.prune(now)
	if len(a.tries) >= maxFailures {
		return false
	}
	a.tries = append(a.tries, now)
	return true
}

// fail records that the attempt begun for key failed and reports whether
// that locked the email.
func (t *throttle) fail(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.m[key]
	if a == nil { // cleared by a concurrent success
		a = &attempts{tries: []time.Time{now}}
		t.m[key] = a
	}
	a.prune(now)
	if len(a.tries) >= maxFailures {
		a.until, a.tries = now.Add(lockout), nil
		return true
	}
	return false
}

// succeed forgets the failures of key.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// cancel uncounts an attempt that could not be decided (a database error).
func (t *throttle) cancel(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.m[key]; a != nil && len(a.tries) > 0 {
		a.tries = a.tries[:len(a.tries)-1]
	}
}

// sweep drops the entries that no longer limit anything.
func (t *throttle) sweep(now time.Time) {
	for k, a := range t.m {
		if a.prune(now); len(a.tries) == 0 && !now.Before(a.until) {
			delete(t.m, k)
		}
	}
}

func (a *attempts) prune(now time.Time) {
	i := 0
	for i < len(a.tries) && now.Sub(a.tries[i]) >= failWindow {
		i++
	}
	a.tries = a.tries[i:]
}
