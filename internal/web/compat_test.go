package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// promAlert is one element of the postableAlerts body that Prometheus's
// notifier sends: every field set, endsAt a few minutes ahead for a firing
// alert (its validity), in the past for a resolved one.
func promAlert(name, instance, severity string, startsAt, endsAt time.Time) map[string]any {
	return map[string]any{
		"annotations": map[string]string{
			"summary":     fmt.Sprintf("%s on %s", name, instance),
			"description": "Fired by Prometheus rule " + name,
		},
		"endsAt":       endsAt.Format(time.RFC3339Nano),
		"startsAt":     startsAt.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
		"labels": map[string]string{
			"alertname": name, "instance": instance, "job": "node", "severity": severity,
		},
	}
}

func TestAlertmanager(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now()
	firing := promAlert("InstanceDown", "10.0.0.5:9100", "critical", now.Add(-5*time.Minute), now.Add(4*time.Minute))
	resolved := promAlert("DiskFull", "db01.example.com:9100", "warning", now.Add(-time.Hour), now.Add(-time.Minute))

	r := e.do(t, responder, "POST", "/api/v2/alerts", []any{firing, resolved}).wantCode(t, http.StatusOK)
	if len(r.body) != 0 {
		t.Errorf("%s: want an empty body, as Alertmanager answers", r)
	}
	got := e.alerts(t, "?source=alertmanager")
	if len(got) != 2 {
		t.Fatalf("got %d alertmanager alerts, want 2", len(got))
	}
	byTitle := map[string]apiAlert{}
	for _, a := range got {
		byTitle[a.Title] = a
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	checks := []struct {
		title, status, severity, entity string
	}{
		{"InstanceDown on 10.0.0.5:9100", "new", "critical", "10.0.0.5"},
		{"DiskFull on db01.example.com:9100", "resolved", "medium", "db01.example.com"},
	}
	for _, c := range checks {
		a, ok := byTitle[c.title]
		if !ok {
			t.Errorf("no alert titled %q among %v", c.title, got)
			continue
		}
		if a.Status != c.status || a.Severity != c.severity || !hexID.MatchString(a.SourceID) || a.Product != "node" {
			t.Errorf("alert %q: got status %q severity %q source_id %q product %q, want %s %s, a fingerprint, node",
				c.title, a.Status, a.Severity, a.SourceID, a.Product, c.status, c.severity)
		}
		if len(a.Entities) == 0 || a.Entities[0].Value != c.entity {
			t.Errorf("alert %q: entities %+v, want %s first", c.title, a.Entities, c.entity)
		}
	}

	// Prometheus re-sends firing alerts; they deduplicate on the label
	// fingerprint, and a re-send of the same firing (same startsAt) adds
	// no version: it only counts.
	e.clk.Advance(time.Minute)
	e.do(t, responder, "POST", "/api/v2/alerts", []any{firing}).wantCode(t, http.StatusOK)
	if got := e.alerts(t, "?source=alertmanager"); len(got) != 2 {
		t.Errorf("after a re-send: %d alerts, want 2", len(got))
	}
	if a := byTitle["InstanceDown on 10.0.0.5:9100"]; true {
		var again apiAlert
		e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d", a.ID), nil).wantCode(t, http.StatusOK).decode(t, &again)
		if again.Version != 1 || again.SeenCount != 2 {
			t.Errorf("re-sent alert: version %d seen %d times, want version 1 seen 2 times", again.Version, again.SeenCount)
		}
	}

	// An invalid element is reported, and the valid ones are stored, as
	// Alertmanager does.
	noLabels := map[string]any{"annotations": map[string]string{"summary": "no labels"}, "startsAt": now.Format(time.RFC3339)}
	a1 := promAlert("HighLoad", "10.0.0.6:9100", "warning", now, now.Add(4*time.Minute))
	a2 := promAlert("HighLoad", "10.0.0.7:9100", "warning", now, now.Add(4*time.Minute))
	r = e.do(t, responder, "POST", "/api/v2/alerts", []any{a1, noLabels, a2}).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "[1].labels" {
		t.Errorf("%s: error.field %q, want [1].labels", r, got)
	}
	var titles []string
	for _, a := range e.alerts(t, "?source=alertmanager&q=HighLoad") {
		titles = append(titles, a.Title)
	}
	slices.Sort(titles)
	if want := []string{"HighLoad on 10.0.0.6:9100", "HighLoad on 10.0.0.7:9100"}; !slices.Equal(titles, want) {
		t.Errorf("after a partly invalid body: stored %q, want %q", titles, want)
	}

	// Bodies that are not postableAlerts at all store nothing.
	bad := []struct {
		name, body, field string
	}{
		{"object", `{"labels":{"alertname":"X"}}`, "body"},
		{"malformed", `[{"labels":`, "body"},
		{"null", `null`, "body"},
		{"bad startsAt", `[{"labels":{"alertname":"X"},"startsAt":"now"}]`, "[0].startsAt"},
		{"label not a string", `[{"labels":{"alertname":"X","port":9100}}]`, "[0].labels"},
	}
	before := len(e.alerts(t, ""))
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := e.do(t, responder, "POST", "/api/v2/alerts", b.body).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t).Error.Field; got != b.field {
				t.Errorf("%s: error.field %q, want %q", r, got, b.field)
			}
			if got := len(e.alerts(t, "")); got != before {
				t.Errorf("%d alerts after a rejected body, want %d", got, before)
			}
		})
	}
}

// pdBody is a PagerDuty fixture with its routing_key (and optionally
// dedup_key) replaced.
func pdBody(t *testing.T, name, routingKey, dedupKey string) []byte {
	t.Helper()
	set := map[string]any{"routing_key": routingKey}
	if dedupKey != "" {
		set["dedup_key"] = dedupKey
	}
	return fixtureWith(t, name, set)
}

type pdAnswer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

func TestPagerDuty(t *testing.T) {
	e := newEnv(t)
	key := e.token[responder]

	// The 202 body has the shape of PagerDuty's own example.
	var example map[string]any
	json.Unmarshal(fixture(t, "events_v2_response_202.json"), &example)

	var ans pdAnswer
	r := e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_enqueue_trigger_request.json", key, "")).
		wantCode(t, http.StatusAccepted)
	r.decode(t, &ans)
	if ans.Status != "success" || ans.Message != "Event processed" || ans.DedupKey != "srv01/mysql" || ans.Errors != nil {
		t.Errorf("%s: got %+v, want success / Event processed / srv01/mysql", r, ans)
	}
	var got map[string]any
	r.decode(t, &got)
	for k := range example {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: field %q of PagerDuty's example answer is missing", r, k)
		}
	}

	alerts := e.alerts(t, "?source=pagerduty")
	if len(alerts) != 1 {
		t.Fatalf("got %d pagerduty alerts, want 1", len(alerts))
	}
	a := alerts[0]
	if a.SourceID != "srv01/mysql" || a.Status != "new" || a.Severity != "critical" ||
		a.Title != "DISK at 99% on machine prod-datapipe03.example.com" || a.Version != 1 {
		t.Errorf("triggered alert = %+v", a)
	}

	// The docs' trigger example, and a trigger without dedup_key, for
	// which vigil makes up a key and returns it.
	r = e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_trigger_request_docs.json", key, "")).wantCode(t, http.StatusAccepted)
	r.decode(t, &ans)
	if ans.DedupKey != "samplekeyhere" {
		t.Errorf("%s: dedup_key %q, want samplekeyhere", r, ans.DedupKey)
	}
	noKey := fixtureWith(t, "events_v2_trigger_request_docs.json", map[string]any{"routing_key": key, "dedup_key": nil})
	r = e.do(t, noAuth, "POST", "/v2/enqueue", noKey).wantCode(t, http.StatusAccepted)
	r.decode(t, &ans)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(ans.DedupKey) {
		t.Errorf("%s: generated dedup_key %q, want 32 hex digits", r, ans.DedupKey)
	}

	// Acknowledge, then resolve, the first alert.
	steps := []struct {
		fixture, status string
		version         int
		words           string
	}{
		{"events_v2_acknowledge_request_docs.json", "in_progress", 2, "set in progress at the source"},
		{"events_v2_resolve_request_docs.json", "resolved", 3, "resolved at the source"},
	}
	for _, s := range steps {
		e.clk.Advance(time.Minute)
		r := e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, s.fixture, key, "srv01/mysql")).wantCode(t, http.StatusAccepted)
		r.decode(t, &ans)
		if ans.Status != "success" || ans.DedupKey != "srv01/mysql" {
			t.Errorf("%s: got %+v", r, ans)
		}
		var now apiAlert
		e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d", a.ID), nil).wantCode(t, http.StatusOK).decode(t, &now)
		if now.Status != s.status || now.Version != s.version {
			t.Errorf("after %s: status %q version %d, want %s %d", s.fixture, now.Status, now.Version, s.status, s.version)
		}
		tl := e.timeline(t, a.WorkItemID)
		last := tl[len(tl)-1]
		if last.Kind != "alert" || last.Actor != e.actor(responder) || !strings.Contains(last.Msg, s.words) {
			t.Errorf("after %s: last timeline entry %+v, want an alert entry by %s saying %q", s.fixture, last, e.actor(responder), s.words)
		}
	}
	var versions struct {
		Items []struct {
			Status string `json:"status"`
		} `json:"items"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d/versions", a.ID), nil).wantCode(t, http.StatusOK).decode(t, &versions)
	var statuses []string
	for _, v := range versions.Items {
		statuses = append(statuses, v.Status)
	}
	if want := []string{"new", "in_progress", "resolved"}; !slices.Equal(statuses, want) {
		t.Errorf("versions' statuses = %q, want %q", statuses, want)
	}

	// Acknowledging a key vigil does not know is accepted and dropped.
	before := len(e.alerts(t, ""))
	e.do(t, noAuth, "POST", "/v2/enqueue", pdBody(t, "events_v2_acknowledge_request_docs.json", key, "")).wantCode(t, http.StatusAccepted)
	if got := len(e.alerts(t, "")); got != before {
		t.Errorf("acknowledge of an unknown key: %d alerts, want %d", got, before)
	}
}

func TestPagerDutyRejects(t *testing.T) {
	e := newEnv(t)
	var parseErr pdAnswer
	json.Unmarshal(fixture(t, "events_v2_response_error.json"), &parseErr)
	invalidKey := pdAnswer{Status: "invalid event", Message: "Event object is invalid", Errors: []string{"Invalid routing key"}}
	tests := []struct {
		name string
		body []byte
		want pdAnswer
	}{
		{"viewer token", pdBody(t, "events_v2_enqueue_trigger_request.json", e.token[viewer], ""), invalidKey},
		{"unknown routing key", fixture(t, "events_v2_enqueue_trigger_request.json"), invalidKey},
		{"unknown key acknowledging", pdBody(t, "events_v2_acknowledge_request_docs.json", "vgl_unknown", ""), invalidKey},
		{"malformed", []byte(`{"routing_key": "x", `), parseErr},
		{"not an object", []byte(`["trigger"]`), parseErr},
		{"empty", nil, parseErr},
		{"missing summary", fixtureWith(t, "events_v2_trigger_request_docs.json", map[string]any{
			"routing_key": e.token[responder],
			"payload":     map[string]any{"source": "db01", "severity": "critical"},
		}), pdAnswer{Status: "invalid event", Message: "Event object is invalid", Errors: []string{"'payload.summary' is missing or blank"}}},
		{"missing routing key", fixtureWith(t, "events_v2_trigger_request_docs.json", map[string]any{"routing_key": nil}),
			pdAnswer{Status: "invalid event", Message: "Event object is invalid", Errors: []string{"'routing_key' is missing or blank"}}},
		{"bad action", pdBody(t, "events_v2_acknowledge_request_docs.json", e.token[responder], ""), pdAnswer{}},
	}
	// The last case is built here: an acknowledge whose action is unknown.
	var m map[string]any
	json.Unmarshal(tests[len(tests)-1].body, &m)
	m["event_action"] = "snooze"
	tests[len(tests)-1].body, _ = json.Marshal(m)
	tests[len(tests)-1].want = pdAnswer{Status: "invalid event", Message: "Event object is invalid",
		Errors: []string{"'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, noAuth, "POST", "/v2/enqueue", tt.body).wantCode(t, http.StatusBadRequest)
			var got pdAnswer
			r.decode(t, &got)
			if got.Status != tt.want.Status || got.Message != tt.want.Message || !slices.Equal(got.Errors, tt.want.Errors) {
				t.Errorf("%s: got %+v, want %+v", r, got, tt.want)
			}
			e.wantNoAlerts(t)
		})
	}
}

func TestAzureMonitor(t *testing.T) {
	e := newEnv(t)
	body := fixture(t, "common_alert_schema.json")

	var first ingestAnswer
	e.do(t, responder, "POST", "/api/v1/webhooks/azure-monitor", body).wantCode(t, http.StatusOK).decode(t, &first)
	if first.Accepted != 1 || first.Results[0].Outcome != "created" {
		t.Fatalf("Bearer: got %+v, want one created", first)
	}
	var a apiAlert
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/alerts/%d", first.Results[0].AlertID), nil).wantCode(t, http.StatusOK).decode(t, &a)
	if a.Source != "azuremonitor" || a.Title != "WCUS-R2-Gen2" || a.Severity != "low" || a.Status != "resolved" ||
		!strings.HasSuffix(a.SourceID, "b9569717-bc32-442f-add5-83a997729330") {
		t.Errorf("Azure alert = %+v", a)
	}
	if len(a.Entities) == 0 || a.Entities[0].Kind != "cloud_resource" {
		t.Errorf("Azure alert entities = %+v, want the target resource first", a.Entities)
	}

	// Action groups cannot send headers: the token may be in the query.
	var again ingestAnswer
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor?token="+e.token[responder], body).wantCode(t, http.StatusOK).decode(t, &again)
	if r := again.Results[0]; r.AlertID != first.Results[0].AlertID || r.Outcome != "unchanged" || r.Version != 1 {
		t.Errorf("?token=: got %+v, want the same alert, unchanged (a re-send) at version 1", r)
	}
	// Only on this endpoint.
	e.do(t, noAuth, "POST", "/api/v1/alerts?token="+e.token[responder], alertBody("x", nil)).wantCode(t, http.StatusUnauthorized)
	e.do(t, noAuth, "POST", "/api/v1/webhooks/azure-monitor?token=vgl_wrong", body).wantCode(t, http.StatusUnauthorized)

	variant := func(change func(m map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(body, &c)
		change(c)
		b, _ := json.Marshal(c)
		return b
	}
	essentials := func(c map[string]any) map[string]any {
		return c["data"].(map[string]any)["essentials"].(map[string]any)
	}
	bad := []struct {
		name  string
		body  []byte
		field string
	}{
		{"missing schemaId", variant(func(c map[string]any) { delete(c, "schemaId") }), "schemaId"},
		{"other schema", variant(func(c map[string]any) { c["schemaId"] = "Microsoft.Insights/activityLogs" }), "schemaId"},
		{"missing data", variant(func(c map[string]any) { delete(c, "data") }), "data"},
		{"missing alertRule", variant(func(c map[string]any) { delete(essentials(c), "alertRule") }), "data.essentials.alertRule"},
		{"bad severity", variant(func(c map[string]any) { essentials(c)["severity"] = "Sev9" }), "data.essentials.severity"},
		{"bad fired time", variant(func(c map[string]any) { essentials(c)["firedDateTime"] = "yesterday" }), "data.essentials.firedDateTime"},
		{"malformed", []byte(`{"schemaId":`), "body"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := e.do(t, responder, "POST", "/api/v1/webhooks/azure-monitor", b.body).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t).Error.Field; got != b.field {
				t.Errorf("%s: error.field %q, want %q", r, got, b.field)
			}
		})
	}
	if got := e.alerts(t, ""); len(got) != 1 || got[0].Version != 1 || got[0].SeenCount != 2 {
		t.Errorf("after rejected bodies: %+v, want the one alert at version 1, seen twice", got)
	}
}
