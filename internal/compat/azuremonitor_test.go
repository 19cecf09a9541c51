package compat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
)

func vm(id string) alert.Entity {
	return alert.Entity{Kind: alert.EntityCloudResource, Value: id, Attrs: map[string]string{"type": "microsoft.compute/virtualmachines"}}
}

func TestParseAzureMonitorFixture(t *testing.T) {
	body := fixture(t, "common_alert_schema.json")
	got, err := ParseAzureMonitor(body, now)
	if err != nil {
		t.Fatalf("ParseAzureMonitor error: %v", err)
	}
	want := alert.Alert{
		Source:    "azuremonitor",
		SourceID:  "/subscriptions/<subscription ID>/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
		Product:   "Azure Monitor Platform",
		Title:     "WCUS-R2-Gen2",
		Severity:  alert.SeverityLow,
		Status:    alert.StatusResolved,
		FirstSeen: mustTime(t, "2019-03-22T13:58:24.3713213Z"),
		LastSeen:  mustTime(t, "2019-03-22T14:03:16.2246313Z"),
		Entities: []alert.Entity{
			vm("/subscriptions/<subscription id>/resourcegroups/pipelinealertrg/providers/microsoft.compute/virtualmachines/wcus-r2-gen2"),
			host("wcus-r2-gen2"),
		},
	}
	for _, d := range diffAlert(got, want) {
		t.Error(d)
	}
	if !bytes.Equal(got.Raw, body) {
		t.Error("Raw is not the whole body")
	}
}

// azLogAlertBody wraps the published Log Alerts V2 alertContext fragment in
// essentials shaped like the docs' sample for that monitoring service (the
// docs publish the two parts separately).
func azLogAlertBody(t *testing.T) []byte {
	t.Helper()
	ctx := fixture(t, "log_alert_v2_alertcontext.json")
	var frag struct {
		AlertContext json.RawMessage `json:"alertContext"`
	}
	if err := json.Unmarshal(ctx, &frag); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"schemaId": "azureMonitorCommonAlertSchema",
		"data": map[string]any{
			"essentials": map[string]any{
				"alertId":           "/subscriptions/12345a-1234b-123c-123d-12345678e/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
				"alertRule":         "test-logAlertRule-v2",
				"severity":          "Sev1",
				"signalType":        "Log",
				"monitorCondition":  "Fired",
				"monitoringService": "Log Alerts V2",
				"alertTargetIDs": []string{
					"/subscriptions/12345a-1234b-123c-123d-12345678e/resourcegroups/test/providers/microsoft.compute/virtualmachines/testvm",
				},
				"configurationItems": []string{
					"/subscriptions/12345a-1234b-123c-123d-12345678e/resourceGroups/test/providers/Microsoft.Compute/virtualMachines/testVM",
				},
				"originAlertId":       "12345a-1234b-123c-123d-12345678e",
				"firedDateTime":       "2020-07-09T14:04:49.99645Z",
				"description":         "log alert rule V2",
				"essentialsVersion":   "1.0",
				"alertContextVersion": "1.0",
			},
			"alertContext": frag.AlertContext,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestParseAzureMonitorLogAlertV2(t *testing.T) {
	got, err := ParseAzureMonitor(azLogAlertBody(t), now)
	if err != nil {
		t.Fatalf("ParseAzureMonitor error: %v", err)
	}
	want := alert.Alert{
		Source:      "azuremonitor",
		SourceID:    "/subscriptions/12345a-1234b-123c-123d-12345678e/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
		Product:     "Azure Monitor Log Alerts V2",
		Title:       "test-logAlertRule-v2",
		Description: "log alert rule V2",
		Severity:    alert.SeverityHigh,
		Status:      alert.StatusNew,
		FirstSeen:   mustTime(t, "2020-07-09T14:04:49.99645Z"),
		LastSeen:    now,
		// The configuration item is the target's id in other case: one entity.
		Entities: []alert.Entity{
			vm("/subscriptions/12345a-1234b-123c-123d-12345678e/resourcegroups/test/providers/microsoft.compute/virtualmachines/testvm"),
		},
	}
	for _, d := range diffAlert(got, want) {
		t.Error(d)
	}
}

// azBodyWith returns the common-schema fixture with essentials changed; a
// nil value removes the key.
func azBodyWith(t *testing.T, changes map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(fixture(t, "common_alert_schema.json"), &doc); err != nil {
		t.Fatal(err)
	}
	ess := doc["data"].(map[string]any)["essentials"].(map[string]any)
	for k, v := range changes {
		if v == nil {
			delete(ess, k)
		} else {
			ess[k] = v
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAzureMonitorSeverity(t *testing.T) {
	for sev, want := range map[string]alert.Severity{
		"Sev0": alert.SeverityCritical,
		"Sev1": alert.SeverityHigh,
		"Sev2": alert.SeverityMedium,
		"Sev3": alert.SeverityLow,
		"Sev4": alert.SeverityInformational,
		"sev0": alert.SeverityCritical,
	} {
		got, err := ParseAzureMonitor(azBodyWith(t, map[string]any{"severity": sev}), now)
		if err != nil {
			t.Fatalf("severity %s: %v", sev, err)
		}
		if got.Severity != want {
			t.Errorf("severity %s: Severity = %q, want %q", sev, got.Severity, want)
		}
	}
}

func TestParseAzureMonitorMapping(t *testing.T) {
	for _, tt := range []struct {
		name    string
		changes map[string]any
		check   func(t *testing.T, a alert.Alert)
	}{
		{"fired: new, last seen now", map[string]any{"monitorCondition": "Fired", "resolvedDateTime": nil}, func(t *testing.T, a alert.Alert) {
			if a.Status != alert.StatusNew || !a.LastSeen.Equal(now) {
				t.Errorf("Status, LastSeen = %q, %v; want new, now", a.Status, a.LastSeen)
			}
			if want := mustTime(t, "2019-03-22T13:58:24.3713213Z"); !a.FirstSeen.Equal(want) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, want)
			}
		}},
		{"resolved without resolvedDateTime: last seen now", map[string]any{"resolvedDateTime": nil}, func(t *testing.T, a alert.Alert) {
			if a.Status != alert.StatusResolved || !a.LastSeen.Equal(now) {
				t.Errorf("Status, LastSeen = %q, %v; want resolved, now", a.Status, a.LastSeen)
			}
		}},
		{"fired ahead of vigil's clock is clamped", map[string]any{"monitorCondition": "Fired", "firedDateTime": "2026-01-15T12:00:02Z", "resolvedDateTime": nil}, func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(now) {
				t.Errorf("FirstSeen = %v, want now", a.FirstSeen)
			}
		}},
		{"no firedDateTime: first seen is last seen", map[string]any{"firedDateTime": nil}, func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(a.LastSeen) {
				t.Errorf("FirstSeen, LastSeen = %v, %v; want equal", a.FirstSeen, a.LastSeen)
			}
		}},
		{"time without zone is UTC", map[string]any{"firedDateTime": "2019-03-22T13:58:24.3713213"}, func(t *testing.T, a alert.Alert) {
			if want := mustTime(t, "2019-03-22T13:58:24.3713213Z"); !a.FirstSeen.Equal(want) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, want)
			}
		}},
		{"no monitoringService: product Azure Monitor", map[string]any{"monitoringService": nil}, func(t *testing.T, a alert.Alert) {
			if a.Product != "Azure Monitor" {
				t.Errorf("Product = %q, want Azure Monitor", a.Product)
			}
		}},
		{"no severity: medium", map[string]any{"severity": nil}, func(t *testing.T, a alert.Alert) {
			if a.Severity != alert.SeverityMedium {
				t.Errorf("Severity = %q, want medium", a.Severity)
			}
		}},
		{"title is the rule name alone", map[string]any{"description": "CPU over 25%"}, func(t *testing.T, a alert.Alert) {
			if a.Title != "WCUS-R2-Gen2" || a.Description != "CPU over 25%" {
				t.Errorf("Title, Description = %q, %q", a.Title, a.Description)
			}
		}},
		{"entities: several targets, typed, lower-cased, deduplicated; junk items skipped", map[string]any{
			"alertTargetIDs": []string{
				"/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Sql/servers/SQL1/databases/DB1",
				"/subscriptions/S1/resourceGroups/RG",
				"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG",
				"/subscriptions/S1",
				"",
			},
			"configurationItems": []string{"Web-01", "10.0.0.4", "not a host", "https://x.example.com/"},
		}, func(t *testing.T, a alert.Alert) {
			want := []alert.Entity{
				{Kind: alert.EntityCloudResource, Value: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.sql/servers/sql1/databases/db1", Attrs: map[string]string{"type": "microsoft.sql/servers/databases"}},
				{Kind: alert.EntityCloudResource, Value: "/subscriptions/s1/resourcegroups/rg", Attrs: map[string]string{"type": "microsoft.resources/resourcegroups"}},
				{Kind: alert.EntityCloudResource, Value: "/subscriptions/s1", Attrs: map[string]string{"type": "microsoft.resources/subscriptions"}},
				host("web-01"),
				ip("10.0.0.4"),
				host("x.example.com"),
			}
			if d := diffAlert(a, alert.Alert{Source: a.Source, SourceID: a.SourceID, Product: a.Product, Title: a.Title, Description: a.Description,
				Severity: a.Severity, Status: a.Status, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Entities: want}); d != nil {
				t.Error(d)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAzureMonitor(azBodyWith(t, tt.changes), now)
			if err != nil {
				t.Fatalf("ParseAzureMonitor error: %v", err)
			}
			tt.check(t, a)
		})
	}
}

func TestParseAzureMonitorErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		body  []byte
		field string
		msg   string
	}{
		{"malformed JSON", []byte("{\n  \"schemaId\": \"azureMonitorCommonAlertSchema\"\n  \"data\": {}\n}"), "body", "line 3, column 3"},
		{"empty body", []byte(" "), "body", "is empty"},
		{"array body", []byte(`[]`), "body", "must be a JSON object, not array"},
		{"schemaId missing", []byte(`{"data":{"essentials":{"alertId":"a","alertRule":"r"}}}`), "schemaId", "is required; enable the common alert schema"},
		{"legacy metric alert shape", []byte(`{"schemaId":"AzureMonitorMetricAlert","data":{}}`), "schemaId", `must be "azureMonitorCommonAlertSchema", not "AzureMonitorMetricAlert"`},
		{"schemaId not a string", []byte(`{"schemaId":1}`), "schemaId", "must be a string, not number"},
		{"data missing", []byte(`{"schemaId":"azureMonitorCommonAlertSchema"}`), "data", "is required"},
		{"essentials missing", []byte(`{"schemaId":"azureMonitorCommonAlertSchema","data":{"alertContext":{}}}`), "data.essentials", "is required"},
		{"alertId missing", azBodyWith(t, map[string]any{"alertId": nil}), "data.essentials.alertId", "is required"},
		{"alertId blank", azBodyWith(t, map[string]any{"alertId": "  "}), "data.essentials.alertId", "is required"},
		{"alertId too long", azBodyWith(t, map[string]any{"alertId": "/" + strings.Repeat("a", alert.MaxSourceID)}), "data.essentials.alertId", "must be at most 512 characters"},
		{"alertRule missing", azBodyWith(t, map[string]any{"alertRule": nil}), "data.essentials.alertRule", "is required"},
		{"severity unknown", azBodyWith(t, map[string]any{"severity": "Sev5"}), "data.essentials.severity", `unknown severity "Sev5"`},
		{"monitorCondition unknown", azBodyWith(t, map[string]any{"monitorCondition": "Acknowledged"}), "data.essentials.monitorCondition", `unknown condition "Acknowledged"`},
		{"firedDateTime invalid", azBodyWith(t, map[string]any{"firedDateTime": "22/03/2019"}), "data.essentials.firedDateTime", "not an ISO 8601 date-time"},
		{"resolvedDateTime invalid", azBodyWith(t, map[string]any{"resolvedDateTime": "later"}), "data.essentials.resolvedDateTime", "not an ISO 8601 date-time"},
		{"resolved before fired", azBodyWith(t, map[string]any{"resolvedDateTime": "2019-03-22T13:00:00Z"}), "data.essentials.resolvedDateTime", "is before firedDateTime"},
		{"alertTargetIDs not an array", azBodyWith(t, map[string]any{"alertTargetIDs": "/subscriptions/x"}), "data.essentials.alertTargetIDs", "must be an array, not string"},
		{"alertId not a string", azBodyWith(t, map[string]any{"alertId": 7}), "data.essentials.alertId", "must be a string, not number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAzureMonitor(tt.body, now)
			checkFieldError(t, err, tt.field, tt.msg)
		})
	}
}
