package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
)

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, alertBody("Existing", nil)).Results[0].WorkItemID
	tests := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/alerts", alertBody("x", nil)},
		{"GET", "/api/v1/alerts", nil},
		{"GET", "/api/v1/alerts/1", nil},
		{"GET", "/api/v1/alerts/1/versions", nil},
		{"GET", "/api/v1/workitems", nil},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d", id), nil},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d", id), map[string]any{"assignee": "x"}},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Approved"}},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/timeline", id), nil},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/comments", id), nil},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/comments", id), map[string]any{"body": "x"}},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/tasks", id), nil},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/tasks", id), map[string]any{"title": "x"}},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d/tasks/1", id), map[string]any{"done": true}},
		{"GET", "/api/v1/process", nil},
		{"POST", "/api/v2/alerts", "[]"},
		{"POST", "/api/v1/webhooks/azure-monitor", "{}"},
		{"GET", "/debug/pprof/", nil},
		{"GET", "/debug/pprof/heap", nil},
	}
	creds := []struct {
		name string
		hdr  []string
	}{
		{"no token", nil},
		{"wrong token", []string{"Authorization", "Bearer vgl_not-a-real-token"}},
		{"empty bearer", []string{"Authorization", "Bearer "}},
		{"basic auth", []string{"Authorization", "Basic dXNlcjpwYXNz"}},
	}
	for _, c := range creds {
		for _, tt := range tests {
			t.Run(c.name+" "+tt.method+" "+tt.path, func(t *testing.T) {
				r := e.do(t, noAuth, tt.method, tt.path, tt.body, c.hdr...).wantCode(t, http.StatusUnauthorized)
				if got := r.hdr.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", r, got)
				}
				if strings.HasPrefix(tt.path, "/api/v2/") {
					// Alertmanager's shape: a JSON string, which amtool decodes.
					var msg string
					if err := json.Unmarshal(r.body, &msg); err != nil || !strings.Contains(msg, "Bearer") {
						t.Errorf("%s: want a JSON string naming the credential, got %s", r, r.body)
					}
				} else if got := r.apiErr(t).Error.Code; got != "unauthorized" {
					t.Errorf("%s: error.code %q, want unauthorized", r, got)
				}
			})
		}
	}
	if it := e.item(t, id); it.Rev != 1 {
		t.Errorf("unauthenticated requests changed the item: rev %d", it.Rev)
	}
	if got := len(e.alerts(t, "")); got != 1 {
		t.Errorf("unauthenticated requests stored alerts: %d, want 1", got)
	}
}

func TestViewerCannotChange(t *testing.T) {
	e := newEnv(t)
	a := e.ingest(t, alertBody("Read only", nil)).Results[0]
	id := a.WorkItemID
	before := e.timeline(t, id)
	tests := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/alerts", alertBody("viewer alert", nil)},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d", id), map[string]any{"assignee": "mallory"}},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Approved"}},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/comments", id), map[string]any{"body": "hi"}},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/tasks", id), map[string]any{"title": "x"}},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d/tasks/1", id), map[string]any{"done": true}},
		{"POST", "/api/v2/alerts", `[{"labels":{"alertname":"ViewerAlert"}}]`},
		{"POST", "/api/v1/webhooks/azure-monitor", fixture(t, "common_alert_schema.json")},
		{"GET", "/debug/pprof/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, viewer, tt.method, tt.path, tt.body).wantCode(t, http.StatusForbidden)
			if strings.HasPrefix(tt.path, "/api/v2/") {
				var msg string
				if err := json.Unmarshal(r.body, &msg); err != nil || !strings.Contains(msg, "viewer") {
					t.Errorf("%s: want a JSON string naming the role, got %s", r, r.body)
				}
				return
			}
			if got := r.apiErr(t); got.Error.Code != "forbidden" || !strings.Contains(got.Error.Message, "viewer") {
				t.Errorf("%s: got %+v, want forbidden naming the role", r, got.Error)
			}
		})
	}
	// The Azure Monitor query-string token is checked the same way.
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor?token="+e.token[viewer], fixture(t, "common_alert_schema.json")).
		wantCode(t, http.StatusForbidden)

	it := e.item(t, id)
	if it.Rev != 1 || it.State != "New" || it.Assignee != "" {
		t.Errorf("viewer requests changed the item: %+v", it)
	}
	if after := e.timeline(t, id); len(after) != len(before) {
		t.Errorf("viewer requests added timeline entries: %d → %d", len(before), len(after))
	}
	if got := e.alerts(t, ""); len(got) != 1 {
		t.Errorf("viewer requests stored alerts: got %d, want 1", len(got))
	}

	// What the viewer may do.
	reads := []string{
		"/api/v1/alerts",
		fmt.Sprintf("/api/v1/alerts/%d", a.AlertID),
		fmt.Sprintf("/api/v1/alerts/%d/versions", a.AlertID),
		"/api/v1/workitems",
		fmt.Sprintf("/api/v1/workitems/%d", id),
		fmt.Sprintf("/api/v1/workitems/%d/timeline", id),
		fmt.Sprintf("/api/v1/workitems/%d/comments", id),
		fmt.Sprintf("/api/v1/workitems/%d/tasks", id),
		"/api/v1/process",
	}
	for _, p := range reads {
		e.do(t, viewer, "GET", p, nil).wantCode(t, http.StatusOK)
	}
}

func TestPprofAdminOnly(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		role auth.Role
		path string
		code int
	}{
		{responder, "/debug/pprof/", http.StatusForbidden},
		{responder, "/debug/pprof/goroutine?debug=1", http.StatusForbidden},
		{responder, "/debug/pprof/profile?seconds=1", http.StatusForbidden},
		{responder, "/debug/pprof/trace?seconds=1", http.StatusForbidden},
		{viewer, "/debug/pprof/heap", http.StatusForbidden},
		{admin, "/debug/pprof/", http.StatusOK},
		{admin, "/debug/pprof/goroutine?debug=1", http.StatusOK},
		{admin, "/debug/pprof/heap", http.StatusOK},
		{admin, "/debug/pprof/nosuchprofile", http.StatusNotFound},
		{admin, "/debug/pprof/trace?seconds=0.1", http.StatusOK},
		{admin, "/debug/pprof/profile?seconds=1", http.StatusOK}, // the shortest a CPU profile can be
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+" "+tt.path, func(t *testing.T) {
			r := e.do(t, tt.role, "GET", tt.path, nil).wantCode(t, tt.code)
			if tt.code == http.StatusOK && len(r.body) == 0 {
				t.Errorf("%s: empty profile", r)
			}
		})
	}
}
