package ui_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// TestAuditPage checks that admin actions made in the UI show on the
// audit page and in its export, with the admin's name and address, and
// that neither ever shows a password or a token's secret.
func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	adm := e.as(t, admin)
	const newPassword = "a brand new passphrase 77"

	adm.post(t, "/admin/users", url.Values{"email": {"new.viewer@example.com"}, "password": {newPassword}, "role": {"viewer"}}).
		wantCode(t, http.StatusSeeOther)
	adm.post(t, idPath("/admin/users/%d", e.users[responder].ID), url.Values{"role": {"admin"}}).wantCode(t, http.StatusSeeOther)
	adm.post(t, idPath("/admin/users/%d", e.users[viewer].ID), url.Values{"disabled": {"true"}}).wantCode(t, http.StatusSeeOther)
	r := adm.post(t, "/admin/tokens", url.Values{"name": {"prometheus"}, "role": {"responder"}}).wantCode(t, http.StatusOK)
	m := regexp.MustCompile(`<code id="new-token">([^<]+)</code>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s: no new token shown", r)
	}
	secret := m[1]
	tok, err := e.db.TokenByHash(t.Context(), auth.HashToken(secret))
	if err != nil {
		t.Fatal(err)
	}
	adm.post(t, idPath("/admin/tokens/%d/revoke", tok.ID), nil).wantCode(t, http.StatusSeeOther)

	page := adm.get(t, "/admin/audit").wantCode(t, http.StatusOK).
		wantBody(t, "user.added", "new.viewer@example.com", "user.role_changed", "user.disabled",
			"token.created", "token.revoked", email[admin], "127.0.0.1", `href="/admin/audit"`).
		wantNoBody(t, secret, newPassword, password)
	rows := auditTable(t, page)
	if i, j := strings.Index(rows, "token.revoked"), strings.Index(rows, "user.added"); i > j {
		t.Errorf("the audit page is not newest first: token.revoked at %d, user.added at %d", i, j)
	}
	rows = auditTable(t, adm.get(t, "/admin/audit?action=token.created").wantCode(t, http.StatusOK))
	if !strings.Contains(rows, "token.created") || strings.Contains(rows, "user.added") || strings.Contains(rows, "token.revoked") {
		t.Errorf("audit page filtered by token.created lists %s", rows)
	}
	adm.get(t, "/admin/audit?action="+strings.Repeat("x", 300)).wantCode(t, http.StatusBadRequest)

	exp := adm.get(t, "/admin/audit/export").wantCode(t, http.StatusOK).wantNoBody(t, secret, newPassword, password)
	if ct := exp.hdr.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("export Content-Type = %q, want application/x-ndjson", ct)
	}
	if cd := exp.hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("export Content-Disposition = %q, want an attachment", cd)
	}
	var actions []string
	sc := bufio.NewScanner(strings.NewReader(exp.body))
	for sc.Scan() {
		var en store.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &en); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		if en.Actor != email[admin] {
			t.Errorf("exported entry %s by %q, want %s", en.Action, en.Actor, email[admin])
		}
		actions = append(actions, en.Action)
	}
	want := []string{"token.revoked", "token.created", "user.disabled", "user.role_changed", "user.added"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("exported actions = %v, want %v", actions, want)
	}
}

// TestAuditExportPages checks that the export streams past one page of
// the store, and that the page links to older entries.
func TestAuditExportPages(t *testing.T) {
	e := newEnv(t)
	const n = store.MaxPage + 7
	for i := range n {
		if err := e.db.RecordAudit(t.Context(), store.AuditEntry{Actor: "cli", Action: "user.added", Target: itoa(int64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	adm := e.as(t, admin)
	exp := adm.get(t, "/admin/audit/export?action=user.added").wantCode(t, http.StatusOK)
	if got := strings.Count(exp.body, "\n"); got != n {
		t.Errorf("export has %d lines, want %d", got, n)
	}
	page := adm.get(t, "/admin/audit").wantCode(t, http.StatusOK)
	m := regexp.MustCompile(`href="(/admin/audit\?after=\d+)" rel="next"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("%s: no link to older entries", page)
	}
	// Entry i has id i+1: the second page starts below the first's last.
	older := auditTable(t, adm.get(t, m[1]).wantCode(t, http.StatusOK))
	if want := "<td>" + itoa(n-101) + "</td>"; !strings.Contains(older, want) || strings.Contains(older, "<td>"+itoa(n-100)+"</td>") {
		t.Errorf("second page lacks %s or repeats the first page's last entry: %s", want, older)
	}
}

// auditTable returns the table of entries of an audit page.
func auditTable(t *testing.T, r resp) string {
	t.Helper()
	i := strings.Index(r.body, `<table class="list" id="audit">`)
	if i < 0 {
		t.Fatalf("%s: no table of entries", r)
	}
	j := strings.Index(r.body[i:], "</table>")
	return r.body[i : i+j]
}

// TestAuditForbidden checks that only admins read the audit log.
func TestAuditForbidden(t *testing.T) {
	e := newEnv(t)
	for _, role := range []auth.Role{viewer, responder} {
		c := e.as(t, role)
		for _, p := range []string{"/admin/audit", "/admin/audit/export"} {
			c.get(t, p).wantCode(t, http.StatusForbidden).wantNoBody(t, "ndjson")
		}
	}
	e.newClient().get(t, "/admin/audit/export").wantCode(t, http.StatusSeeOther).
		wantLocation(t, "/login?next=%2Fadmin%2Faudit%2Fexport")
}
