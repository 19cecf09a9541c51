package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
)

func mustAddUser(t testing.TB, db *store.DB, email string, role auth.Role) store.User {
	t.Helper()
	u, err := db.AddUser(context.Background(), email, role, "$argon2id$fake")
	if err != nil {
		t.Fatalf("add user %s: %v", email, err)
	}
	return u
}

func TestUsers(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		bob := mustAddUser(t, db, " Bob@Example.org ", auth.RoleResponder)
		if bob.Email != "bob@example.org" || !bob.CreatedAt.Equal(t0) {
			t.Errorf("added user = %+v, want email lower-cased and created at t0", bob)
		}
		ext, err := db.AddExternalUser(ctx, "Alice@example.org", " Alice A ", "https://idp|123", auth.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		var fe *validation.FieldError
		if _, err := db.AddUser(ctx, "bob@example.org", auth.RoleViewer, "x"); !errors.As(err, &fe) || fe.Field != "email" {
			t.Errorf("duplicate email: error = %v, want a FieldError on email", err)
		}
		if _, err := db.AddExternalUser(ctx, "carol@example.org", "", "https://idp|123", auth.RoleViewer); !errors.As(err, &fe) || fe.Field != "external" {
			t.Errorf("duplicate identity: error = %v, want a FieldError on external", err)
		}
		if _, err := db.AddExternalUser(ctx, "carol@example.org", "", " ", auth.RoleViewer); !errors.As(err, &fe) {
			t.Errorf("empty identity: error = %v, want a FieldError", err)
		}

		got, err := db.UserByExternal(ctx, "https://idp|123")
		if err != nil || got.ID != ext.ID || got.Email != "alice@example.org" || got.Name != "Alice A" || got.PasswordHash != "" {
			t.Errorf("UserByExternal = %+v, %v; want alice, no password", got, err)
		}
		_, err = db.UserByExternal(ctx, "")
		wantNotFound(t, "UserByExternal(\"\")", err)
		_, err = db.GetUser(ctx, 999)
		wantNotFound(t, "GetUser(999)", err)

		users, err := db.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, u := range users {
			emails = append(emails, u.Email)
		}
		if want := []string{"alice@example.org", "bob@example.org"}; !slices.Equal(emails, want) {
			t.Errorf("ListUsers emails = %v, want %v", emails, want)
		}
		if n, err := db.CountUsers(ctx); err != nil || n != 2 {
			t.Errorf("CountUsers = %d, %v; want 2", n, err)
		}

		login := t0.Add(time.Hour)
		if err := db.SetLastLogin(ctx, bob.ID, login); err != nil {
			t.Fatal(err)
		}
		wantNotFound(t, "SetLastLogin(999)", db.SetLastLogin(ctx, 999, login))
		got, err = db.GetUser(ctx, bob.ID)
		if err != nil || got.LastLoginAt == nil || !got.LastLoginAt.Equal(login) {
			t.Errorf("GetUser after SetLastLogin = %+v, %v; want last login %v", got, err, login)
		}
		if got, _ := db.UserByEmail(ctx, "BOB@example.org"); got.LastLoginAt == nil || got.Role != auth.RoleResponder {
			t.Errorf("UserByEmail = %+v, want bob with last login", got)
		}
	})
}

func TestUpdateUser(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		root := mustAddUser(t, db, "root@example.org", auth.RoleAdmin)
		bob := mustAddUser(t, db, "bob@example.org", auth.RoleViewer)

		u, err := db.UpdateUser(ctx, bob.ID, func(u *store.User) error {
			u.Role, u.Name, u.PasswordHash = auth.RoleAdmin, " Bob ", "new-hash"
			u.Email, u.ID = "mallory@example.org", 77 // ignored
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetUser(ctx, bob.ID); got != u || got.Role != auth.RoleAdmin || got.Name != "Bob" ||
			got.PasswordHash != "new-hash" || got.Email != "bob@example.org" {
			t.Errorf("after update: stored %+v, returned %+v", got, u)
		}

		refused := errors.New("refused")
		if _, err := db.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Role = auth.RoleViewer; return refused }); !errors.Is(err, refused) {
			t.Errorf("fn error: got %v, want it returned", err)
		}
		var fe *validation.FieldError
		if _, err := db.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Role = "root"; return nil }); !errors.As(err, &fe) {
			t.Errorf("unknown role: error = %v, want a FieldError", err)
		}
		if got, _ := db.GetUser(ctx, bob.ID); got.Role != auth.RoleAdmin {
			t.Errorf("role after refused updates = %s, want admin", got.Role)
		}
		_, err = db.UpdateUser(ctx, 999, func(*store.User) error { return nil })
		wantNotFound(t, "UpdateUser(999)", err)

		// Two admins: one may go; the other is then the last and stays.
		if _, err := db.UpdateUser(ctx, root.ID, func(u *store.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatalf("disable one of two admins: %v", err)
		}
		var ce *validation.ConflictError
		for name, fn := range map[string]func(*store.User) error{
			"demote":  func(u *store.User) error { u.Role = auth.RoleResponder; return nil },
			"disable": func(u *store.User) error { u.Disabled = true; return nil },
		} {
			if _, err := db.UpdateUser(ctx, bob.ID, fn); !errors.As(err, &ce) {
				t.Errorf("%s the last enabled admin: error = %v, want a ConflictError", name, err)
			}
		}
		if got, _ := db.GetUser(ctx, bob.ID); got.Role != auth.RoleAdmin || got.Disabled {
			t.Errorf("last admin after refused changes = %+v, want an enabled admin", got)
		}
		// A disabled admin may be demoted: it does not count.
		if _, err := db.UpdateUser(ctx, root.ID, func(u *store.User) error { u.Role = auth.RoleViewer; return nil }); err != nil {
			t.Errorf("demote a disabled admin: %v", err)
		}
	})
}

func TestSessions(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		bob := mustAddUser(t, db, "bob@example.org", auth.RoleResponder)
		alice := mustAddUser(t, db, "alice@example.org", auth.RoleAdmin)
		newSession := func(hash string, u store.User, expires time.Time) store.Session {
			t.Helper()
			s, err := db.CreateSession(ctx, store.Session{Hash: hash, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0,
				ExpiresAt: expires, UserAgent: "curl/8", IP: "192.0.2.1"})
			if err != nil {
				t.Fatalf("create session %s: %v", hash, err)
			}
			return s
		}
		s1 := newSession("h1", bob, t0.Add(time.Hour))
		want := store.Session{ID: s1.ID, Hash: "h1", UserID: bob.ID, Email: "bob@example.org", Role: auth.RoleResponder,
			CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), UserAgent: "curl/8", IP: "192.0.2.1"}
		if s1 != want {
			t.Errorf("CreateSession = %+v, want %+v", s1, want)
		}
		if got, err := db.SessionByHash(ctx, "h1"); err != nil || got != want {
			t.Errorf("SessionByHash = %+v, %v; want %+v", got, err, want)
		}
		if _, err := db.CreateSession(ctx, store.Session{Hash: "h1", UserID: bob.ID}); err == nil {
			t.Error("a second session with the same hash was stored")
		}
		_, err := db.SessionByHash(ctx, "nope")
		wantNotFound(t, "SessionByHash(nope)", err)

		// The user's role and disabled flag are read with the session.
		if _, err := db.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Role, u.Disabled = auth.RoleViewer, true; return nil }); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SessionByHash(ctx, "h1"); got.Role != auth.RoleViewer || !got.Disabled {
			t.Errorf("session after user change = %+v, want viewer, disabled", got)
		}

		seen, exp := t0.Add(10*time.Minute), t0.Add(2*time.Hour)
		if err := db.TouchSession(ctx, s1.ID, seen, exp); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SessionByHash(ctx, "h1"); !got.LastSeenAt.Equal(seen) || !got.ExpiresAt.Equal(exp) {
			t.Errorf("after touch: last seen %v, expires %v; want %v, %v", got.LastSeenAt, got.ExpiresAt, seen, exp)
		}
		wantNotFound(t, "TouchSession(999)", db.TouchSession(ctx, 999, seen, exp))

		newSession("h2", bob, t0.Add(30*time.Minute))
		newSession("h3", alice, t0.Add(3*time.Hour))
		newSession("h4", alice, t0.Add(4*time.Hour))

		if err := db.DeleteSession(ctx, "h4"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteSession(ctx, "h4"); err != nil {
			t.Errorf("deleting a gone session: %v", err)
		}
		_, err = db.SessionByHash(ctx, "h4")
		wantNotFound(t, "deleted session", err)

		// h2 expires at t0+30m, h1 at t0+2h: only h2 is due at t0+1h.
		if n, err := db.DeleteExpiredSessions(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
		_, err = db.SessionByHash(ctx, "h2")
		wantNotFound(t, "expired session", err)

		if err := db.DeleteUserSessions(ctx, bob.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.SessionByHash(ctx, "h1")
		wantNotFound(t, "session of a user whose sessions were deleted", err)
		if _, err := db.SessionByHash(ctx, "h3"); err != nil {
			t.Errorf("another user's session: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0) // each database starts afresh
		ctx := context.Background()
		s1, t1, err := db.CreateToken(ctx, "ci", auth.RoleResponder)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		_, t2, err := db.CreateToken(ctx, "grafana", auth.RoleViewer)
		if err != nil {
			t.Fatal(err)
		}
		if !t1.CreatedAt.Equal(t0) {
			t.Errorf("created at = %v, want %v", t1.CreatedAt, t0)
		}

		clk.Advance(time.Minute)
		if err := db.RevokeToken(ctx, t1.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if err := db.RevokeToken(ctx, t1.ID); err != nil {
			t.Errorf("revoking again: %v", err)
		}
		wantNotFound(t, "RevokeToken(999)", db.RevokeToken(ctx, 999))
		_, err = db.TokenByHash(ctx, auth.HashToken(s1))
		wantNotFound(t, "revoked token", err)

		got, err := db.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != t2.ID || got[1].ID != t1.ID {
			t.Fatalf("ListTokens = %+v, want grafana then ci", got)
		}
		if got[0].RevokedAt != nil || got[0].Name != "grafana" || got[0].Role != auth.RoleViewer || !got[0].CreatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("token grafana = %+v", got[0])
		}
		// The first revocation's time stays.
		if r := got[1].RevokedAt; r == nil || !r.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("token ci revoked at %v, want %v", r, t0.Add(2*time.Minute))
		}
	})
}

// Two admins demoting each other at once must not both succeed.
func TestUpdateUserLastAdminRace(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		survivor := mustAddUser(t, db, "root@example.org", auth.RoleAdmin)
		for round := range 10 {
			other := mustAddUser(t, db, fmt.Sprintf("admin%d@example.org", round), auth.RoleAdmin)
			errs := make(chan error, 2)
			for _, id := range []int64{survivor.ID, other.ID} {
				go func() {
					_, err := db.UpdateUser(ctx, id, func(u *store.User) error { u.Role = auth.RoleViewer; return nil })
					errs <- err
				}()
			}
			var refused int
			for range 2 {
				var ce *validation.ConflictError
				if err := <-errs; errors.As(err, &ce) {
					refused++
				} else if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if refused != 1 {
				t.Fatalf("round %d: %d of 2 demotions refused, want 1", round, refused)
			}
			if u, _ := db.GetUser(ctx, other.ID); u.Role == auth.RoleAdmin {
				survivor = u
			}
		}
	})
}
