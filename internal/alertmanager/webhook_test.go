package alertmanager

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookAlertmanager(t *testing.T) {
	now := time.Date(2026, 8, 22, 14, 5, 0, 0, time.UTC)
	w, err := ParseWebhook(readTestdata(t, "alertmanager_webhook_v4.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	if w.Grafana || w.Version != "4" || w.Receiver != "vigil" || w.Status != StatusFiring {
		t.Errorf("header = %+v", w)
	}
	if w.GroupKey != `{}/{severity="critical"}:{alertname="InstanceDown"}` {
		t.Errorf("groupKey = %q", w.GroupKey)
	}
	if w.GroupLabels["alertname"] != "InstanceDown" || w.CommonLabels["job"] != "node" || w.CommonAnnotations["summary"] != "Instance down" {
		t.Errorf("common sets = %v %v %v", w.GroupLabels, w.CommonLabels, w.CommonAnnotations)
	}
	if w.ExternalURL != "http://alertmanager.example.com:9093" || w.TruncatedAlerts != 0 {
		t.Errorf("externalURL %q truncated %d", w.ExternalURL, w.TruncatedAlerts)
	}
	if len(w.Alerts) != 2 {
		t.Fatalf("got %d alerts", len(w.Alerts))
	}
	a, r := w.Alerts[0], w.Alerts[1]
	if a.Status != StatusFiring || a.Resolved() || !a.EndsAt.IsZero() {
		t.Errorf("firing alert = %+v", a)
	}
	if !a.StartsAt.Equal(time.Date(2026, 8, 22, 14, 2, 3, 123e6, time.UTC)) {
		t.Errorf("startsAt = %v", a.StartsAt)
	}
	if a.Fingerprint != Fingerprint(a.Labels) {
		t.Errorf("fingerprint %s, want %s", a.Fingerprint, Fingerprint(a.Labels))
	}
	if !r.Resolved() || r.EndsAt.IsZero() || r.Labels["instance"] != "node2:9100" {
		t.Errorf("resolved alert = %+v", r)
	}
	if !strings.HasPrefix(a.GeneratorURL, "http://prometheus.example.com:9090/graph") {
		t.Errorf("generatorURL = %q", a.GeneratorURL)
	}
}

func TestParseWebhookGrafana(t *testing.T) {
	w, err := ParseWebhook(readTestdata(t, "grafana_webhook_example.json"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Grafana || w.OrgID != 1 || w.Version != "1" || w.State != "alerting" || w.Title != "[FIRING:2]  (blue)" {
		t.Errorf("header = %+v", w)
	}
	if w.GroupKey != "{}:{}" || w.Receiver != "My Super Webhook" || w.CommonLabels["team"] != "blue" || len(w.GroupLabels) != 0 {
		t.Errorf("header = %+v", w)
	}
	if !strings.HasPrefix(w.Message, "**Firing**") {
		t.Errorf("message = %q", w.Message)
	}
	if len(w.Alerts) != 2 {
		t.Fatalf("got %d alerts", len(w.Alerts))
	}
	a := w.Alerts[0]
	if a.Fingerprint != "c6eadffa33fcdf37" {
		t.Errorf("fingerprint = %s, want Grafana's own", a.Fingerprint)
	}
	if !a.EndsAt.IsZero() {
		t.Errorf("Grafana's zero endsAt read as %v", a.EndsAt)
	}
	if !a.StartsAt.Equal(time.Date(2021, 10, 12, 7, 51, 3, 157076000, time.UTC)) {
		t.Errorf("startsAt = %v", a.StartsAt)
	}
	if a.Values["B"] != 44.23943737541908 || a.Values["C"] != 1 {
		t.Errorf("values = %v", a.Values)
	}
	if !strings.Contains(a.SilenceURL, "silence/new") || a.DashboardURL != "" {
		t.Errorf("urls = %q %q", a.SilenceURL, a.DashboardURL)
	}
}

func TestParseWebhookDefaults(t *testing.T) {
	body := `{"version":"4","groupKey":"k","alerts":[
		{"labels":{"a":"1","empty":""},"startsAt":"2026-12-06T11:00:00Z"},
		{"labels":{"a":"2"},"startsAt":"2026-12-06T11:00:00Z","endsAt":"2026-12-06T11:30:00Z"},
		{"labels":{"a":"3"},"startsAt":"2026-12-06T11:00:00Z","endsAt":"2026-12-06T12:30:00Z","values":{"A":null}}],
		"newField":{"x":1}}`
	w, err := ParseWebhook([]byte(body), testNow)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []string{StatusFiring, StatusResolved, StatusFiring}
	for i, a := range w.Alerts {
		if a.Status != wantStatus[i] {
			t.Errorf("alerts[%d].status = %s, want %s", i, a.Status, wantStatus[i])
		}
		if a.Fingerprint != Fingerprint(a.Labels) || a.Annotations == nil {
			t.Errorf("alerts[%d] = %+v", i, a)
		}
	}
	if _, ok := w.Alerts[0].Labels["empty"]; ok {
		t.Error("an empty label was kept")
	}
	if w.Status != StatusFiring || w.GroupLabels == nil || w.CommonLabels == nil {
		t.Errorf("webhook = %+v", w)
	}
	if len(w.Alerts[2].Values) != 0 {
		t.Errorf("values = %v", w.Alerts[2].Values)
	}
}

func TestParseWebhookBad(t *testing.T) {
	const ok = `"labels":{"a":"b"},"startsAt":"2026-12-06T11:00:00Z"`
	tests := []struct {
		name, body, field, msg string
	}{
		{"empty", ``, "body", "empty"},
		{"array", `[{"version":"4"}]`, "body", "JSON object"},
		{"truncated", `{"version":"4"`, "body", "not valid JSON"},
		{"no version", `{"groupKey":"k","alerts":[]}`, "version", "required"},
		{"old version", `{"version":"3","groupKey":"k","alerts":[]}`, "version", "unsupported"},
		{"version number", `{"version":4,"groupKey":"k","alerts":[]}`, "version", "string"},
		{"no groupKey", `{"version":"4","alerts":[]}`, "groupKey", "required"},
		{"grafana no groupKey", `{"orgId":1,"alerts":[]}`, "groupKey", "required"},
		{"orgId string", `{"orgId":"1","groupKey":"k","alerts":[]}`, "orgId", "number"},
		{"bad status", `{"version":"4","groupKey":"k","status":"ok","alerts":[]}`, "status", "firing"},
		{"truncated negative", `{"version":"4","groupKey":"k","truncatedAlerts":-1,"alerts":[]}`, "truncatedAlerts", "count"},
		{"truncated fraction", `{"version":"4","groupKey":"k","truncatedAlerts":1.5,"alerts":[]}`, "truncatedAlerts", "whole"},
		{"groupLabels array", `{"version":"4","groupKey":"k","groupLabels":[],"alerts":[]}`, "groupLabels", "object"},
		{"commonLabels number value", `{"version":"4","groupKey":"k","commonLabels":{"a":1},"alerts":[]}`, "commonLabels", `"a"`},
		{"no alerts", `{"version":"4","groupKey":"k"}`, "alerts", "required"},
		{"alerts object", `{"version":"4","groupKey":"k","alerts":{}}`, "alerts", "array"},
		{"alert null", `{"version":"4","groupKey":"k","alerts":[{` + ok + `},null]}`, "alerts[1]", "alert object"},
		{"no labels", `{"version":"4","groupKey":"k","alerts":[{"startsAt":"2026-12-06T11:00:00Z"}]}`, "alerts[0].labels", "at least one"},
		{"only empty labels", `{"version":"4","groupKey":"k","alerts":[{"labels":{"a":""},"startsAt":"2026-12-06T11:00:00Z"}]}`, "alerts[0].labels", "at least one"},
		{"empty label name", `{"version":"4","groupKey":"k","alerts":[{"labels":{"":"x"},"startsAt":"2026-12-06T11:00:00Z"}]}`, "alerts[0].labels", "invalid label name"},
		{"label value number", `{"version":"4","groupKey":"k","alerts":[{"labels":{"a":1},"startsAt":"2026-12-06T11:00:00Z"}]}`, "alerts[0].labels", "string"},
		{"no startsAt", `{"version":"4","groupKey":"k","alerts":[{` + ok + `},{` + ok + `},{"labels":{"a":"b"}}]}`, "alerts[2].startsAt", "required"},
		{"bad startsAt", `{"version":"4","groupKey":"k","alerts":[{"labels":{"a":"b"},"startsAt":"yesterday"}]}`, "alerts[0].startsAt", "RFC 3339"},
		{"bad endsAt", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"endsAt":5}]}`, "alerts[0].endsAt", "RFC 3339"},
		{"endsAt before startsAt", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"endsAt":"2026-12-06T10:00:00Z"}]}`, "alerts[0].endsAt", "before startsAt"},
		{"empty annotation name", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"annotations":{"":"x"}}]}`, "alerts[0].annotations", "invalid annotation name"},
		{"alert status", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"status":"pending"}]}`, "alerts[0].status", "firing"},
		{"fingerprint number", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"fingerprint":12}]}`, "alerts[0].fingerprint", "string"},
		{"values strings", `{"orgId":1,"groupKey":"k","alerts":[{` + ok + `,"values":{"A":"1"}}]}`, "alerts[0].values", "numbers"},
		{"annotations array", `{"version":"4","groupKey":"k","alerts":[{` + ok + `,"annotations":[]}]}`, "alerts[0].annotations", "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWebhook([]byte(tt.body), testNow)
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *validation.FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("err = %q, want field %q mentioning %q", err, tt.field, tt.msg)
			}
		})
	}
}
