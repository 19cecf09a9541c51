package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/web"
)

func TestPostAlertsSingleAndArray(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		body any
		want []string // titles, in answer order
	}{
		{"single object", alertBody("Single", nil), []string{"Single"}},
		{"array", []any{alertBody("First", nil), alertBody("Second", map[string]any{"source": "zeek"})}, []string{"First", "Second"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, responder, "POST", "/api/v1/alerts", tt.body).wantCode(t, http.StatusOK)
			var a ingestAnswer
			r.decode(t, &a)
			if a.Accepted != len(tt.want) || len(a.Results) != len(tt.want) {
				t.Fatalf("%s: got accepted %d with %d results, want %d", r, a.Accepted, len(a.Results), len(tt.want))
			}
			for i, res := range a.Results {
				if res.AlertID <= 0 || res.WorkItemID <= 0 {
					t.Errorf("results[%d] = %+v, want positive alert_id and workitem_id", i, res)
				}
				if res.Version != 1 || res.Outcome != "created" {
					t.Errorf("results[%d]: got version %d outcome %q, want 1 created", i, res.Version, res.Outcome)
				}
				// The answer comes after the commit: the next read sees it.
				var got apiAlert
				e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d", res.AlertID), nil).wantCode(t, http.StatusOK).decode(t, &got)
				if got.Title != tt.want[i] || got.WorkItemID != res.WorkItemID || got.Version != 1 {
					t.Errorf("GET alert %d: got title %q item %d version %d, want %q %d 1",
						res.AlertID, got.Title, got.WorkItemID, got.Version, tt.want[i], res.WorkItemID)
				}
				it := e.item(t, res.WorkItemID)
				if it.Title != tt.want[i] || it.State != "New" || it.AlertCount != 1 || !slices.Contains(it.AlertIDs, res.AlertID) {
					t.Errorf("GET work item %d: got %+v, want title %q, state New, alert %d linked", res.WorkItemID, it, tt.want[i], res.AlertID)
				}
			}
		})
	}
}

func TestPostAlertsStoresWhatWasSent(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{
		"source": " Suricata ", "source_id": "sid-1", "product": "Suricata IDS", "title": "  ET SCAN  ",
		"description": "inbound scan", "severity": "HIGH", "status": "in_progress",
		"entities": []map[string]any{
			{"kind": "ip", "value": "2001:db8:0:0::1"},
			{"kind": "host", "value": "DB01.Example.com."},
			{"kind": "filehash", "value": strings.Repeat("AB", 32)},
		},
		"first_seen": "2026-03-02T08:00:00+01:00", "last_seen": "2026-03-02T09:00:00Z",
	}
	a := e.ingest(t, body)
	var got apiAlert
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d", a.Results[0].AlertID), nil).wantCode(t, http.StatusOK).decode(t, &got)
	checks := []struct{ field, got, want string }{
		{"source", got.Source, "suricata"},
		{"source_id", got.SourceID, "sid-1"},
		{"title", got.Title, "ET SCAN"},
		{"severity", got.Severity, "high"},
		{"status", got.Status, "in_progress"},
		{"first_seen", got.FirstSeen.UTC().Format(time.RFC3339), "2026-03-02T07:00:00Z"},
		{"last_seen", got.LastSeen.UTC().Format(time.RFC3339), "2026-03-02T09:00:00Z"},
		{"entities[0].value", got.Entities[0].Value, "2001:db8::1"},
		{"entities[1].value", got.Entities[1].Value, "db01.example.com"},
		{"entities[2].value", got.Entities[2].Value, strings.Repeat("ab", 32)},
		{"entities[2].attrs.algorithm", got.Entities[2].Attrs["algorithm"], "SHA256"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.field, c.got, c.want)
		}
	}
	// Without a raw payload of its own, the alert keeps the posted object.
	if !strings.Contains(string(got.Raw), `"sid-1"`) {
		t.Errorf("raw = %s, want the posted object", got.Raw)
	}
}

func TestPostAlertsDedupAndReopen(t *testing.T) {
	e := newEnv(t)
	alert := alertBody("Brute force on vpn01", map[string]any{"source_id": "bf-1"})
	first := e.ingest(t, alert).Results[0]

	e.clk.Advance(time.Minute)
	again := e.ingest(t, alertBody("Brute force on vpn01", map[string]any{"source_id": "bf-1", "severity": "critical"})).Results[0]
	if again.AlertID != first.AlertID || again.WorkItemID != first.WorkItemID || again.Version != 2 || again.Outcome != "updated" {
		t.Errorf("repeated alert: got %+v, want alert %d item %d version 2 outcome updated", again, first.AlertID, first.WorkItemID)
	}
	var versions struct {
		Items []struct {
			Version  int    `json:"version"`
			Severity string `json:"severity"`
		} `json:"items"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d/versions", first.AlertID), nil).wantCode(t, http.StatusOK).decode(t, &versions)
	if len(versions.Items) != 2 || versions.Items[0].Severity != "high" || versions.Items[1].Severity != "critical" {
		t.Errorf("versions = %+v, want 2: high then critical", versions.Items)
	}

	// A re-send of the same firing changes nothing: no version.
	crit := alertBody("Brute force on vpn01", map[string]any{"source_id": "bf-1", "severity": "critical"})
	if same := e.ingest(t, crit).Results[0]; same.Outcome != "unchanged" || same.Version != 2 {
		t.Errorf("re-send: got %+v, want outcome unchanged at version 2", same)
	}

	// Close the item. Re-sends of the firing, still open at its source,
	// never reopen it; a resolution goes on the closed item; only a new
	// firing after that opens a new item.
	id := first.WorkItemID
	for _, step := range []map[string]any{{"to": "Approved"}, {"to": "Active"}, {"to": "Verification"}, {"to": "Closed", "reason": "password reset"}} {
		e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), step).wantCode(t, http.StatusOK)
	}
	if re := e.ingest(t, crit).Results[0]; re.Outcome != "unchanged" || re.WorkItemID != id {
		t.Errorf("re-send after Closed: got %+v, want unchanged on item %d", re, id)
	}
	resolved := alertBody("Brute force on vpn01", map[string]any{"source_id": "bf-1", "severity": "critical", "status": "resolved"})
	if re := e.ingest(t, resolved).Results[0]; re.Outcome != "updated" || re.WorkItemID != id || re.Version != 3 {
		t.Errorf("resolved after Closed: got %+v, want updated on item %d at version 3", re, id)
	}
	re := e.ingest(t, crit).Results[0]
	if re.Outcome != "reopened" || re.AlertID != first.AlertID || re.WorkItemID == id || re.Version != 4 {
		t.Errorf("new firing after Closed: got %+v, want outcome reopened, alert %d, a new item, version 4", re, first.AlertID)
	}
	it := e.item(t, re.WorkItemID)
	if it.PreviousID != id || it.State != "New" {
		t.Errorf("new item: got previous_id %d state %q, want previous_id %d state New", it.PreviousID, it.State, id)
	}
	if old := e.item(t, id); old.State != "Closed" {
		t.Errorf("old item state = %q, want Closed", old.State)
	}
	tl := e.timeline(t, id)
	if last := tl[len(tl)-1]; last.Kind != "reopened" || !strings.Contains(last.Msg, "after it was resolved at the source") {
		t.Errorf("old item's last timeline entry = %+v, want kind reopened saying it fired after it was resolved", last)
	}
	if prev := tl[len(tl)-2]; !strings.Contains(prev.Msg, "resolved at the source") || strings.Contains(prev.Msg, "fired again") {
		t.Errorf("old item's resolution entry = %+v, want \"resolved at the source\", not \"fired again\"", prev)
	}
}

func TestPostAlertsBadInput(t *testing.T) {
	e := newEnv(t)
	good := alertBody("Good", nil)
	tests := []struct {
		name      string
		body      string
		wantField string
	}{
		{"malformed JSON", `{"source": "x", "title": }`, "body"},
		{"truncated JSON", `{"source": "x"`, "body"},
		{"unknown field", `{"source":"x","title":"t","sevrity":"high"}`, "sevrity"},
		{"unknown field in element", `[{"source":"x","title":"t"},{"source":"x","title":"t","id":7}]`, "[1].id"},
		{"wrong type", `{"source":"x","title":"t","severity":3}`, "severity"},
		{"wrong type of entities", `{"source":"x","title":"t","entities":{"kind":"ip"}}`, "entities"},
		{"element not an object", `[{"source":"x","title":"t"}, "alert"]`, "[1]"},
		{"bad severity", `{"source":"x","title":"t","severity":"urgent"}`, "severity"},
		{"bad severity in element", `[{"source":"x","title":"t"},{"source":"x","title":"t","severity":"urgent"}]`, "[1].severity"},
		{"bad status", `{"source":"x","title":"t","status":"open"}`, "status"},
		{"bad entity", `[{"source":"x","title":"t"},{"source":"x","title":"t","entities":[{"kind":"ip","value":"10.0.0.300"}]}]`, "[1].entities[0].value"},
		{"bad entity kind", `{"source":"x","title":"t","entities":[{"kind":"mac","value":"aa"}]}`, "entities[0].kind"},
		{"bad time", `{"source":"x","title":"t","first_seen":"yesterday"}`, "first_seen"},
		{"bad time in element", `[{"source":"x","title":"t","last_seen":"2026-13-01T00:00:00Z"}]`, "[0].last_seen"},
		{"last before first", `{"source":"x","title":"t","first_seen":"2026-03-02T09:00:00Z","last_seen":"2026-03-01T09:00:00Z"}`, "last_seen"},
		{"missing title", `{"source":"x"}`, "title"},
		{"missing source", `{"title":"t"}`, "source"},
		{"empty array", `[]`, "body"},
		{"empty body", ``, "body"},
		{"blank body", " \n\t", "body"},
		{"trailing data after object", `{"source":"x","title":"t"} {"source":"y","title":"u"}`, "body"},
		{"trailing bracket after object", `{"source":"x","title":"t"}]`, "body"},
		{"trailing brace after array", `[{"source":"x","title":"t"}]}`, "body"},
		{"unterminated array", `[{"source":"x","title":"t"}`, "body"},
		{"valid then invalid", mustJSON(t, []any{good, alertBody("", nil)}), "[1].title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, responder, "POST", "/api/v1/alerts", tt.body).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t); got.Error.Field != tt.wantField || got.Error.Code != "invalid" {
				t.Errorf("%s: got error.code %q error.field %q, want invalid %q", r, got.Error.Code, got.Error.Field, tt.wantField)
			}
			e.wantNoAlerts(t)
		})
	}
}

func TestPostAlertsTooLarge(t *testing.T) {
	e := newEnv(t, func(o *web.Options) { o.MaxBody = 1024 })
	small := alertBody("fits", nil)
	e.ingest(t, small) // a body under the limit is accepted
	var big []any
	for i := range 20 {
		big = append(big, alertBody(fmt.Sprintf("alert %d with a long enough title", i), nil))
	}
	tests := []struct {
		name, path string
		body       any
	}{
		{"native", "/api/v1/alerts", big},
		{"alertmanager", "/api/v2/alerts", strings.Repeat(" ", 2048) + "[]"},
		{"azure monitor", "/api/v1/webhooks/azure-monitor", strings.Repeat(" ", 2048) + "{}"},
		{"pagerduty", "/v2/enqueue", strings.Repeat(" ", 2048) + "{}"},
	}
	// Bodies that carry no alerts have a fixed 1 MiB cap instead.
	id := e.alerts(t, "")[0].WorkItemID
	huge := map[string]any{"body": strings.Repeat("x", 1<<20)}
	tests = append(tests,
		struct {
			name, path string
			body       any
		}{"comment", fmt.Sprintf("/api/v1/workitems/%d/comments", id), huge},
		struct {
			name, path string
			body       any
		}{"transition", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Removed", "reason": huge["body"]}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, responder, "POST", tt.path, tt.body).wantCode(t, http.StatusRequestEntityTooLarge)
			if got := r.apiErr(t); got.Error.Code != "too_large" || got.Error.Field != "body" {
				t.Errorf("%s: got code %q field %q, want too_large body", r, got.Error.Code, got.Error.Field)
			}
		})
	}
	if got := e.alerts(t, ""); len(got) != 1 {
		t.Errorf("got %d alerts, want only the one under the limit", len(got))
	}
	if it := e.item(t, id); it.Rev != 1 || it.State != "New" {
		t.Errorf("oversized bodies changed the item: %+v", it)
	}
	// A comment just under the cap is not rejected for its size.
	r := e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/comments", id), map[string]any{"body": strings.Repeat("x", 1<<19)})
	if r.code == http.StatusRequestEntityTooLarge {
		t.Errorf("%s: a 512 KiB body hit the 1 MiB cap", r)
	}
}

func TestListAlerts(t *testing.T) {
	e := newEnv(t)
	// One request each, so that the ids follow this order.
	e.ingest(t, alertBody("SSH brute force", map[string]any{"source": "wazuh", "severity": "high"}))
	e.ingest(t, alertBody("Malware found", map[string]any{"source": "defender", "severity": "critical", "status": "resolved"}))
	e.ingest(t, alertBody("Port scan", map[string]any{"source": "wazuh", "severity": "low"}))
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"Port scan", "Malware found", "SSH brute force"}},
		{"?source=wazuh", []string{"Port scan", "SSH brute force"}},
		{"?severity=critical", []string{"Malware found"}},
		{"?status=resolved", []string{"Malware found"}},
		{"?status=new&source=wazuh&severity=low", []string{"Port scan"}},
		{"?q=BRUTE", []string{"SSH brute force"}},
		{"?q=nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var titles []string
			for _, a := range e.alerts(t, tt.query) {
				titles = append(titles, a.Title)
				if len(a.Raw) != 0 {
					t.Errorf("alert %d in a list carries raw %s, want none", a.ID, a.Raw)
				}
			}
			if !slices.Equal(titles, tt.want) {
				t.Errorf("GET /api/v1/alerts%s: got %q, want %q", tt.query, titles, tt.want)
			}
		})
	}

	// Paging.
	var page struct {
		Items      []apiAlert `json:"items"`
		NextCursor string     `json:"next_cursor"`
	}
	e.do(t, viewer, "GET", "/api/v1/alerts?limit=2", nil).wantCode(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: got %d items, cursor %q; want 2 and a cursor", len(page.Items), page.NextCursor)
	}
	cursor := page.NextCursor
	page.NextCursor = ""
	e.do(t, viewer, "GET", "/api/v1/alerts?limit=2&cursor="+cursor, nil).wantCode(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Title != "SSH brute force" || page.NextCursor != "" {
		t.Errorf("second page: got %+v cursor %q, want only SSH brute force and no cursor", page.Items, page.NextCursor)
	}

	bad := []struct{ query, field string }{
		{"?status=open", "status"},
		{"?severity=urgent", "severity"},
		{"?limit=0", "limit"},
		{"?limit=501", "limit"},
		{"?limit=ten", "limit"},
		{"?cursor=abc", "cursor"},
		{"?cursor=-4", "cursor"},
	}
	for _, b := range bad {
		r := e.do(t, viewer, "GET", "/api/v1/alerts"+b.query, nil).wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != b.field {
			t.Errorf("%s: got error.field %q, want %q", r, got, b.field)
		}
	}
}

func TestGetAlertErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		path  string
		code  int
		field string
	}{
		{"/api/v1/alerts/42", http.StatusNotFound, ""},
		{"/api/v1/alerts/42/versions", http.StatusNotFound, ""},
		{"/api/v1/alerts/abc", http.StatusBadRequest, "id"},
		{"/api/v1/alerts/0/versions", http.StatusBadRequest, "id"},
	}
	for _, tt := range tests {
		r := e.do(t, viewer, "GET", tt.path, nil).wantCode(t, tt.code)
		if got := r.apiErr(t).Error.Field; got != tt.field {
			t.Errorf("%s: got error.field %q, want %q", r, got, tt.field)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	return string(mustJSONBytes(t, v))
}
