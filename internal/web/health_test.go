package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	var h map[string]string
	e.do(t, noAuth, "GET", "/healthz", nil).wantCode(t, http.StatusOK).decode(t, &h)
	if h["status"] != "ok" || h["version"] != "test-1.2.3" {
		t.Errorf("/healthz = %v, want status ok and the version", h)
	}

	tests := []struct {
		name   string
		down   bool
		code   int
		status string
	}{
		{"database up", false, http.StatusOK, "ready"},
		{"database down", true, http.StatusServiceUnavailable, "unavailable"},
		{"database back", false, http.StatusOK, "ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.store.down.Store(tt.down)
			var body map[string]string
			r := e.do(t, noAuth, "GET", "/readyz", nil).wantCode(t, tt.code)
			r.decode(t, &body)
			if body["status"] != tt.status {
				t.Errorf("%s: status %q, want %q", r, body["status"], tt.status)
			}
			if strings.Contains(string(r.body), dbError) {
				t.Errorf("%s: the answer leaks the database error", r)
			}
			// Liveness does not depend on the database.
			e.do(t, noAuth, "GET", "/healthz", nil).wantCode(t, http.StatusOK)
		})
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.ingest(t, alertBody("one", nil), alertBody("two", nil))
	e.ingest(t, alertBody("one", nil))
	e.do(t, viewer, "GET", "/api/v1/workitems", nil).wantCode(t, http.StatusOK)
	e.do(t, noAuth, "GET", "/api/v1/workitems", nil).wantCode(t, http.StatusUnauthorized)

	r := e.do(t, noAuth, "GET", "/metrics", nil).wantCode(t, http.StatusOK)
	text := string(r.body)
	want := []string{
		`vigil_ingest_alerts_total{outcome="created"} 2`,
		`vigil_ingest_alerts_total{outcome="unchanged"} 1`,
		`vigil_http_request_duration_seconds_count{code="200",route="POST /api/v1/alerts"} 2`,
		`vigil_http_request_duration_seconds_count{code="200",route="GET /api/v1/workitems"} 1`,
		`vigil_http_request_duration_seconds_count{code="401",route="GET /api/v1/workitems"} 1`,
		`vigil_ingest_transaction_seconds_count`,
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	// Raw paths are not labels: the route pattern is.
	if strings.Contains(text, `route="/api/v1/workitems/`) {
		t.Errorf("/metrics labels a raw path")
	}
}

func TestUnknownAPIPath(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/nothing", "/api/v3/alerts"} {
		r := e.do(t, noAuth, "GET", p, nil).wantCode(t, http.StatusNotFound)
		if got := r.apiErr(t).Error.Code; got != "not_found" {
			t.Errorf("%s: error.code %q, want not_found", r, got)
		}
	}
}

func TestIngestStopped(t *testing.T) {
	e := newEnv(t)
	e.stopIngest()
	tests := []struct {
		name, path string
		role       auth.Role
		body       any
	}{
		{"native", "/api/v1/alerts", responder, alertBody("late", nil)},
		{"alertmanager", "/api/v2/alerts", responder, []any{promAlert("Late", "10.0.0.9:9100", "warning", t0, t0.Add(time.Hour))}},
		{"pagerduty", "/v2/enqueue", noAuth, pdBody(t, "events_v2_enqueue_trigger_request.json", e.token[responder], "")},
		{"azure monitor", "/api/v1/webhooks/azure-monitor", responder, fixture(t, "common_alert_schema.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.role, "POST", tt.path, tt.body).wantCode(t, http.StatusServiceUnavailable)
			if got := r.apiErr(t).Error.Code; got != "unavailable" || r.hdr.Get("Retry-After") == "" {
				t.Errorf("%s: error.code %q Retry-After %q, want unavailable and a delay", r, got, r.hdr.Get("Retry-After"))
			}
		})
	}
	e.wantNoAlerts(t)
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	e.store.listFails.Store(true)
	r := e.do(t, viewer, "GET", "/api/v1/alerts", nil).wantCode(t, http.StatusInternalServerError)
	if got := r.apiErr(t); got.Error.Code != "internal" || strings.Contains(string(r.body), dbError) {
		t.Errorf("%s: want a bare internal error without the database's message", r)
	}
}
