package account_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// TestAuditAdminActions checks that every admin action on users, tokens
// and integration keys leaves one audit entry naming the admin, the
// action, its target and the admin's address, and that no secret (a
// password, a token or a key) is ever written to it.
func TestAuditAdminActions(t *testing.T) {
	e := setup(t)
	admin := actorOf(e.root)
	ctx := auth.WithClientIP(e.ctx, "198.51.100.4")
	const newPassword = "another long passphrase 42"

	bob, err := e.svc.AddUser(ctx, admin, "bob@example.org", auth.RoleViewer, password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetRole(ctx, admin, bob.ID, auth.RoleResponder); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetDisabled(ctx, admin, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetDisabled(ctx, admin, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ResetPassword(ctx, admin, bob.ID, newPassword); err != nil {
		t.Fatal(err)
	}
	tokSecret, tok, err := e.svc.CreateToken(ctx, admin, "prometheus", auth.RoleResponder)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeToken(ctx, admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	keySecret, key, err := e.svc.CreateIntegrationKey(ctx, admin, "pd", auth.SourcePagerDuty)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeIntegrationKey(ctx, admin, key.ID); err != nil {
		t.Fatal(err)
	}
	// Refused actions record nothing.
	viewer := auth.Actor{Kind: "user", ID: bob.ID, Name: bob.Email, Role: auth.RoleViewer}
	if _, _, err := e.svc.CreateToken(ctx, viewer, "sneaky", auth.RoleAdmin); err == nil {
		t.Fatal("a viewer created a token")
	}

	got, err := e.db.ListAudit(e.ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(got) // oldest first, the order of the actions above
	type row struct{ action, target string }
	want := []row{
		{"user.added", "bob@example.org"},
		{"user.role_changed", "bob@example.org"},
		{"user.disabled", "bob@example.org"},
		{"user.enabled", "bob@example.org"},
		{"user.password_reset", "bob@example.org"},
		{"token.created", "token:" + itoa(tok.ID)},
		{"token.revoked", "token:" + itoa(tok.ID)},
		{"integration_key.created", ""},
		{"integration_key.revoked", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("audit log has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || (w.target != "" && g.Target != w.target) {
			t.Errorf("entry %d = %s %q, want %s %q", i, g.Action, g.Target, w.action, w.target)
		}
		if g.Actor != "root@example.org" || g.IP != "198.51.100.4" {
			t.Errorf("entry %d (%s) by %q from %q, want root@example.org from 198.51.100.4", i, g.Action, g.Actor, g.IP)
		}
	}
	if d := got[1].Detail; d["from"] != "viewer" || d["to"] != "responder" {
		t.Errorf("role change detail = %v, want from viewer to responder", d)
	}
	if !strings.Contains(got[7].Target, "pd") {
		t.Errorf("key entry target = %q, want it to name the key", got[7].Target)
	}

	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range map[string]string{"password": password, "new password": newPassword,
		"token secret": tokSecret, "key secret": keySecret, "password hash": passwordHash()} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the audit log holds the %s", what)
		}
	}
}

// TestAuditScrubsSecretDetail checks that a caller's detail cannot put a
// secret into the log under a secret-sounding key.
func TestAuditScrubsSecretDetail(t *testing.T) {
	e := setup(t)
	e.svc.AuditForTest(e.ctx, actorOf(e.root), "test.action", "x", map[string]any{
		"password": "hunter2hunter2", "client_secret": "s3cr3t", "routing_key": "vgi_abc", "token_id": 7, "role": "admin",
		"token_name": "vgl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "prefix": "vgi_AbCd"})
	got, err := e.db.ListAudit(e.ctx, store.AuditFilter{Action: "test.action"})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAudit = %v, %v; want one entry", got, err)
	}
	d := got[0].Detail
	for _, k := range []string{"password", "client_secret", "routing_key", "token_name"} {
		if d[k] != "[redacted]" {
			t.Errorf("detail[%s] = %v, want [redacted]", k, d[k])
		}
	}
	if d["token_id"] != float64(7) || d["role"] != "admin" || d["prefix"] != "vgi_AbCd" {
		t.Errorf("detail = %v, want token_id, role and the key's hint kept", d)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
