package account_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
)

// deviceOf signs email in with its password from ip and returns the
// device cookie the browser would get.
func (e *env) deviceOf(t *testing.T, email, ip string) string {
	t.Helper()
	if _, _, err := e.svc.SignIn(e.ctx, email, password, account.Meta{IP: ip}); err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	dev, err := e.svc.IssueDevice(e.ctx, email)
	if err != nil {
		t.Fatalf("issue device cookie: %v", err)
	}
	return dev
}

func wantThrottled(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, account.ErrThrottled) {
		t.Fatalf("%s: %v, want ErrThrottled", what, err)
	}
	if after, ok := account.RetryAfter(err); !ok || after <= 0 {
		t.Errorf("%s: Retry-After %v, %v; want a positive one", what, after, ok)
	}
}

// An address that has used up its failures refuses password sign-ins,
// except from a browser with a device cookie for the email it signs in
// as.
func TestDeviceCookieSkipsAddressLimit(t *testing.T) {
	e := setupWith(t, account.Options{AddrFailures: 2})
	e.addUser(t, "ann@example.org", auth.RoleViewer)
	const proxy = "203.0.113.10" // everyone's address, behind one proxy
	dev := e.deviceOf(t, "ann@example.org", proxy)
	for range 2 {
		e.svc.SignIn(e.ctx, "ghost@example.org", "guess", account.Meta{IP: proxy})
	}
	_, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: proxy})
	wantThrottled(t, "without a device cookie", err)
	if _, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: proxy, Device: dev}); err != nil {
		t.Fatalf("with a device cookie: %v, want a session", err)
	}
	// The cookie is ann's: for root it is no cookie.
	_, _, err = e.svc.SignIn(e.ctx, "root@example.org", password, account.Meta{IP: proxy, Device: dev})
	wantThrottled(t, "ann's device cookie, signing in as root", err)
	// Upper case is the same email.
	if _, _, err := e.svc.SignIn(e.ctx, " ANN@example.org", password, account.Meta{IP: proxy, Device: dev}); err != nil {
		t.Fatalf("ANN@ with ann's device cookie: %v, want a session", err)
	}
}

// A guesser who locks an email out by failing on purpose does not lock
// out its owner's trusted browser; that browser's own failures lock the
// cookie, not the email.
func TestDeviceLockout(t *testing.T) {
	// More device failures than the email's 5, so that counting them
	// against the email would show.
	e := setupWith(t, account.Options{DeviceFailures: 6})
	e.addUser(t, "ann@example.org", auth.RoleViewer)
	e.addUser(t, "bob@example.org", auth.RoleViewer)
	ann := e.deviceOf(t, "ann@example.org", "192.0.2.1")
	bob := e.deviceOf(t, "bob@example.org", "192.0.2.2")
	for i := range 5 {
		if _, _, err := e.svc.SignIn(e.ctx, "ann@example.org", "guess", account.Meta{IP: "198.51.100.1"}); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("guess %d: %v, want ErrBadCredentials", i, err)
		}
	}
	_, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1"})
	wantThrottled(t, "email locked, no device cookie", err)
	if _, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1", Device: ann}); err != nil {
		t.Fatalf("email locked, with a device cookie: %v, want a session", err)
	}

	// Six failures with bob's cookie lock the cookie out, not the email.
	for i := range 6 {
		if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", "typo", account.Meta{IP: "192.0.2.2", Device: bob}); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("trusted failure %d: %v, want ErrBadCredentials", i, err)
		}
	}
	_, _, err = e.svc.SignIn(e.ctx, "bob@example.org", password, account.Meta{IP: "192.0.2.2", Device: bob})
	wantThrottled(t, "device locked out", err)
	if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", password, account.Meta{IP: "192.0.2.2"}); err != nil {
		t.Fatalf("bob without the locked cookie: %v, want a session (the email is not locked)", err)
	}
	other, err := e.svc.IssueDevice(e.ctx, "bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", password, account.Meta{IP: "192.0.2.2", Device: other}); err != nil {
		t.Fatalf("bob with a new cookie: %v, want a session", err)
	}
	// The lockout ends after 15 minutes.
	e.clk.Advance(15 * time.Minute)
	if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", password, account.Meta{IP: "192.0.2.2", Device: bob}); err != nil {
		t.Fatalf("locked cookie 15 minutes later: %v, want a session", err)
	}
}

// With every untrusted hash slot taken and no queue, a browser with a
// device cookie still has its password checked, in a slot of its own.
func TestDeviceCookieSkipsBusyGate(t *testing.T) {
	e := setupWith(t, account.Options{HashSlots: 1, HashQueue: -1})
	e.addUser(t, "ann@example.org", auth.RoleViewer)
	dev := e.deviceOf(t, "ann@example.org", "192.0.2.1")
	h := countHashes(e.svc)
	held := h.holdOne(t, e, "ghost@example.org", "198.51.100.1")
	h.hold.Store(false)
	_, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1"})
	if !errors.Is(err, account.ErrBusy) {
		t.Fatalf("without a device cookie: %v, want ErrBusy", err)
	}
	if _, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1", Device: dev}); err != nil {
		t.Fatalf("with a device cookie: %v, want a session", err)
	}
	close(h.release)
	<-held
}

// A device cookie made by one instance is good at another on the same
// database: they share the key, which the first made.
func TestDeviceCookieSharedKey(t *testing.T) {
	e := setupWith(t, account.Options{AddrFailures: 1})
	e.addUser(t, "ann@example.org", auth.RoleViewer)
	other := account.New(e.st, e.clk, account.Options{AddrFailures: 1})
	dev, err := other.IssueDevice(e.ctx, "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SignIn(e.ctx, "ghost@example.org", "guess", account.Meta{IP: "192.0.2.1"})
	if _, _, err := e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1", Device: dev}); err != nil {
		t.Fatalf("cookie from another instance: %v, want a session", err)
	}
	// A forged one (another key) is no cookie: the address limit applies.
	forged := dev[:len(dev)-4] + "AAAA"
	if forged == dev {
		forged = dev[:len(dev)-4] + "BBBB"
	}
	_, _, err = e.svc.SignIn(e.ctx, "ann@example.org", password, account.Meta{IP: "192.0.2.1", Device: forged})
	wantThrottled(t, "forged cookie", err)
}
