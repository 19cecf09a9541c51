package account_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

const password = "correct horse battery staple"

// passwordHash is one argon2 hash of password, shared by the test users:
// hashing costs ~100 ms.
var passwordHash = sync.OnceValue(func() string {
	h, err := auth.HashPassword(password)
	if err != nil {
		panic(err)
	}
	return h
})

// countingStore counts the writes of session touches, and fails user
// updates on demand.
type countingStore struct {
	*store.DB
	touches     atomic.Int64
	failUpdates atomic.Bool
}

func (c *countingStore) UpdateUser(ctx context.Context, id int64, fn func(*store.User) error) (store.User, error) {
	if c.failUpdates.Load() {
		return store.User{}, errors.New("update user: disk I/O error")
	}
	return c.DB.UpdateUser(ctx, id, fn)
}

func (c *countingStore) TouchSession(ctx context.Context, id int64, lastSeen, expires time.Time) error {
	c.touches.Add(1)
	return c.DB.TouchSession(ctx, id, lastSeen, expires)
}

type env struct {
	svc  *account.Service
	db   *store.DB
	st   *countingStore
	clk  *clock.Fake
	logs *bytes.Buffer
	root store.User // an admin
	ctx  context.Context
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, account.Options{})
}

// setupWith is setup with options for the service; its logger is the
// env's.
func setupWith(t *testing.T, o account.Options) *env {
	t.Helper()
	e := &env{clk: clock.NewFake(t0), logs: &bytes.Buffer{}, ctx: context.Background()}
	e.db = storetest.SQLite(t, e.clk)
	e.st = &countingStore{DB: e.db}
	o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = account.New(e.st, e.clk, o)
	e.root = e.addUser(t, "root@example.org", auth.RoleAdmin)
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// addUser adds a password user straight to the store.
func (e *env) addUser(t *testing.T, email string, role auth.Role) store.User {
	t.Helper()
	u, err := e.db.AddUser(e.ctx, email, role, passwordHash())
	if err != nil {
		t.Fatalf("add user %s: %v", email, err)
	}
	return u
}

func (e *env) signIn(t *testing.T, email string) (string, auth.Actor) {
	t.Helper()
	tok, _, err := e.svc.SignIn(e.ctx, email, password, account.Meta{UserAgent: "test", IP: "192.0.2.7"})
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	_, actor, err := e.svc.Session(e.ctx, tok)
	if err != nil {
		t.Fatalf("session of %s: %v", email, err)
	}
	return tok, actor
}

func actorOf(u store.User) auth.Actor {
	return auth.Actor{Kind: "user", ID: u.ID, Name: u.Email, Role: u.Role}
}

func wantNoSession(t *testing.T, e *env, what, tok string) {
	t.Helper()
	if _, _, err := e.svc.Session(e.ctx, tok); !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("%s: Session error = %v, want one wrapping ErrNotFound", what, err)
	}
}

func TestSignIn(t *testing.T) {
	e := setup(t)
	bob := e.addUser(t, "bob@example.org", auth.RoleResponder)
	off := e.addUser(t, "off@example.org", auth.RoleResponder)
	if _, err := e.db.UpdateUser(e.ctx, off.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.AddExternalUser(e.ctx, "sso@example.org", "", "https://idp|1", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		email, password string
		wantErr         error
	}{
		{"ok", "bob@example.org", password, nil},
		{"ok, email in another case and spaced", "  BOB@Example.org ", password, nil},
		{"wrong password", "bob@example.org", password + "!", account.ErrBadCredentials},
		{"empty password", "bob@example.org", "", account.ErrBadCredentials},
		{"unknown email", "nobody@example.org", password, account.ErrBadCredentials},
		{"disabled user, right password", "off@example.org", password, account.ErrBadCredentials},
		{"single sign-on user", "sso@example.org", "", account.ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clk.Advance(time.Minute)
			tok, sess, err := e.svc.SignIn(e.ctx, tt.email, tt.password, account.Meta{UserAgent: "Firefox", IP: "192.0.2.1"})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if err.Error() != "wrong email or password" {
					t.Errorf("message = %q, want the one generic message", err)
				}
				return
			}
			if tok == "" || sess.UserID != bob.ID || sess.Email != bob.Email || sess.UserAgent != "Firefox" || sess.IP != "192.0.2.1" {
				t.Errorf("got token %q, session %+v; want bob's", tok, sess)
			}
			if u, _ := e.db.GetUser(e.ctx, bob.ID); u.LastLoginAt == nil || !u.LastLoginAt.Equal(e.clk.Now()) {
				t.Errorf("last login = %v, want %v", u.LastLoginAt, e.clk.Now())
			}
			got, actor, err := e.svc.Session(e.ctx, tok)
			want := auth.Actor{Kind: "user", ID: bob.ID, Name: "bob@example.org", Role: auth.RoleResponder}
			if err != nil || actor != want || got.ID != sess.ID {
				t.Errorf("Session = %+v, %+v, %v; want actor %+v", got, actor, err, want)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	e := setup(t)
	e.addUser(t, "bob@example.org", auth.RoleResponder)
	fail := func(email string) error {
		_, _, err := e.svc.SignIn(e.ctx, email, "not the password", account.Meta{})
		return err
	}
	ok := func(email string) error {
		_, _, err := e.svc.SignIn(e.ctx, email, password, account.Meta{})
		return err
	}

	// Four failures, then 15 minutes pass: the window has moved on.
	for range 4 {
		if err := fail("bob@example.org"); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("failure: %v", err)
		}
	}
	e.clk.Advance(15 * time.Minute)
	for range 4 {
		fail("bob@example.org")
	}
	if err := ok("bob@example.org"); err != nil {
		t.Fatalf("4 recent failures: sign-in refused: %v", err)
	}
	// A success clears the count.
	for range 4 {
		fail("bob@example.org")
	}
	if err := ok("bob@example.org"); err != nil {
		t.Fatalf("after a success and 4 more failures: sign-in refused: %v", err)
	}

	// Five failures within 15 minutes lock the email, whatever its case,
	// even against the right password; unknown emails too.
	for i := range 5 {
		e.clk.Advance(time.Minute)
		if err := fail("Bob@example.org"); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("failure %d: %v, want ErrBadCredentials", i+1, err)
		}
		fail("ghost@example.org")
	}
	if err := ok("bob@example.org"); !errors.Is(err, account.ErrThrottled) {
		t.Errorf("right password after 5 failures: %v, want ErrThrottled", err)
	}
	if err := fail("ghost@example.org"); !errors.Is(err, account.ErrThrottled) {
		t.Errorf("unknown email after 5 failures: %v, want ErrThrottled", err)
	}
	e.addUser(t, "alice@example.org", auth.RoleViewer)
	if err := ok("alice@example.org"); err != nil {
		t.Errorf("another email: %v", err)
	}
	e.clk.Advance(15*time.Minute - time.Second)
	if err := ok("bob@example.org"); !errors.Is(err, account.ErrThrottled) {
		t.Errorf("a second before the lock ends: %v, want ErrThrottled", err)
	}
	e.clk.Advance(time.Second)
	if err := ok("bob@example.org"); err != nil {
		t.Errorf("15 minutes after the lock: %v, want the sign-in to work", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := setup(t)
		tok, _ := e.signIn(t, "root@example.org")
		e.clk.Advance(12*time.Hour - time.Second)
		if _, _, err := e.svc.Session(e.ctx, tok); err != nil {
			t.Fatalf("just before the idle timeout: %v", err)
		}
		// That use slid the expiry: 12 h from now.
		e.clk.Advance(12*time.Hour - time.Second)
		if _, _, err := e.svc.Session(e.ctx, tok); err != nil {
			t.Fatalf("within 12 h of the last use: %v", err)
		}
		e.clk.Advance(12 * time.Hour)
		wantNoSession(t, e, "12 h unused", tok)
		if _, err := e.db.SessionByHash(e.ctx, auth.HashToken(tok)); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("expired session still stored: %v", err)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		e := setup(t)
		tok, _ := e.signIn(t, "root@example.org")
		for e.clk.Now().Before(t0.Add(7*24*time.Hour - 11*time.Hour)) {
			e.clk.Advance(11 * time.Hour)
			if _, _, err := e.svc.Session(e.ctx, tok); err != nil {
				t.Fatalf("used every 11 h, at %v: %v", e.clk.Now().Sub(t0), err)
			}
		}
		// Never slid past the absolute lifetime.
		if s, _ := e.db.SessionByHash(e.ctx, auth.HashToken(tok)); s.ExpiresAt.After(t0.Add(7 * 24 * time.Hour)) {
			t.Errorf("expiry %v is past the absolute lifetime", s.ExpiresAt)
		}
		e.clk.Set(t0.Add(7 * 24 * time.Hour))
		wantNoSession(t, e, "7 days after sign-in", tok)
	})
	t.Run("purge", func(t *testing.T) {
		e := setup(t)
		old, _ := e.signIn(t, "root@example.org")
		e.clk.Advance(6 * time.Hour)
		fresh, _ := e.signIn(t, "root@example.org")
		e.clk.Advance(6 * time.Hour)
		if n, err := e.svc.PurgeExpired(e.ctx); err != nil || n != 1 {
			t.Errorf("PurgeExpired = %d, %v; want 1", n, err)
		}
		if _, err := e.db.SessionByHash(e.ctx, auth.HashToken(old)); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("purged session: %v", err)
		}
		if _, _, err := e.svc.Session(e.ctx, fresh); err != nil {
			t.Errorf("live session after purge: %v", err)
		}
	})
}

func TestSessionTouch(t *testing.T) {
	e := setup(t)
	tok, _ := e.signIn(t, "root@example.org")
	e.st.touches.Store(0)
	steps := []struct {
		at          time.Duration // since sign-in
		wantTouches int64
	}{
		{0, 0},
		{30 * time.Second, 0},
		{59 * time.Second, 0},
		{60 * time.Second, 1},
		{90 * time.Second, 1},
		{119 * time.Second, 1},
		{120 * time.Second, 2},
		{10 * time.Minute, 3},
	}
	start := e.clk.Now()
	for _, s := range steps {
		e.clk.Set(start.Add(s.at))
		sess, _, err := e.svc.Session(e.ctx, tok)
		if err != nil {
			t.Fatalf("at +%v: %v", s.at, err)
		}
		if got := e.st.touches.Load(); got != s.wantTouches {
			t.Errorf("at +%v: %d touches, want %d", s.at, got, s.wantTouches)
		}
		if want := sess.LastSeenAt.Add(12 * time.Hour); !sess.ExpiresAt.Equal(want) {
			t.Errorf("at +%v: expires %v, want 12 h after last seen (%v)", s.at, sess.ExpiresAt, want)
		}
	}
}

func TestSignOut(t *testing.T) {
	e := setup(t)
	tok, _ := e.signIn(t, "root@example.org")
	other, _ := e.signIn(t, "root@example.org")
	if err := e.svc.SignOut(e.ctx, tok); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, e, "signed out", tok)
	if _, _, err := e.svc.Session(e.ctx, other); err != nil {
		t.Errorf("the user's other session: %v", err)
	}
	for _, tok := range []string{tok, "", "bogus"} {
		if err := e.svc.SignOut(e.ctx, tok); err != nil {
			t.Errorf("SignOut(%q): %v, want nil", tok, err)
		}
	}
	wantNoSession(t, e, "empty token", "")
	wantNoSession(t, e, "made-up token", "bogus")
}

func TestCSRF(t *testing.T) {
	a, b := "session-token-a", "session-token-b"
	ta := account.CSRFToken(a)
	if ta != account.CSRFToken(a) || ta == account.CSRFToken(b) || strings.Contains(ta, a) {
		t.Fatalf("CSRFToken(a) = %q: want it stable, per session, not containing the session token", ta)
	}
	tests := []struct {
		session, got string
		want         bool
	}{
		{a, ta, true},
		{b, ta, false},
		{a, ta[:len(ta)-1], false},
		{a, "", false},
		{"", account.CSRFToken(""), false},
		{a, a, false},
	}
	for _, tt := range tests {
		if got := account.CheckCSRF(tt.session, tt.got); got != tt.want {
			t.Errorf("CheckCSRF(%q, %q) = %v, want %v", tt.session, tt.got, got, tt.want)
		}
	}
}

func TestAdminOpsForbidden(t *testing.T) {
	e := setup(t)
	bob := e.addUser(t, "bob@example.org", auth.RoleViewer)
	ops := map[string]func(auth.Actor) error{
		"Users": func(a auth.Actor) error { _, err := e.svc.Users(e.ctx, a); return err },
		"AddUser": func(a auth.Actor) error {
			_, err := e.svc.AddUser(e.ctx, a, "new@example.org", auth.RoleAdmin, password)
			return err
		},
		"SetRole":       func(a auth.Actor) error { _, err := e.svc.SetRole(e.ctx, a, bob.ID, auth.RoleAdmin); return err },
		"SetDisabled":   func(a auth.Actor) error { _, err := e.svc.SetDisabled(e.ctx, a, e.root.ID, true); return err },
		"ResetPassword": func(a auth.Actor) error { return e.svc.ResetPassword(e.ctx, a, e.root.ID, password+"x") },
		"Tokens":        func(a auth.Actor) error { _, err := e.svc.Tokens(e.ctx, a); return err },
		"CreateToken":   func(a auth.Actor) error { _, _, err := e.svc.CreateToken(e.ctx, a, "x", auth.RoleAdmin); return err },
		"RevokeToken":   func(a auth.Actor) error { return e.svc.RevokeToken(e.ctx, a, 1) },
	}
	actors := []auth.Actor{
		{Kind: "user", ID: bob.ID, Name: bob.Email, Role: auth.RoleViewer},
		{Kind: "user", ID: bob.ID, Name: bob.Email, Role: auth.RoleResponder},
		{Kind: "token", ID: 9, Name: "ci", Role: auth.RoleResponder},
		{}, // nobody
	}
	for _, a := range actors {
		for name, op := range ops {
			var fe *validation.ForbiddenError
			if err := op(a); !errors.As(err, &fe) {
				t.Errorf("%s as %s %q: error = %v, want a ForbiddenError", name, a.Kind, a.Role, err)
			}
		}
	}
	// Nothing changed.
	if u, _ := e.db.GetUser(e.ctx, bob.ID); u.Role != auth.RoleViewer {
		t.Errorf("bob's role = %s, want viewer", u.Role)
	}
	if us, _ := e.db.ListUsers(e.ctx); len(us) != 2 {
		t.Errorf("%d users, want 2", len(us))
	}
	if ts, _ := e.db.ListTokens(e.ctx); len(ts) != 0 {
		t.Errorf("%d tokens, want 0", len(ts))
	}
}

func TestAdminUsers(t *testing.T) {
	e := setup(t)
	root := actorOf(e.root)
	var fe *validation.FieldError
	if _, err := e.svc.AddUser(e.ctx, root, "bob@example.org", auth.RoleViewer, "short"); !errors.As(err, &fe) || fe.Field != "password" {
		t.Errorf("short password: %v, want a FieldError on password", err)
	}
	if _, err := e.svc.AddUser(e.ctx, root, "bob@example.org", "root", password); !errors.As(err, &fe) || fe.Field != "role" {
		t.Errorf("unknown role: %v, want a FieldError on role", err)
	}
	bob, err := e.svc.AddUser(e.ctx, root, "Bob@example.org", auth.RoleResponder, password)
	if err != nil {
		t.Fatal(err)
	}
	if bob.PasswordHash != "" || bob.Email != "bob@example.org" {
		t.Errorf("AddUser = %+v, want bob without the hash", bob)
	}
	us, err := e.svc.Users(e.ctx, root)
	if err != nil || len(us) != 2 || us[0].Email != "bob@example.org" || us[0].PasswordHash != "" {
		t.Errorf("Users = %+v, %v; want bob and root, without hashes", us, err)
	}
	bobTok, _ := e.signIn(t, "bob@example.org")

	if u, err := e.svc.SetRole(e.ctx, root, bob.ID, auth.RoleViewer); err != nil || u.Role != auth.RoleViewer {
		t.Errorf("SetRole = %+v, %v", u, err)
	}
	if _, actor, _ := e.svc.Session(e.ctx, bobTok); actor.Role != auth.RoleViewer {
		t.Errorf("bob's session role = %s, want viewer at once", actor.Role)
	}
	_, err = e.svc.SetRole(e.ctx, root, 999, auth.RoleViewer)
	if !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("SetRole of an unknown user: %v, want ErrNotFound", err)
	}

	// Disabling ends the sessions for good, even when enabled again.
	if _, err := e.svc.SetDisabled(e.ctx, root, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, e, "disabled user's session", bobTok)
	if _, err := e.svc.SetDisabled(e.ctx, root, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, e, "re-enabled user's old session", bobTok)

	// A password reset ends the sessions and replaces the password.
	bobTok, _ = e.signIn(t, "bob@example.org")
	if err := e.svc.ResetPassword(e.ctx, root, bob.ID, "short"); !errors.As(err, &fe) || fe.Field != "password" {
		t.Errorf("short new password: %v, want a FieldError on password", err)
	}
	if err := e.svc.ResetPassword(e.ctx, root, bob.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, e, "session after password reset", bobTok)
	if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", password, account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("old password after reset: %v", err)
	}
	if _, _, err := e.svc.SignIn(e.ctx, "bob@example.org", "a brand new password", account.Meta{}); err != nil {
		t.Errorf("new password after reset: %v", err)
	}
	sso, err := e.db.AddExternalUser(e.ctx, "sso@example.org", "", "https://idp|1", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	var ce *validation.ConflictError
	if err := e.svc.ResetPassword(e.ctx, root, sso.ID, "a brand new password"); !errors.As(err, &ce) {
		t.Errorf("password of a single sign-on user: %v, want a ConflictError", err)
	}
}

func TestAdminLockout(t *testing.T) {
	e := setup(t)
	root := actorOf(e.root)
	adminToken := auth.Actor{Kind: "token", ID: 1, Name: "automation", Role: auth.RoleAdmin}
	var fe *validation.FieldError
	var ce *validation.ConflictError

	// Nobody demotes or disables themselves.
	if _, err := e.svc.SetRole(e.ctx, root, e.root.ID, auth.RoleResponder); !errors.As(err, &fe) {
		t.Errorf("self-demotion: %v, want a FieldError", err)
	}
	if _, err := e.svc.SetDisabled(e.ctx, root, e.root.ID, true); !errors.As(err, &fe) {
		t.Errorf("self-disabling: %v, want a FieldError", err)
	}
	if _, err := e.svc.SetRole(e.ctx, root, e.root.ID, auth.RoleAdmin); err != nil {
		t.Errorf("an admin keeping the admin role: %v", err)
	}

	// The last enabled admin stays, whoever asks.
	if _, err := e.svc.SetRole(e.ctx, adminToken, e.root.ID, auth.RoleViewer); !errors.As(err, &ce) {
		t.Errorf("demote the last admin: %v, want a ConflictError", err)
	}
	if _, err := e.svc.SetDisabled(e.ctx, adminToken, e.root.ID, true); !errors.As(err, &ce) {
		t.Errorf("disable the last admin: %v, want a ConflictError", err)
	}
	if ce != nil && !strings.Contains(ce.Message, "last enabled admin") {
		t.Errorf("message = %q, want it to say why", ce.Message)
	}

	// With a second admin, one may go.
	alice := e.addUser(t, "alice@example.org", auth.RoleAdmin)
	if _, err := e.svc.SetRole(e.ctx, root, e.root.ID, auth.RoleViewer); !errors.As(err, &fe) {
		t.Errorf("self-demotion beside another admin: %v, want a FieldError", err)
	}
	if _, err := e.svc.SetDisabled(e.ctx, root, e.root.ID, true); !errors.As(err, &fe) {
		t.Errorf("self-disabling beside another admin: %v, want a FieldError", err)
	}
	if _, err := e.svc.SetDisabled(e.ctx, actorOf(alice), e.root.ID, true); err != nil {
		t.Fatalf("disable one of two admins: %v", err)
	}
	if _, err := e.svc.SetRole(e.ctx, adminToken, alice.ID, auth.RoleViewer); !errors.As(err, &ce) {
		t.Errorf("demote the admin left: %v, want a ConflictError", err)
	}
	if u, _ := e.db.GetUser(e.ctx, alice.ID); u.Role != auth.RoleAdmin || u.Disabled {
		t.Errorf("alice = %+v, want an enabled admin", u)
	}
}

func TestTokens(t *testing.T) {
	e := setup(t)
	root := actorOf(e.root)
	var fe *validation.FieldError
	if _, _, err := e.svc.CreateToken(e.ctx, root, " ", auth.RoleViewer); !errors.As(err, &fe) {
		t.Errorf("no name: %v, want a FieldError", err)
	}
	if _, _, err := e.svc.CreateToken(e.ctx, root, "ci", "god"); !errors.As(err, &fe) {
		t.Errorf("unknown role: %v, want a FieldError", err)
	}
	secret, tok, err := e.svc.CreateToken(e.ctx, root, "ci", auth.RoleResponder)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.db.TokenByHash(e.ctx, auth.HashToken(secret)); err != nil || got.ID != tok.ID {
		t.Fatalf("TokenByHash(new secret) = %+v, %v", got, err)
	}
	e.clk.Advance(time.Minute)
	if _, _, err := e.svc.CreateToken(e.ctx, root, "grafana", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeToken(e.ctx, root, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeToken(e.ctx, root, tok.ID); err != nil {
		t.Errorf("revoke again: %v", err)
	}
	if err := e.svc.RevokeToken(e.ctx, root, 999); !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
	if _, err := e.db.TokenByHash(e.ctx, auth.HashToken(secret)); !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("revoked token still accepted: %v", err)
	}
	ts, err := e.svc.Tokens(e.ctx, root)
	if err != nil || len(ts) != 2 || ts[0].Name != "grafana" || ts[0].RevokedAt != nil || ts[1].Name != "ci" || ts[1].RevokedAt == nil {
		t.Errorf("Tokens = %+v, %v; want grafana, then ci revoked", ts, err)
	}
}

func TestSignInExternal(t *testing.T) {
	e := setup(t)
	const iss = "https://login.example.org"
	id := account.Identity{Issuer: iss, Subject: "u-1", Email: "Carol@example.org", Name: "Carol", Role: auth.RoleResponder}

	tok, sess, err := e.svc.SignInExternal(e.ctx, id, account.Meta{IP: "192.0.2.3"})
	if err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	carol, err := e.db.UserByExternal(e.ctx, iss+"|u-1")
	if err != nil || carol.Email != "carol@example.org" || carol.Name != "Carol" || carol.Role != auth.RoleResponder ||
		carol.PasswordHash != "" || sess.UserID != carol.ID || carol.LastLoginAt == nil {
		t.Fatalf("created user = %+v, %v; session %+v", carol, err, sess)
	}
	if _, actor, err := e.svc.Session(e.ctx, tok); err != nil || actor.ID != carol.ID || actor.Role != auth.RoleResponder {
		t.Errorf("Session = %+v, %v", actor, err)
	}
	if _, _, err := e.svc.SignIn(e.ctx, "carol@example.org", "", account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("password sign-in of an external user: %v", err)
	}

	steps := []struct {
		name     string
		role     auth.Role
		userName string
		wantRole auth.Role
		wantName string
	}{
		{"role from the provider", auth.RoleAdmin, "Carol", auth.RoleAdmin, "Carol"},
		{"no role claim keeps the role", "", "Carol C.", auth.RoleAdmin, "Carol C."},
		{"demoted by the provider", auth.RoleViewer, "", auth.RoleViewer, "Carol C."},
	}
	for _, s := range steps {
		id := id
		id.Role, id.Name = s.role, s.userName
		if _, sess, err := e.svc.SignInExternal(e.ctx, id, account.Meta{}); err != nil || sess.Role != s.wantRole {
			t.Errorf("%s: session %+v, %v; want role %s", s.name, sess, err, s.wantRole)
		}
		if u, _ := e.db.GetUser(e.ctx, carol.ID); u.Role != s.wantRole || u.Name != s.wantName {
			t.Errorf("%s: user %+v, want role %s, name %q", s.name, u, s.wantRole, s.wantName)
		}
	}
	if us, _ := e.db.ListUsers(e.ctx); len(us) != 2 {
		t.Errorf("%d users after repeated sign-ins, want 2", len(us))
	}

	// A password user's email at the provider does not give their account.
	e.addUser(t, "bob@example.org", auth.RoleAdmin)
	hijack := account.Identity{Issuer: iss, Subject: "evil", Email: "bob@example.org", Role: auth.RoleViewer}
	if _, _, err := e.svc.SignInExternal(e.ctx, hijack, account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("linking to a password user: %v, want ErrBadCredentials", err)
	}
	if _, err := e.db.UserByExternal(e.ctx, iss+"|evil"); !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("identity linked anyway: %v", err)
	}
	// Nor does another identity's account.
	other := account.Identity{Issuer: "https://other-idp", Subject: "u-1", Email: "carol@example.org"}
	if _, _, err := e.svc.SignInExternal(e.ctx, other, account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("linking to another identity's user: %v, want ErrBadCredentials", err)
	}

	// A user without password or identity is linked at first sign-in.
	dave, err := e.db.AddUser(e.ctx, "dave@example.org", auth.RoleViewer, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, sess, err := e.svc.SignInExternal(e.ctx, account.Identity{Issuer: iss, Subject: "u-4", Email: "DAVE@example.org"}, account.Meta{}); err != nil || sess.UserID != dave.ID {
		t.Errorf("link password-less user: session %+v, %v; want dave's", sess, err)
	}
	if u, _ := e.db.GetUser(e.ctx, dave.ID); u.External != iss+"|u-4" {
		t.Errorf("dave's identity = %q", u.External)
	}

	// Disabled external users are refused.
	if _, err := e.svc.SetDisabled(e.ctx, actorOf(e.root), carol.ID, true); err != nil {
		t.Fatal(err)
	}
	wantNoSession(t, e, "disabled external user", tok)
	if _, _, err := e.svc.SignInExternal(e.ctx, id, account.Meta{}); !errors.Is(err, account.ErrBadCredentials) {
		t.Errorf("disabled external user: %v, want ErrBadCredentials", err)
	}

	// The provider cannot demote the last enabled admin; the sign-in fails.
	erin := account.Identity{Issuer: iss, Subject: "u-5", Email: "erin@example.org", Role: auth.RoleAdmin}
	if _, _, err := e.svc.SignInExternal(e.ctx, erin, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"root@example.org", "bob@example.org"} {
		u, _ := e.db.UserByEmail(e.ctx, email)
		if _, err := e.db.UpdateUser(e.ctx, u.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	erin.Role = auth.RoleViewer
	var ce *validation.ConflictError
	if _, _, err := e.svc.SignInExternal(e.ctx, erin, account.Meta{}); !errors.As(err, &ce) {
		t.Errorf("provider demotes the last admin: %v, want a ConflictError", err)
	}

	bad := []account.Identity{
		{Subject: "x", Email: "x@example.org"},
		{Issuer: iss, Email: "x@example.org"},
		{Issuer: iss, Subject: "no-email"},
		{Issuer: iss, Subject: "x", Email: "x@example.org", Role: "owner"},
	}
	for _, id := range bad {
		if _, _, err := e.svc.SignInExternal(e.ctx, id, account.Meta{}); err == nil {
			t.Errorf("SignInExternal(%+v) succeeded", id)
		}
	}
}

// Passwords, session tokens and token secrets never reach the log.
func TestNoSecretsLogged(t *testing.T) {
	e := setup(t)
	root := actorOf(e.root)
	tok, _ := e.signIn(t, "root@example.org")
	e.svc.SignIn(e.ctx, "root@example.org", "a wrong password", account.Meta{})
	e.svc.SignIn(e.ctx, "ghost@example.org", "ghost password", account.Meta{})
	secret, _, err := e.svc.CreateToken(e.ctx, root, "ci", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.svc.AddUser(e.ctx, root, "bob@example.org", auth.RoleViewer, "bob's first password")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResetPassword(e.ctx, root, bob.ID, "bob's second password"); err != nil {
		t.Fatal(err)
	}
	e.svc.SignOut(e.ctx, tok)
	logs := e.logs.String()
	if !strings.Contains(logs, "signed in") || !strings.Contains(logs, "sign-in failed") {
		t.Fatalf("log lacks sign-in records:\n%s", logs)
	}
	for _, s := range []string{password, "a wrong password", "ghost password", tok, secret, account.CSRFToken(tok),
		"bob's first password", "bob's second password", "argon2id"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q:\n%s", s, logs)
		}
	}
}
