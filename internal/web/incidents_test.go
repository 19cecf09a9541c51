package web_test

import (
	"fmt"
	"net/http"
	"testing"
)

func TestIncidents(t *testing.T) {
	e := newEnv(t)
	e.do(t, responder, "POST", "/api/v1/alerts", []map[string]any{
		{"source": "sentinel", "source_id": "al-1", "title": "Suspicious sign-in", "severity": "medium"},
		{"source": "sentinel", "source_id": "al-2", "title": "Mass download", "severity": "high"},
	}).wantCode(t, http.StatusOK)

	inc := map[string]any{"source": "sentinel", "source_id": "inc-7", "title": "Account compromise", "severity": "high",
		"alerts": []string{"al-1", "al-2", "al-9"}}
	var res struct {
		IncidentID    int64    `json:"incident_id"`
		Version       int      `json:"version"`
		WorkItemID    int64    `json:"workitem_id"`
		Outcome       string   `json:"outcome"`
		MissingAlerts []string `json:"missing_alerts"`
	}
	e.do(t, responder, "POST", "/api/v1/incidents", inc).wantCode(t, http.StatusOK).decode(t, &res)
	if res.Outcome != "created" || res.Version != 1 || fmt.Sprint(res.MissingAlerts) != "[al-9]" {
		t.Errorf("first post = %+v, want created v1 with al-9 missing", res)
	}
	inc["status"] = "in_progress"
	e.do(t, responder, "POST", "/api/v1/incidents", inc).wantCode(t, http.StatusOK).decode(t, &res)
	if res.Outcome != "updated" || res.Version != 2 {
		t.Errorf("second post = %+v, want updated v2", res)
	}

	var got struct {
		SourceID string  `json:"source_id"`
		Status   string  `json:"status"`
		AlertIDs []int64 `json:"alert_ids"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/incidents/%d", res.IncidentID), nil).wantCode(t, http.StatusOK).decode(t, &got)
	if got.SourceID != "inc-7" || got.Status != "in_progress" || len(got.AlertIDs) != 2 {
		t.Errorf("GET incident = %+v", got)
	}
	var versions struct {
		Items []struct {
			Version int `json:"version"`
		} `json:"items"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/incidents/%d/versions", res.IncidentID), nil).wantCode(t, http.StatusOK).decode(t, &versions)
	if len(versions.Items) != 2 {
		t.Errorf("versions = %d, want 2", len(versions.Items))
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	e.do(t, viewer, "GET", "/api/v1/incidents?source=sentinel&limit=10", nil).wantCode(t, http.StatusOK).decode(t, &page)
	if len(page.Items) != 1 {
		t.Errorf("list = %d incidents, want 1", len(page.Items))
	}
	var item struct {
		AlertCount  int     `json:"alert_count"`
		IncidentIDs []int64 `json:"incident_ids"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d", res.WorkItemID), nil).wantCode(t, http.StatusOK).decode(t, &item)
	if item.AlertCount != 2 || len(item.IncidentIDs) != 1 {
		t.Errorf("incident's work item = %+v, want 2 alerts and the incident", item)
	}

	// Bad input names the field; viewers cannot write; unknown ids are 404.
	bad := []struct {
		body  any
		field string
	}{
		{map[string]any{"source": "sentinel", "title": "no id"}, "source_id"},
		{map[string]any{"source": "sentinel", "source_id": "x", "title": "t", "severity": "urgent"}, "severity"},
		{map[string]any{"source": "sentinel", "source_id": "x", "title": "t", "alertz": []string{}}, "alertz"},
		{map[string]any{"source": "sentinel", "source_id": "x", "title": "t", "first_seen": "noon"}, "first_seen"},
	}
	for _, b := range bad {
		if f := e.do(t, responder, "POST", "/api/v1/incidents", b.body).wantCode(t, http.StatusBadRequest).apiErr(t).Error.Field; f != b.field {
			t.Errorf("POST %v: field %q, want %q", b.body, f, b.field)
		}
	}
	e.do(t, viewer, "POST", "/api/v1/incidents", inc).wantCode(t, http.StatusForbidden)
	e.do(t, viewer, "GET", "/api/v1/incidents/999", nil).wantCode(t, http.StatusNotFound)
	e.do(t, viewer, "GET", "/api/v1/incidents/999/versions", nil).wantCode(t, http.StatusNotFound)
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, admin, "DELETE", "/api/v1/workitems/1", nil).wantCode(t, http.StatusMethodNotAllowed)
	if got := r.hdr.Get("Allow"); got != "GET, PATCH" {
		t.Errorf("Allow = %q, want %q", got, "GET, PATCH")
	}
	e.do(t, admin, "GET", "/api/v1/nothing-here", nil).wantCode(t, http.StatusNotFound)
}
