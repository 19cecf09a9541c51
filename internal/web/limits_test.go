package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFilterTextCap: every free-text filter of the list endpoints is
// capped at 256 characters, with a 400 naming the field. A 50,000-byte q
// used to reach SQLite, which refused the LIKE pattern: a 500.
func TestFilterTextCap(t *testing.T) {
	e := newEnv(t)
	e.ingest(t, map[string]any{"source": "sentinel", "source_id": "al-1", "title": "Suspicious sign-in"})
	long := strings.Repeat("a", 50_000)
	tests := []struct {
		path  string
		field string
	}{
		{"/api/v1/alerts", "q"},
		{"/api/v1/alerts", "source"},
		{"/api/v1/workitems", "q"},
		{"/api/v1/workitems", "source"},
		{"/api/v1/workitems", "assignee"},
		{"/api/v1/workitems", "tag"},
		{"/api/v1/incidents", "source"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.field, func(t *testing.T) {
			for _, v := range []string{long, strings.Repeat("x", 257), strings.Repeat("é", 257)} {
				// Not wantCode: its message would quote the whole path.
				r := e.do(t, viewer, "GET", tt.path+"?"+url.Values{tt.field: {v}}.Encode(), nil)
				if r.code != http.StatusBadRequest {
					t.Fatalf("%s with a %d-byte %s: got %d %.200s, want 400", tt.path, len(v), tt.field, r.code, r.body)
				}
				if got := r.apiErr(t).Error.Field; got != tt.field {
					t.Errorf("%s %s: got field %q, want %q", tt.path, tt.field, got, tt.field)
				}
			}
			// 256 characters, even of two bytes each, are a filter.
			e.do(t, viewer, "GET", tt.path+"?"+url.Values{tt.field: {strings.Repeat("é", 256)}}.Encode(), nil).
				wantCode(t, http.StatusOK)
		})
	}
	t.Run("a short filter still matches", func(t *testing.T) {
		if got := e.alerts(t, "?q=suspicious"); len(got) != 1 {
			t.Errorf("got %d alerts, want 1", len(got))
		}
	})
}

// TestIncidentFieldLimits holds POST /api/v1/incidents to the limits
// IncidentInput documents.
func TestIncidentFieldLimits(t *testing.T) {
	e := newEnv(t)
	valid := func() map[string]any {
		return map[string]any{"source": "sentinel", "source_id": "inc-1", "title": "Account compromise"}
	}
	tests := []struct {
		name  string
		set   func(map[string]any)
		field string
	}{
		{"source over 64", func(m map[string]any) { m["source"] = strings.Repeat("s", 65) }, "source"},
		{"long source", func(m map[string]any) { m["source"] = strings.Repeat("s", 10_000) }, "source"},
		{"empty source", func(m map[string]any) { m["source"] = " " }, "source"},
		{"source_id over 512", func(m map[string]any) { m["source_id"] = strings.Repeat("i", 513) }, "source_id"},
		{"title over 512", func(m map[string]any) { m["title"] = strings.Repeat("t", 513) }, "title"},
		{"description over 32768", func(m map[string]any) { m["description"] = strings.Repeat("d", 32769) }, "description"},
		{"over 1000 alerts", func(m map[string]any) { m["alerts"] = make([]string, 1001) }, "alerts"},
		{"alert ref over 512", func(m map[string]any) { m["alerts"] = []string{"a", strings.Repeat("r", 513)} }, "alerts[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.set(in)
			r := e.do(t, responder, "POST", "/api/v1/incidents", in).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t).Error.Field; got != tt.field {
				t.Errorf("got field %q, want %q", got, tt.field)
			}
		})
	}
	t.Run("at the limits", func(t *testing.T) {
		in := valid()
		in["source"] = strings.Repeat("s", 64)
		in["source_id"] = strings.Repeat("i", 512)
		in["title"] = strings.Repeat("t", 512)
		in["alerts"] = []string{strings.Repeat("r", 512)}
		e.do(t, responder, "POST", "/api/v1/incidents", in).wantCode(t, http.StatusOK)
	})
}

// TestAlertmanagerTrailingGarbage: POST /api/v2/alerts refuses a body
// with anything but whitespace after the array, on the fast path (a
// well-formed array) as on the precise one (a malformed element).
func TestAlertmanagerTrailingGarbage(t *testing.T) {
	e := newEnv(t)
	const good = `[{"labels":{"alertname":"A","instance":"10.0.0.5:9100"}}]`
	const bad = `[{"labels":{"alertname":1}}]`
	for _, body := range []string{good + "garbage", good + good, good + "}", good + "]", bad + "}", bad + "garbage"} {
		r := e.do(t, responder, "POST", "/api/v2/alerts", body).wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != "body" {
			t.Errorf("%s: got field %q, want body", r, got)
		}
	}
	if got := e.alerts(t, "?source=alertmanager"); len(got) != 0 {
		t.Errorf("got %d alerts stored from refused bodies, want none", len(got))
	}
	e.do(t, responder, "POST", "/api/v2/alerts", good+" \r\n\t").wantCode(t, http.StatusOK)
	if got := e.alerts(t, "?source=alertmanager"); len(got) != 1 {
		t.Errorf("got %d alerts, want the one with trailing whitespace", len(got))
	}
}
