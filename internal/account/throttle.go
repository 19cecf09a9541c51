package account

import (
	"net/netip"
	"sync"
	"time"
)

// limit is one kind of sign-in limit. An attempt counts from the moment
// it starts, so that many guesses sent at once, all checking their
// password in parallel, cannot slip past the limit before the first of
// them has failed.
type limit struct {
	failures int           // attempts (failed or under way) within window that refuse the next
	window   time.Duration // how long a failure counts
	lockout  time.Duration // once failures is reached, refuse for this long; 0: until the window lets go
	inFlight int           // attempts under way at once; 0: no cap
	// clearOnSuccess forgets every failure of the key at a success: right
	// for an email (its owner knows the password), wrong for an address
	// that many people, or a guesser and its victim, may share.
	clearOnSuccess bool
}

// Password guessing limits.
var (
	// emailLimit: five failures in 15 minutes lock an email for 15 minutes.
	emailLimit = limit{failures: 5, window: 15 * time.Minute, lockout: 15 * time.Minute, clearOnSuccess: true}
	// addrLimit: 20 failures in 15 minutes from one client address refuse
	// it until the oldest is 15 minutes old, and one address may have 4
	// attempts under way at once. A single address thus gets neither many
	// guesses nor more than a few hashes, whatever emails it sends.
	addrLimit = limit{failures: 20, window: 15 * time.Minute, inFlight: 4}
	// deviceLimit: a browser with a valid device cookie gets 10 failures
	// in 15 minutes, then its cookie is locked out for 15 minutes; the
	// email is not, so its owner on other trusted devices is not either.
	// A cookie has 2 attempts under way at once.
	deviceLimit = limit{failures: 10, window: 15 * time.Minute, lockout: 15 * time.Minute, inFlight: 2, clearOnSuccess: true}
)

// maxTracked bounds each throttle's map: at that many keys, the entries
// that no longer limit anything are swept, and if that is not enough
// (a flood of distinct emails or addresses), some are forgotten.
const maxTracked = 10000

// busyRetry is the Retry-After of a refusal for attempts under way.
const busyRetry = time.Second

// throttle counts sign-in attempts per key (a lower-cased email, or a
// client address) in memory: a restart forgets them, which costs an
// attacker a restart per few guesses.
type throttle struct {
	lim limit
	max int // keys tracked before sweeping; maxTracked unless a test says otherwise

	mu sync.Mutex
	m  map[string]*attempts
}

func newThrottle(lim limit) *throttle {
	return &throttle{lim: lim, max: maxTracked, m: map[string]*attempts{}}
}

type attempts struct {
	tries    []time.Time // attempts within the window: failed or under way
	until    time.Time   // locked until then
	inFlight int         // attempts under way
	logged   time.Time   // when a refusal of this key was last logged
}

// verdict is the answer to an attempt.
type verdict struct {
	ok         bool
	retryAfter time.Duration // when refused: how long until an attempt may go ahead
	log        bool          // when refused: the first refusal of the key in a window, worth a log line
}

// begin decides whether an attempt for key may go ahead and, if so,
// counts it until succeed, fail or cancel.
func (t *throttle) begin(key string, now time.Time) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.m[key]
	if a == nil {
		if len(t.m) >= t.max {
			t.shrink(now)
		}
		a = &attempts{}
		t.m[key] = a
	}
	a.prune(now, t.lim.window)
	var retry time.Duration
	switch {
	case now.Before(a.until):
		retry = a.until.Sub(now)
	case len(a.tries) >= t.lim.failures:
		retry = a.tries[0].Add(t.lim.window).Sub(now)
	case t.lim.inFlight > 0 && a.inFlight >= t.lim.inFlight:
		retry = busyRetry
	default:
		a.tries = append(a.tries, now)
		a.inFlight++
		return verdict{ok: true}
	}
	v := verdict{retryAfter: retry}
	if a.logged.IsZero() || now.Sub(a.logged) >= t.lim.window {
		a.logged, v.log = now, true
	}
	return v
}

// fail records that the attempt begun for key failed and reports whether
// that locked the key.
func (t *throttle) fail(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.m[key]
	if a == nil { // cleared by a concurrent success, or forgotten
		a = &attempts{tries: []time.Time{now}, inFlight: 1}
		t.m[key] = a
	}
	a.done()
	a.prune(now, t.lim.window)
	if t.lim.lockout > 0 && len(a.tries) >= t.lim.failures {
		a.until, a.tries = now.Add(t.lim.lockout), nil
		return true
	}
	return false
}

// succeed ends the attempt begun for key, which succeeded: it does not
// count as a failure, and for an email it clears the earlier ones.
func (t *throttle) succeed(key string) {
	if t.lim.clearOnSuccess {
		t.mu.Lock()
		delete(t.m, key)
		t.mu.Unlock()
		return
	}
	t.cancel(key)
}

// cancel uncounts an attempt that was not decided: refused by another
// limit, by the busy hash gate, or failed on a database error.
func (t *throttle) cancel(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.m[key]; a != nil {
		if len(a.tries) > 0 {
			a.tries = a.tries[:len(a.tries)-1]
		}
		a.done()
	}
}

// shrink makes room for a new key: first it drops the entries that no
// longer limit anything; if most of them still do, it forgets entries
// until a quarter of the map is free, unlocked ones first and never one
// with attempts under way. Forgetting an entry gives its key a fresh
// count, which is the price of bounded memory; the address limit keeps a
// single client from forcing it.
func (t *throttle) shrink(now time.Time) {
	for k, a := range t.m {
		if a.prune(now, t.lim.window); len(a.tries) == 0 && a.inFlight == 0 && !now.Before(a.until) {
			delete(t.m, k)
		}
	}
	target := t.max * 3 / 4
	for _, spareRefusing := range []bool{true, false} {
		for k, a := range t.m { // map order is random: no key is safe to aim at
			if len(t.m) <= target {
				return
			}
			if a.inFlight == 0 && (!spareRefusing || !t.refuses(a, now)) {
				delete(t.m, k)
			}
		}
	}
}

// refuses reports whether a key with attempts a is refused at now.
func (t *throttle) refuses(a *attempts, now time.Time) bool {
	return now.Before(a.until) || len(a.tries) >= t.lim.failures
}

func (a *attempts) done() {
	if a.inFlight > 0 {
		a.inFlight--
	}
}

func (a *attempts) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(a.tries) && now.Sub(a.tries[i]) >= window {
		i++
	}
	a.tries = a.tries[i:]
}

// addrKey is the throttle key of a client address: the address itself,
// or for IPv6 its /64, which one client usually holds whole.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return truncate(ip, 64)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
