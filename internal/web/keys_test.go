package web_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/web"
)

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keyEnv is an env whose server manages integration keys through the
// account service, logging to a buffer.
func keyEnv(t *testing.T) (*env, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	e := newEnv(t, func(o *web.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.Keys = account.New(o.Store.(*pingStore).DB, o.Clock, account.Options{})
	})
	return e, logs
}

type createdKey struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Hint   string `json:"hint"`
	Secret string `json:"secret"`
}

func (e *env) createKey(t *testing.T, name, source string) createdKey {
	t.Helper()
	var k createdKey
	e.do(t, admin, "POST", "/api/v1/integration-keys", map[string]string{"name": name, "source": source}).
		wantCode(t, http.StatusCreated).decode(t, &k)
	if !strings.HasPrefix(k.Secret, "vgi_") || !strings.HasPrefix(k.Secret, k.Hint) || k.Source != source {
		t.Fatalf("created key %+v: want a vgi_ secret starting with its hint, for %s", k, source)
	}
	return k
}

func bearerHdr(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// Only admins manage keys, and a listed key never shows its secret.
func TestIntegrationKeyAdmin(t *testing.T) {
	e, _ := keyEnv(t)
	k := e.createKey(t, "prometheus prod", "alertmanager")
	for _, role := range []auth.Role{viewer, responder} {
		e.do(t, role, "GET", "/api/v1/integration-keys", nil).wantCode(t, http.StatusForbidden)
		e.do(t, role, "POST", "/api/v1/integration-keys", map[string]string{"name": "x", "source": "api"}).wantCode(t, http.StatusForbidden)
		e.do(t, role, "POST", fmt.Sprintf("/api/v1/integration-keys/%d/revoke", k.ID), nil).wantCode(t, http.StatusForbidden)
	}
	r := e.do(t, admin, "GET", "/api/v1/integration-keys", nil).wantCode(t, http.StatusOK)
	if strings.Contains(string(r.body), k.Secret) || !strings.Contains(string(r.body), k.Hint) {
		t.Errorf("%s: the list must show the hint and never the secret", r)
	}
	for _, bad := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"name": "x", "source": "splunk"}, "source"},
		{map[string]string{"name": " ", "source": "api"}, "name"},
		{map[string]string{"name": strings.Repeat("n", 101), "source": "api"}, "name"},
	} {
		r := e.do(t, admin, "POST", "/api/v1/integration-keys", bad.body).wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != bad.field {
			t.Errorf("%s: field %q, want %q", r, got, bad.field)
		}
	}
	e.do(t, admin, "POST", "/api/v1/integration-keys/999/revoke", nil).wantCode(t, http.StatusNotFound)
}

// A key posts alerts for its own sender and is refused everywhere else;
// once revoked it is refused at once.
func TestIntegrationKeyOnlyIngests(t *testing.T) {
	e, _ := keyEnv(t)
	am := e.createKey(t, "prometheus", "alertmanager")
	pd := e.createKey(t, "nagios", "pagerduty")
	azm := e.createKey(t, "action group", "azure-monitor")
	api := e.createKey(t, "script", "api")

	amBody := `[{"labels":{"alertname":"DiskFull","instance":"db1"},"startsAt":"2026-03-02T09:00:00Z"}]`
	e.do(t, noAuth, "POST", "/api/v2/alerts", amBody, bearerHdr(am.Secret)...).wantCode(t, http.StatusOK)
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor", fixture(t, "common_alert_schema.json"), bearerHdr(azm.Secret)...).wantCode(t, http.StatusOK)
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor?token="+url.QueryEscape(azm.Secret), fixture(t, "common_alert_schema.json")).wantCode(t, http.StatusOK)
	e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_enqueue_trigger_request.json", pd.Secret, "")).wantCode(t, http.StatusAccepted)
	e.do(t, noAuth, "POST", "/api/v1/alerts", []map[string]any{{"source": "script", "source_id": "s1", "title": "t", "severity": "low"}},
		bearerHdr(api.Secret)...).wantCode(t, http.StatusOK)

	// Everywhere else a key is no credential.
	refused := []struct {
		key          createdKey
		method, path string
		body         any
	}{
		{am, "GET", "/api/v1/alerts", nil},
		{am, "GET", "/api/v1/workitems", nil},
		{am, "PATCH", "/api/v1/workitems/1", map[string]string{"title": "x"}},
		{am, "POST", "/api/v1/alerts", []map[string]any{}},
		{api, "POST", "/api/v2/alerts", amBody},
		{azm, "POST", "/api/v1/alerts", []map[string]any{}},
		{api, "GET", "/api/v1/integration-keys", nil},
		{api, "GET", "/debug/pprof/", nil},
	}
	for _, c := range refused {
		r := e.do(t, noAuth, c.method, c.path, c.body, bearerHdr(c.key.Secret)...)
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s key: %s, want 401", c.key.Source, r)
		}
	}
	// A PagerDuty routing_key must be a key for PagerDuty.
	r := e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_enqueue_trigger_request.json", am.Secret, "")).wantCode(t, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "Invalid routing key") {
		t.Errorf("%s: want PagerDuty's invalid routing key answer", r)
	}

	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/integration-keys/%d/revoke", am.ID), nil).wantCode(t, http.StatusNoContent)
	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/integration-keys/%d/revoke", am.ID), nil).wantCode(t, http.StatusNoContent)
	e.do(t, noAuth, "POST", "/api/v2/alerts", amBody, bearerHdr(am.Secret)...).wantCode(t, http.StatusUnauthorized)

	// The alerts name the key that posted them, and the key's last use is recorded.
	var keys struct {
		Keys []struct {
			ID         int64      `json:"id"`
			LastUsedAt *time.Time `json:"last_used_at"`
			RevokedAt  *time.Time `json:"revoked_at"`
		} `json:"keys"`
	}
	e.do(t, admin, "GET", "/api/v1/integration-keys", nil).wantCode(t, http.StatusOK).decode(t, &keys)
	for _, k := range keys.Keys {
		if k.LastUsedAt == nil {
			t.Errorf("key %d: no last use recorded", k.ID)
		}
		if (k.RevokedAt != nil) != (k.ID == am.ID) {
			t.Errorf("key %d: revoked_at %v", k.ID, k.RevokedAt)
		}
	}
	tl := e.do(t, viewer, "GET", "/api/v1/workitems/1/timeline", nil).wantCode(t, http.StatusOK)
	if !strings.Contains(string(tl.body), "key:prometheus") {
		t.Errorf("%s: want the alert's entry to name key:prometheus", tl)
	}
}

// An API token as a routing_key or token= still works, with a warning
// that names the token and never its secret; the stored payload never
// holds it, so a viewer cannot read it and use it.
func TestRoutingKeyNeverStored(t *testing.T) {
	e, logs := keyEnv(t)
	tok := e.token[responder]
	r := e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_enqueue_trigger_request.json", tok, "leak-1")).wantCode(t, http.StatusAccepted)
	e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_enqueue_trigger_request.json", tok, "leak-2")).wantCode(t, http.StatusAccepted)
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor?token="+tok, fixture(t, "common_alert_schema.json")).wantCode(t, http.StatusOK)
	_ = r

	log := logs.String()
	if strings.Contains(log, tok) {
		t.Errorf("the log holds the token's secret:\n%s", log)
	}
	if n := strings.Count(log, "deprecated: an API token is used as a PagerDuty routing_key"); n != 1 {
		t.Errorf("got %d routing_key deprecation warnings, want 1 (one per token per hour):\n%s", n, log)
	}
	if !strings.Contains(log, "deprecated: an API token is used as the credential in a webhook URL") {
		t.Errorf("no deprecation warning for token=:\n%s", log)
	}

	alerts := e.alerts(t, "?source=pagerduty")
	if len(alerts) != 2 {
		t.Fatalf("got %d pagerduty alerts, want 2", len(alerts))
	}
	paths := []string{"/api/v1/alerts?source=pagerduty", "/api/v1/workitems", "/api/v1/incidents"}
	for _, a := range alerts {
		paths = append(paths, fmt.Sprintf("/api/v1/alerts/%d", a.ID), fmt.Sprintf("/api/v1/alerts/%d/versions", a.ID),
			fmt.Sprintf("/api/v1/workitems/%d/timeline", a.WorkItemID), fmt.Sprintf("/api/v1/workitems/%d", a.WorkItemID))
	}
	for _, p := range paths {
		r := e.do(t, viewer, "GET", p, nil).wantCode(t, http.StatusOK)
		if strings.Contains(string(r.body), tok) {
			t.Errorf("%s: a viewer can read the responder's token", r)
		}
	}
	raw, err := e.db.AlertVersions(context.Background(), alerts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw[0].Raw), `"routing_key":"[redacted]"`) {
		t.Errorf("stored raw = %s, want the routing_key masked", raw[0].Raw)
	}
}

// PagerDuty caps an event at 512 KB; so does vigil, before it looks at
// the routing key.
func TestPagerDutyEventCap(t *testing.T) {
	e, _ := keyEnv(t)
	big := `{"routing_key":"x","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info","custom_details":{"pad":"` +
		strings.Repeat("a", 512<<10) + `"}}}`
	e.do(t, noAuth, "POST", "/v2/enqueue", big).wantCode(t, http.StatusRequestEntityTooLarge)
}
