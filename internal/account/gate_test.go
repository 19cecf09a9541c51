package account_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
)

// hashes counts the password checks of a service, and can hold them
// under way until released.
type hashes struct {
	n       atomic.Int64
	hold    atomic.Bool
	entered chan struct{} // a held check arrived
	release chan struct{} // closed: held checks go on
}

func countHashes(svc *account.Service) *hashes {
	h := &hashes{entered: make(chan struct{}, 100), release: make(chan struct{})}
	account.SetCheckPassword(svc, func(encoded, password string) bool {
		h.n.Add(1)
		if h.hold.Load() {
			h.entered <- struct{}{}
			<-h.release
		}
		return auth.CheckPassword(encoded, password)
	})
	return h
}

// holdOne starts a sign-in that stays in its password check until
// h.release is closed, and returns its error when it ends.
func (h *hashes) holdOne(t *testing.T, e *env, email, ip string) <-chan error {
	t.Helper()
	h.hold.Store(true)
	done := make(chan error, 1)
	go func() {
		_, _, err := e.svc.SignIn(e.ctx, email, password, account.Meta{IP: ip})
		done <- err
	}()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("held sign-in never reached its password check")
	}
	return done
}

// legacyHash hashes password as vigil did before the parameters were
// lowered to OWASP's minimum: 64 MiB, 3 passes, 2 lanes.
func legacyHash(password string) string {
	salt := []byte("legacy-salt-0001")
	key := argon2.IDKey([]byte(password), salt, 3, 64*1024, 2, 32)
	return fmt.Sprintf("$argon2id$v=19$m=65536,t=3,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestSignInRehashesOldHash(t *testing.T) {
	tests := []struct {
		name       string
		failUpdate bool
		wantPrefix string // of the stored hash after the sign-in
		wantLog    string
	}{
		{"rehashed", false, "$argon2id$v=19$m=19456,t=2,p=1$", "password rehashed"},
		{"store fails: sign-in goes on, old hash kept", true, "$argon2id$v=19$m=65536,t=3,p=2$", "rehash password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			old := legacyHash(password)
			u, err := e.db.AddUser(e.ctx, "old@example.org", auth.RoleViewer, old)
			if err != nil {
				t.Fatal(err)
			}
			e.st.failUpdates.Store(tt.failUpdate)
			if _, _, err := e.svc.SignIn(e.ctx, "old@example.org", password, account.Meta{IP: "192.0.2.3"}); err != nil {
				t.Fatalf("sign in with a 64 MiB hash: %v", err)
			}
			got, err := e.db.GetUser(e.ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.PasswordHash, tt.wantPrefix) {
				t.Errorf("stored hash %q, want prefix %q", got.PasswordHash, tt.wantPrefix)
			}
			if !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, e.logs)
			}
			e.st.failUpdates.Store(false)
			// The stored hash, new or old, still lets the user in, and a
			// current one is not hashed again.
			if _, _, err := e.svc.SignIn(e.ctx, "old@example.org", password, account.Meta{IP: "192.0.2.3"}); err != nil {
				t.Fatalf("second sign-in: %v", err)
			}
			if !tt.failUpdate {
				again, _ := e.db.GetUser(e.ctx, u.ID)
				if again.PasswordHash != got.PasswordHash {
					t.Errorf("current hash replaced at the second sign-in: %q → %q", got.PasswordHash, again.PasswordHash)
				}
			}
			if strings.Contains(e.logs.String(), password) {
				t.Errorf("log contains the password")
			}
		})
	}
}

// A wrong password against an old hash changes nothing.
func TestNoRehashOnFailure(t *testing.T) {
	e := setup(t)
	old := legacyHash(password)
	u, err := e.db.AddUser(e.ctx, "old@example.org", auth.RoleViewer, old)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.SignIn(e.ctx, "old@example.org", "not the password", account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("wrong password: %v, want ErrBadCredentials", err)
	}
	if got, _ := e.db.GetUser(e.ctx, u.ID); got.PasswordHash != old {
		t.Errorf("hash after a failed sign-in = %q, want the old one kept", got.PasswordHash)
	}
}

func TestGateBusy(t *testing.T) {
	tests := []struct {
		name string
		o    account.Options
		// waiter: a second sign-in is started and waits in the queue
		// before the probe is tried.
		waiter    bool
		wantAfter time.Duration // the probe's Retry-After
		minWait   time.Duration // the probe waits at least this long before its refusal
	}{
		{"no queue: refused at once", account.Options{HashSlots: 1, HashQueue: -1, HashWait: time.Minute}, false, time.Minute, 0},
		{"queue full: refused at once", account.Options{HashSlots: 1, HashQueue: 1, HashWait: time.Minute}, true, time.Minute, 0},
		{"no slot in time: refused after the wait", account.Options{HashSlots: 1, HashQueue: 4, HashWait: 150 * time.Millisecond}, false, 150 * time.Millisecond, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setupWith(t, tt.o)
			h := countHashes(e.svc)
			held := h.holdOne(t, e, "root@example.org", "192.0.2.1")
			var waiter chan error
			if tt.waiter {
				waiter = make(chan error, 1)
				go func() {
					_, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "192.0.2.2"})
					waiter <- err
				}()
				waitFor(t, "a sign-in waiting for a slot", func() bool { return account.Waiting(e.svc) == 1 })
			}
			before := h.n.Load()
			start := time.Now()
			_, _, err := e.svc.SignIn(e.ctx, "ghost@example.org", "whatever password", account.Meta{IP: "192.0.2.3"})
			took := time.Since(start)
			if !errors.Is(err, account.ErrBusy) {
				t.Fatalf("sign-in with the gate full: %v, want ErrBusy", err)
			}
			if after, ok := account.RetryAfter(err); !ok || after != tt.wantAfter {
				t.Errorf("RetryAfter = %v, %v; want %v, true", after, ok, tt.wantAfter)
			}
			if n := h.n.Load() - before; n != 0 {
				t.Errorf("a refused sign-in ran %d hashes, want 0", n)
			}
			if took < tt.minWait || (tt.minWait == 0 && took > time.Second) {
				t.Errorf("refusal took %v, want at least %v (and no wait without one)", took, tt.minWait)
			}
			close(h.release)
			if err := <-held; err != nil {
				t.Errorf("held sign-in: %v", err)
			}
			if waiter != nil {
				if err := <-waiter; err != nil {
					t.Errorf("waiting sign-in, once a slot came free: %v", err)
				}
			}
			if !strings.Contains(e.logs.String(), "password checks busy") {
				t.Errorf("log lacks the busy refusal:\n%s", e.logs)
			}
		})
	}
}

// Refusals by the busy gate do not count as failures: the email and the
// address they came from are not throttled for them.
func TestGateBusyNotCounted(t *testing.T) {
	e := setupWith(t, account.Options{HashSlots: 1, HashQueue: -1})
	h := countHashes(e.svc)
	held := h.holdOne(t, e, "ghost@example.org", "192.0.2.1")
	for i := range 30 {
		if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", "wrong password", account.Meta{IP: "192.0.2.9"}); !errors.Is(err, account.ErrBusy) {
			t.Fatalf("attempt %d: %v, want ErrBusy", i, err)
		}
	}
	close(h.release)
	<-held
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "192.0.2.9"}); err != nil {
		t.Errorf("sign-in after 30 busy refusals: %v, want success", err)
	}
	if got := strings.Count(e.logs.String(), "password checks busy"); got != 1 {
		t.Errorf("%d log lines for 30 busy refusals, want 1 (rate-limited)", got)
	}
}

// Many sign-ins at once never run more hashes at once than the gate has
// slots.
func TestGateBoundsConcurrentHashes(t *testing.T) {
	const slots = 2
	e := setupWith(t, account.Options{HashSlots: slots, HashQueue: 100, HashWait: time.Minute, AddrInFlight: 100, AddrFailures: 100})
	var cur, peak atomic.Int64
	account.SetCheckPassword(e.svc, func(encoded, pw string) bool {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer cur.Add(-1)
		time.Sleep(5 * time.Millisecond) // stands in for the hash
		return false
	})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			e.svc.SignIn(e.ctx, fmt.Sprintf("u%d@example.org", i), "some password", account.Meta{IP: "192.0.2.1"})
		})
	}
	wg.Wait()
	if got := peak.Load(); got > slots || got == 0 {
		t.Errorf("peak concurrent hashes = %d, want 1..%d", got, slots)
	}
}

func TestAddressThrottle(t *testing.T) {
	e := setup(t)
	h := countHashes(e.svc)
	const flooder = "198.51.100.7"
	fail := func(ip string, i int) error {
		_, _, err := e.svc.SignIn(e.ctx, fmt.Sprintf("random%d@example.org", i), "some guess", account.Meta{IP: ip})
		return err
	}
	// 20 failures, each for another email so that no email locks.
	for i := range 20 {
		e.clk.Advance(time.Second)
		if err := fail(flooder, i); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("failure %d: %v, want ErrBadCredentials", i+1, err)
		}
	}
	before := h.n.Load()
	tests := []struct {
		name    string
		ip      string
		email   string
		pass    string
		wantErr error
	}{
		{"21st failure from the address", flooder, "random99@example.org", "guess", account.ErrThrottled},
		{"right password from the address", flooder, "root@example.org", password, account.ErrThrottled},
		{"same address, mapped IPv6 form", "::ffff:" + flooder, "random98@example.org", "guess", account.ErrThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.svc.SignIn(e.ctx, tt.email, tt.pass, account.Meta{IP: tt.ip})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			// The first failure was 19 seconds ago.
			if after, ok := account.RetryAfter(err); !ok || after != 15*time.Minute-19*time.Second {
				t.Errorf("RetryAfter = %v, %v; want %v", after, ok, 15*time.Minute-19*time.Second)
			}
		})
	}
	if n := h.n.Load() - before; n != 0 {
		t.Errorf("refused attempts ran %d hashes, want 0", n)
	}
	// Someone else, from another address, still signs in.
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "192.0.2.50"}); err != nil {
		t.Errorf("sign-in from another address while one floods: %v", err)
	}
	// Refusals are logged once per address and window, without the guess.
	if got := strings.Count(e.logs.String(), "too many attempts from this address"); got != 1 {
		t.Errorf("%d log lines for 3 refusals of one address, want 1:\n%s", got, e.logs)
	}
	if strings.Contains(e.logs.String(), "some guess") {
		t.Error("log contains a guessed password")
	}
	// The window moves on: the oldest failure is 15 minutes old.
	e.clk.Advance(15*time.Minute - 19*time.Second)
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: flooder}); err != nil {
		t.Errorf("sign-in once the first failure left the window: %v", err)
	}
}

// IPv6 clients are limited per /64, which one client usually holds whole.
func TestAddressThrottleIPv6Prefix(t *testing.T) {
	e := setupWith(t, account.Options{AddrFailures: 3})
	for i := range 3 {
		ip := fmt.Sprintf("2001:db8:1:2::%x", i+1)
		if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", "wrong password", account.Meta{IP: ip}); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	tests := []struct {
		ip      string
		wantErr error
	}{
		{"2001:db8:1:2::ffff", account.ErrThrottled},
		{"2001:db8:1:3::1", nil},
	}
	for _, tt := range tests {
		if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: tt.ip}); !errors.Is(err, tt.wantErr) {
			t.Errorf("sign-in from %s: %v, want %v", tt.ip, err, tt.wantErr)
		}
	}
}

// One address may have only a few attempts under way at once: the next
// is refused without a hash, while other addresses go on.
func TestAddressInFlight(t *testing.T) {
	e := setupWith(t, account.Options{AddrInFlight: 1, HashSlots: 4})
	h := countHashes(e.svc)
	held := h.holdOne(t, e, "ghost@example.org", "198.51.100.7")
	before := h.n.Load()
	_, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "198.51.100.7"})
	if !errors.Is(err, account.ErrThrottled) {
		t.Errorf("second attempt under way from one address: %v, want ErrThrottled", err)
	}
	if n := h.n.Load() - before; n != 0 {
		t.Errorf("refused attempt ran %d hashes, want 0", n)
	}
	h.hold.Store(false)
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "192.0.2.50"}); err != nil {
		t.Errorf("sign-in from another address: %v", err)
	}
	close(h.release)
	<-held
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "198.51.100.7"}); err != nil {
		t.Errorf("sign-in from the address once its attempt ended: %v", err)
	}
}

// An email longer than any address is refused without a hash.
func TestSignInOverlongEmail(t *testing.T) {
	e := setup(t)
	h := countHashes(e.svc)
	long := strings.Repeat("a", 300) + "@example.org"
	if _, _, err := e.svc.SignIn(e.ctx, long, "guess", account.Meta{IP: "192.0.2.1"}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("overlong email: %v, want ErrBadCredentials", err)
	}
	if n := h.n.Load(); n != 0 {
		t.Errorf("overlong email ran %d hashes, want 0", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A client that goes away while waiting for a slot leaves the queue, and
// its attempt does not count against the email or the address.
func TestGateWaitCancelled(t *testing.T) {
	e := setupWith(t, account.Options{HashSlots: 1, HashQueue: 1, HashWait: time.Minute, AddrInFlight: 1})
	h := countHashes(e.svc)
	held := h.holdOne(t, e, "ghost@example.org", "192.0.2.1")
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := e.svc.SignIn(ctx, "root@example.org", password, account.Meta{IP: "192.0.2.2"})
		done <- err
	}()
	waitFor(t, "a sign-in waiting for a slot", func() bool { return account.Waiting(e.svc) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v, want context.Canceled", err)
	}
	if n := account.Waiting(e.svc); n != 0 {
		t.Errorf("%d still waiting after the client went away, want 0", n)
	}
	close(h.release)
	<-held
	// The address had one attempt in flight at most: it is free again.
	if _, _, err := e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: "192.0.2.2"}); err != nil {
		t.Errorf("sign-in after the cancelled one: %v", err)
	}
}
