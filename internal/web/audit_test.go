package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
)

type auditPage struct {
	Items []struct {
		ID     int64          `json:"id"`
		Actor  string         `json:"actor"`
		Action string         `json:"action"`
		Target string         `json:"target"`
		Detail map[string]any `json:"detail"`
		IP     string         `json:"ip"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// TestAuditAPI checks GET /api/v1/audit: admins only, newest first, paged,
// filtered, with the admin's address, and without the key's secret.
func TestAuditAPI(t *testing.T) {
	e, _ := keyEnv(t)
	k1 := e.createKey(t, "am-prod", auth.SourceAlertmanager)
	k2 := e.createKey(t, "pd-prod", auth.SourcePagerDuty)
	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/integration-keys/%d/revoke", k1.ID), nil).wantCode(t, http.StatusNoContent)

	for _, role := range []auth.Role{noAuth, viewer, responder} {
		want := http.StatusForbidden
		if role == noAuth {
			want = http.StatusUnauthorized
		}
		e.do(t, role, "GET", "/api/v1/audit", nil).wantCode(t, want)
	}

	var p auditPage
	r := e.do(t, admin, "GET", "/api/v1/audit", nil).wantCode(t, http.StatusOK)
	r.decode(t, &p)
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Action)
		if it.Actor != e.actor(admin) || it.IP != "127.0.0.1" {
			t.Errorf("entry %s by %q from %q, want %q from 127.0.0.1", it.Action, it.Actor, it.IP, e.actor(admin))
		}
	}
	want := []string{"integration_key.revoked", "integration_key.created", "integration_key.created"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("actions = %v, want %v (newest first)", got, want)
	}
	for _, secret := range []string{k1.Secret, k2.Secret} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the audit log shows a key's secret: %s", r.body)
		}
	}

	var first auditPage
	e.do(t, admin, "GET", "/api/v1/audit?limit=2", nil).wantCode(t, http.StatusOK).decode(t, &first)
	if len(first.Items) != 2 || first.NextCursor == "" {
		t.Fatalf("first page of 2 = %+v, want 2 entries and a cursor", first)
	}
	var rest auditPage
	e.do(t, admin, "GET", "/api/v1/audit?limit=2&cursor="+first.NextCursor, nil).wantCode(t, http.StatusOK).decode(t, &rest)
	if len(rest.Items) != 1 || rest.NextCursor != "" || rest.Items[0].Action != "integration_key.created" {
		t.Errorf("second page = %+v, want the oldest entry and no cursor", rest)
	}
	var revoked auditPage
	e.do(t, admin, "GET", "/api/v1/audit?action=integration_key.revoked", nil).wantCode(t, http.StatusOK).decode(t, &revoked)
	if len(revoked.Items) != 1 || !strings.Contains(revoked.Items[0].Target, "am-prod") {
		t.Errorf("revocations = %+v, want the one of am-prod", revoked)
	}
	r = e.do(t, admin, "GET", "/api/v1/audit?action="+strings.Repeat("x", 300), nil).wantCode(t, http.StatusBadRequest)
	if f := r.apiErr(t).Error.Field; f != "action" {
		t.Errorf("oversized action filter: error field = %q, want action", f)
	}
}
