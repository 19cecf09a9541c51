package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// amSpec validates an answer against Alertmanager's own OpenAPI document.
func amSpec(t *testing.T, r resp, ref string) resp {
	t.Helper()
	spec, err := os.ReadFile("../alertmanager/testdata/api_v2_openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := alertmanager.ValidateAgainstSpec(spec, ref, r.body); err != nil {
		t.Errorf("%s: not as Alertmanager's API v2 says (%s): %v", r, ref, err)
	}
	return r
}

// TestAlertmanagerAPI: the parts of Alertmanager's API v2 its tools use,
// each answer checked against Alertmanager's OpenAPI document. Alerts
// posted as Prometheus posts them are listed and filtered; a silence is
// stored as a suppression rule, after which a matching alert makes no
// item and is listed as silenced by it; it shows on the rules page, and
// expires; errors are JSON strings, which amtool decodes.
func TestAlertmanagerAPI(t *testing.T) {
	var svc *rules.Service
	e := newEnv(t, func(o *web.Options) {
		db := o.Store.(*pingStore).DB
		svc = rules.New(db, workitem.DefaultProcess(), o.Clock, nil)
		o.Rules, o.Silences, o.LabelledAlerts = svc, svc, db
	})
	post := func(name, instance string) {
		t.Helper()
		body := `[{"labels":{"alertname":"` + name + `","instance":"` + instance + `","severity":"warning"},"annotations":{"summary":"s"},"generatorURL":"http://prom:9090/g"}]`
		e.do(t, responder, "POST", "/api/v2/alerts", body).wantCode(t, http.StatusOK)
	}
	post("DiskFull", "db-1:9100")
	post("HighCPU", "web-1:9100")

	var alerts []alertmanager.GettableAlert
	amSpec(t, e.do(t, viewer, "GET", "/api/v2/alerts", nil).wantCode(t, http.StatusOK), "#/paths/~1alerts/get/responses/200/schema").decode(t, &alerts)
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2", len(alerts))
	}
	e.do(t, viewer, "GET", "/api/v2/alerts?filter="+url.QueryEscape(`alertname="DiskFull"`), nil).wantCode(t, http.StatusOK).decode(t, &alerts)
	if len(alerts) != 1 || alerts[0].Labels["instance"] != "db-1:9100" || alerts[0].Status.State != "active" {
		t.Fatalf("filtered alerts = %+v", alerts)
	}
	bad := e.do(t, viewer, "GET", "/api/v2/alerts?filter="+url.QueryEscape(`alertname=~"(`), nil).wantCode(t, http.StatusBadRequest)
	var msg string
	if err := json.Unmarshal(bad.body, &msg); err != nil || msg == "" {
		t.Errorf("bad filter: want Alertmanager's JSON string, got %s", bad.body)
	}

	// A silence, as amtool silence add makes it.
	now := e.clk.Now()
	sil := map[string]any{"matchers": []map[string]any{{"name": "alertname", "value": "HighCPU", "isRegex": false, "isEqual": true},
		{"name": "instance", "value": "web-.*", "isRegex": true, "isEqual": true}},
		"startsAt": now.Format(time.RFC3339), "endsAt": now.Add(time.Hour).Format(time.RFC3339), "createdBy": "ana", "comment": "deploying"}
	e.do(t, viewer, "POST", "/api/v2/silences", sil).wantCode(t, http.StatusForbidden)
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	amSpec(t, e.do(t, responder, "POST", "/api/v2/silences", sil).wantCode(t, http.StatusOK), "#/paths/~1silences/post/responses/200/schema").decode(t, &created)
	if created.SilenceID == "" {
		t.Fatal("no silence id")
	}
	noComment := map[string]any{"matchers": sil["matchers"], "startsAt": sil["startsAt"], "endsAt": sil["endsAt"], "createdBy": "ana"}
	e.do(t, responder, "POST", "/api/v2/silences", noComment).wantCode(t, http.StatusBadRequest)

	var sils []alertmanager.GettableSilence
	amSpec(t, e.do(t, viewer, "GET", "/api/v2/silences", nil).wantCode(t, http.StatusOK), "#/paths/~1silences/get/responses/200/schema").decode(t, &sils)
	if len(sils) != 1 || sils[0].ID != created.SilenceID || sils[0].Status.State != "active" || sils[0].CreatedBy != "ana" {
		t.Fatalf("silences = %+v", sils)
	}
	amSpec(t, e.do(t, viewer, "GET", "/api/v2/silence/"+created.SilenceID, nil).wantCode(t, http.StatusOK), "#/paths/~1silence~1{silenceID}/get/responses/200/schema")
	e.do(t, viewer, "GET", "/api/v2/silence/nope", nil).wantCode(t, http.StatusNotFound)
	rl := e.do(t, viewer, "GET", "/api/v1/rules", nil).wantCode(t, http.StatusOK)
	if !strings.Contains(string(rl.body), "Silence "+created.SilenceID[:8]) {
		t.Errorf("the silence is not on the rules list: %s", rl.body)
	}

	// A new alert the silence matches: stored, no item, listed as silenced.
	items := func() int {
		var page struct {
			Items []struct{ ID int64 } `json:"items"`
		}
		e.do(t, viewer, "GET", "/api/v1/workitems", nil).wantCode(t, http.StatusOK).decode(t, &page)
		return len(page.Items)
	}
	before := items()
	post("HighCPU", "web-2:9100")
	if n := items(); n != before {
		t.Errorf("a silenced alert made an item: %d items, want %d", n, before)
	}
	e.do(t, viewer, "GET", "/api/v2/alerts?filter="+url.QueryEscape(`instance="web-2:9100"`), nil).wantCode(t, http.StatusOK).decode(t, &alerts)
	if len(alerts) != 1 || alerts[0].Status.State != "suppressed" || len(alerts[0].Status.SilencedBy) != 1 || alerts[0].Status.SilencedBy[0] != created.SilenceID {
		t.Fatalf("silenced alert = %+v", alerts)
	}
	e.do(t, viewer, "GET", "/api/v2/alerts?silenced=false", nil).wantCode(t, http.StatusOK).decode(t, &alerts)
	for _, a := range alerts {
		if a.Labels["instance"] == "web-2:9100" {
			t.Errorf("silenced=false lists the silenced alert")
		}
	}

	amSpec(t, e.do(t, viewer, "GET", "/api/v2/alerts/groups", nil).wantCode(t, http.StatusOK), "#/paths/~1alerts~1groups/get/responses/200/schema")
	amSpec(t, e.do(t, viewer, "GET", "/api/v2/status", nil).wantCode(t, http.StatusOK), "#/paths/~1status/get/responses/200/schema")
	amSpec(t, e.do(t, viewer, "GET", "/api/v2/receivers", nil).wantCode(t, http.StatusOK), "#/paths/~1receivers/get/responses/200/schema")

	// Expire it (amtool silence expire).
	e.do(t, viewer, "DELETE", "/api/v2/silence/"+created.SilenceID, nil).wantCode(t, http.StatusForbidden)
	e.do(t, responder, "DELETE", "/api/v2/silence/"+created.SilenceID, nil).wantCode(t, http.StatusOK)
	e.clk.Advance(time.Second)
	e.do(t, viewer, "GET", "/api/v2/silence/"+created.SilenceID, nil).wantCode(t, http.StatusOK).decode(t, &sils0)
	if sils0.Status.State != "expired" {
		t.Errorf("after expiry: %+v", sils0)
	}
	e.do(t, responder, "DELETE", "/api/v2/silence/"+created.SilenceID, nil).wantCode(t, http.StatusBadRequest)
	post("HighCPU", "web-3:9100")
	if n := items(); n != before+1 {
		t.Errorf("after the silence expired, a new alert made %d items, want %d", n, before+1)
	}
}

var sils0 alertmanager.GettableSilence
