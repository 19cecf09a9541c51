package web_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// amGroup is Alertmanager's webhook notification (version 4) for one
// group of two alerts, firing or resolved.
func amGroup(status string, startsAt, endsAt time.Time) string {
	ends := "0001-01-01T00:00:00Z"
	if !endsAt.IsZero() {
		ends = endsAt.UTC().Format(time.RFC3339)
	}
	alert := func(instance string) string {
		return fmt.Sprintf(`{"status":%q,"labels":{"alertname":"DiskFull","instance":%q,"severity":"critical","team":"storage"},
			"annotations":{"summary":"disk full on %s"},"startsAt":%q,"endsAt":%q,
			"generatorURL":"http://prometheus:9090/graph","fingerprint":"x"}`, status, instance, instance, startsAt.UTC().Format(time.RFC3339), ends)
	}
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"DiskFull\"}","truncatedAlerts":0,"status":%q,"receiver":"vigil",
		"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"DiskFull","severity":"critical","team":"storage"},
		"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[%s,%s]}`, status, alert("db-1:9100"), alert("db-2:9100"))
}

// TestAlertmanagerWebhook: Alertmanager's webhook receiver payload, with
// an integration key in the header or the query string, stores one item
// for the group holding both alerts; a re-send changes nothing; the
// resolved notification resolves the alerts; Grafana's payload is taken
// too; a malformed body gets a 400 naming the field, and another
// sender's key is refused.
func TestAlertmanagerWebhook(t *testing.T) {
	e, _ := keyEnv(t)
	key := e.createKey(t, "alertmanager", "alertmanager")
	start := e.clk.Now().Add(-time.Hour)
	var out struct {
		Alerts   int `json:"alerts"`
		Incident struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"incident"`
	}
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager", amGroup("firing", start, time.Time{}), bearerHdr(key.Secret)...).
		wantCode(t, http.StatusOK).decode(t, &out)
	item := out.Incident.WorkItemID
	if out.Alerts != 2 || item == 0 {
		t.Fatalf("answer = %+v", out)
	}
	var list struct {
		Items []struct {
			WorkItemID int64  `json:"workitem_id"`
			Status     string `json:"status"`
		} `json:"items"`
	}
	e.do(t, viewer, "GET", "/api/v1/alerts?source=alertmanager", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 2 || list.Items[0].WorkItemID != item || list.Items[1].WorkItemID != item {
		t.Fatalf("alerts = %+v, want both on item %d", list, item)
	}
	var items struct {
		Items []struct{ ID int64 } `json:"items"`
	}
	e.do(t, viewer, "GET", "/api/v1/workitems", nil).wantCode(t, http.StatusOK).decode(t, &items)
	if len(items.Items) != 1 {
		t.Fatalf("%d items, want 1 for the group", len(items.Items))
	}

	// The same notification again (Alertmanager re-sends each
	// repeat_interval), through ?key=.
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager?key="+key.Secret, amGroup("firing", start, time.Time{})).wantCode(t, http.StatusOK)
	e.do(t, viewer, "GET", "/api/v1/workitems", nil).wantCode(t, http.StatusOK).decode(t, &items)
	if len(items.Items) != 1 {
		t.Fatalf("a re-send made %d items", len(items.Items))
	}
	// Resolved.
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager", amGroup("resolved", start, e.clk.Now().Add(-time.Minute)), bearerHdr(key.Secret)...).wantCode(t, http.StatusOK)
	e.do(t, viewer, "GET", "/api/v1/alerts?source=alertmanager", nil).wantCode(t, http.StatusOK).decode(t, &list)
	for _, a := range list.Items {
		if a.Status != "resolved" {
			t.Errorf("after the resolved notification: %+v", list.Items)
		}
	}
	tl := e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/timeline?limit=200", item), nil).wantCode(t, http.StatusOK)
	if !strings.Contains(strings.ToLower(string(tl.body)), "resolved") {
		t.Errorf("the item's timeline does not record the resolution: %s", tl.body)
	}

	// Grafana's contact point.
	g, err := os.ReadFile("../alertmanager/testdata/grafana_webhook_example.json")
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager", g, bearerHdr(key.Secret)...).wantCode(t, http.StatusOK)

	// Bad input and bad credentials.
	wantField(t, e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager", `{"version":"4","groupKey":"k","status":"firing","alerts":[{"labels":{"a":"b"},"startsAt":"yesterday"}]}`, bearerHdr(key.Secret)...), "alerts[0].startsAt")
	other := e.createKey(t, "pd", "pagerduty")
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager", amGroup("firing", start, time.Time{}), bearerHdr(other.Secret)...).wantCode(t, http.StatusUnauthorized)
	e.do(t, noAuth, "POST", "/api/v1/webhooks/alertmanager?key=nope", amGroup("firing", start, time.Time{})).wantCode(t, http.StatusUnauthorized)
}
