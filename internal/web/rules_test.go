package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func rulesEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(o *web.Options) {
		o.Rules = rules.New(o.Store.(*pingStore).DB, workitem.DefaultProcess(), o.Clock, nil)
	})
}

type ruleAnswer struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Hits    int64  `json:"hits"`
}

// TestRulesAPI: a rule is created, previewed over stored alerts, acts on
// the next alert, is updated as a new version with its history; bad
// definitions are 400s that name the field, with CEL's position.
func TestRulesAPI(t *testing.T) {
	e := rulesEnv(t)
	for i := range 3 {
		e.do(t, responder, "POST", "/api/v1/alerts", map[string]any{"source": "api", "source_id": fmt.Sprintf("old-%d", i),
			"title": "Nessus scan from 10.1.1.1", "severity": "low"}).wantCode(t, http.StatusOK)
	}
	e.do(t, responder, "POST", "/api/v1/alerts", map[string]any{"source": "api", "source_id": "other", "title": "Real attack", "severity": "high"}).wantCode(t, http.StatusOK)

	def := map[string]any{"name": "nessus", "enabled": true, "triggers": []string{"alert.created"},
		"builder": map[string]any{"match": "all", "rows": []map[string]any{{"property": "title", "operator": "starts_with", "values": []string{"nessus scan"}}}},
		"actions": []map[string]any{{"type": "tags", "add": []string{"scanner"}}, {"type": "close", "classification": "benign_positive", "reason": "authorized scanner"}}}

	var p rules.Preview
	e.do(t, viewer, "POST", "/api/v1/rules/preview?days=7", def).wantCode(t, http.StatusOK).decode(t, &p)
	if p.Scanned != 4 || p.Matched != 3 || p.ByAction["close"] != 3 || len(p.Samples) != 3 {
		t.Errorf("preview = scanned %d matched %d by action %v samples %d; want 4, 3, close 3, 3", p.Scanned, p.Matched, p.ByAction, len(p.Samples))
	}

	e.do(t, responder, "POST", "/api/v1/rules", def).wantCode(t, http.StatusForbidden)
	var r ruleAnswer
	e.do(t, admin, "POST", "/api/v1/rules", def).wantCode(t, http.StatusCreated).decode(t, &r)
	if r.Version != 1 || r.Name != "nessus" {
		t.Fatalf("created rule = %+v", r)
	}
	e.do(t, admin, "POST", "/api/v1/rules", def).wantCode(t, http.StatusConflict)

	var ing struct {
		Results []struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"results"`
	}
	e.do(t, responder, "POST", "/api/v1/alerts", map[string]any{"source": "api", "source_id": "new", "title": "NESSUS scan from 10.1.1.2", "severity": "low"}).
		wantCode(t, http.StatusOK).decode(t, &ing)
	var it workitem.Item
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d", ing.Results[0].WorkItemID), nil).wantCode(t, http.StatusOK).decode(t, &it)
	if it.State != "Closed" || len(it.Tags) != 1 || it.Tags[0] != "scanner" {
		t.Errorf("item after the rule = state %s tags %v; want Closed, [scanner]", it.State, it.Tags)
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/rules/%d", r.ID), nil).wantCode(t, http.StatusOK).decode(t, &r)
	if r.Hits != 1 {
		t.Errorf("rule hits = %d, want 1", r.Hits)
	}

	def["description"] = "the weekly scan"
	e.do(t, admin, "PUT", fmt.Sprintf("/api/v1/rules/%d", r.ID), def).wantCode(t, http.StatusOK).decode(t, &r)
	if r.Version != 2 {
		t.Errorf("updated version = %d, want 2", r.Version)
	}
	var vs struct {
		Versions []struct {
			Version   int    `json:"version"`
			ChangedBy string `json:"changed_by"`
		} `json:"versions"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/rules/%d/versions", r.ID), nil).wantCode(t, http.StatusOK).decode(t, &vs)
	if len(vs.Versions) != 2 || vs.Versions[0].Version != 2 || !strings.HasPrefix(vs.Versions[0].ChangedBy, "token:") {
		t.Errorf("versions = %+v", vs.Versions)
	}
	var list struct {
		Rules []ruleAnswer `json:"rules"`
	}
	e.do(t, viewer, "GET", "/api/v1/rules", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Rules) != 1 {
		t.Errorf("rules = %+v", list.Rules)
	}
	var vocab map[string]any
	e.do(t, viewer, "GET", "/api/v1/rules/vocabulary", nil).wantCode(t, http.StatusOK).decode(t, &vocab)
	if vocab["properties"] == nil || vocab["variables"] == nil {
		t.Errorf("vocabulary = %v", vocab)
	}

	bad := []struct {
		name  string
		body  map[string]any
		field string
		msg   string
	}{
		{"syntax", map[string]any{"name": "x", "triggers": []string{"alert.created"}, "condition": `title == `, "actions": []map[string]any{{"type": "suppress"}}}, "condition", "1:9"},
		{"not boolean", map[string]any{"name": "x", "triggers": []string{"alert.created"}, "condition": `title`, "actions": []map[string]any{{"type": "suppress"}}}, "condition", "boolean"},
		{"unknown variable", map[string]any{"name": "x", "triggers": []string{"alert.created"}, "condition": `colour == "red"`, "actions": []map[string]any{{"type": "suppress"}}}, "condition", "colour"},
		{"unknown state", map[string]any{"name": "x", "triggers": []string{"alert.created"}, "actions": []map[string]any{{"type": "move", "state": "Limbo"}}}, "actions[0].state", "Limbo"},
		{"suppress on update", map[string]any{"name": "x", "triggers": []string{"item.moved"}, "actions": []map[string]any{{"type": "suppress"}}}, "actions[0].type", "creation"},
		{"unknown trigger", map[string]any{"name": "x", "triggers": []string{"alert.deleted"}, "actions": []map[string]any{{"type": "suppress"}}}, "triggers[0]", "alert.deleted"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			ae := e.do(t, admin, "POST", "/api/v1/rules", c.body).wantCode(t, http.StatusBadRequest).apiErr(t)
			if ae.Error.Field != c.field || !strings.Contains(ae.Error.Message, c.msg) {
				t.Errorf("error = field %q message %q; want field %q mentioning %q", ae.Error.Field, ae.Error.Message, c.field, c.msg)
			}
		})
	}
}

// TestRuleNoiseAPI: six items of one title removed as false positives
// make the noisiest row and a suggested suppression that saves as it is;
// a bad window is a 400 naming the field.
func TestRuleNoiseAPI(t *testing.T) {
	e := rulesEnv(t)
	var ing struct {
		Results []struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"results"`
	}
	for i := range 6 {
		e.do(t, responder, "POST", "/api/v1/alerts", map[string]any{"source": "api", "source_id": fmt.Sprintf("pt-%d", i),
			"title": "Pentest beacon", "severity": "medium"}).wantCode(t, http.StatusOK).decode(t, &ing)
		e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", ing.Results[0].WorkItemID),
			map[string]any{"to": "Removed", "reason": "False positive: the red team"}).wantCode(t, http.StatusOK)
	}
	e.do(t, responder, "POST", "/api/v1/alerts", map[string]any{"source": "api", "source_id": "real", "title": "Real attack", "severity": "high"}).wantCode(t, http.StatusOK)

	var rep rules.NoiseReport
	e.do(t, viewer, "GET", "/api/v1/rules/noise?days=7", nil).wantCode(t, http.StatusOK).decode(t, &rep)
	if len(rep.Rows) != 2 || rep.Rows[0].Title != "Pentest beacon" || rep.Rows[0].Items != 6 || rep.Rows[0].FalsePositive != 6 || rep.Rows[0].NoiseShare != 1 {
		t.Fatalf("noise rows = %+v; want Pentest beacon first with 6 items, 6 false positives", rep.Rows)
	}
	if len(rep.Suggestions) != 1 || rep.Suggestions[0].Rule.Enabled || rep.Suggestions[0].Rule.ExpiresAt == nil {
		t.Fatalf("suggestions = %+v; want one disabled rule with an expiry", rep.Suggestions)
	}
	if want := e.clk.Now().Add(7 * 24 * time.Hour); rep.Suggestions[0].Rule.ExpiresAt.Sub(want).Abs() > time.Minute {
		t.Errorf("suggested expiry = %v, want about %v", rep.Suggestions[0].Rule.ExpiresAt, want)
	}
	var r ruleAnswer
	e.do(t, admin, "POST", "/api/v1/rules", rep.Suggestions[0].Rule).wantCode(t, http.StatusCreated).decode(t, &r)
	if r.Name != "Suppress: Pentest beacon" {
		t.Errorf("saved suggestion = %+v", r)
	}
	for _, q := range []string{"days=0", "days=x", "limit=-1"} {
		ae := e.do(t, viewer, "GET", "/api/v1/rules/noise?"+q, nil).wantCode(t, http.StatusBadRequest).apiErr(t)
		if name, _, _ := strings.Cut(q, "="); ae.Error.Field != name {
			t.Errorf("GET noise?%s: field %q, want %q", q, ae.Error.Field, name)
		}
	}
}
