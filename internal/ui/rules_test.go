package ui_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/ui"
)

// newRulesEnv is a web interface with the rules service, as the app
// wires it.
func newRulesEnv(t *testing.T) (*env, *rules.Service) {
	t.Helper()
	var svc *rules.Service
	e := newEnv(t, func(o *ui.Options) {
		svc = rules.New(o.Records.(rules.Store), o.Items.Process(), o.Clock, nil)
		o.Rules = svc
	})
	return e, svc
}

// TestRulesList: every role reads the list in run order, with expiry
// and counters; only admins are offered the editor's "New rule".
func TestRulesList(t *testing.T) {
	e, svc := newRulesEnv(t)
	exp := t0.Add(3*24*time.Hour + time.Hour)
	past := t0.Add(-time.Hour)
	for _, d := range []automation.Definition{
		{Name: "Second: tag the pentest", Order: 2, Enabled: true, Triggers: []string{"alert.created"}, Sources: []string{"defender"},
			Condition: `title.contains("pentest")`, Actions: []automation.ActionSpec{{Type: "tags", Add: []string{"pentest"}}}, ExpiresAt: &exp},
		{Name: "First: old campaign", Order: 1, Enabled: true, Triggers: []string{"alert.created"},
			Actions: []automation.ActionSpec{{Type: "close", Classification: "false_positive"}}, ExpiresAt: &past},
	} {
		if _, err := svc.Save(context.Background(), e.actor(admin), 0, d); err != nil {
			t.Fatalf("save %s: %v", d.Name, err)
		}
	}
	for _, tc := range []struct {
		role    string
		c       *client
		wantNew bool
	}{
		{"viewer", e.as(t, viewer), false},
		{"admin", e.as(t, admin), true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			r := tc.c.get(t, "/rules").wantCode(t, http.StatusOK).
				wantBody(t, "First: old campaign", "Second: tag the pentest", "expires in 3 days", "expired", "defender", "v1", email[admin])
			if strings.Index(r.body, "First: old campaign") > strings.Index(r.body, "Second: tag the pentest") {
				t.Error("rules are not listed in run order")
			}
			if got := strings.Contains(r.body, `href="/rules/new"`); got != tc.wantNew {
				t.Errorf("New rule link shown = %v, want %v", got, tc.wantNew)
			}
		})
	}
}

// TestRuleSaveErrorNamesField: a refused save re-renders the form with
// the message next to its field and every input kept.
func TestRuleSaveErrorNamesField(t *testing.T) {
	e, _ := newRulesEnv(t)
	c := e.as(t, admin)
	base := url.Values{"name": {"Keep me"}, "triggers": {"alert.created"}, "enabled": {"1"}, "sources": {"defender, sentinel"},
		"match": {"all"}, "row_property": {"title"}, "row_operator": {"contains"}, "row_values": {"pentest"},
		"act_type": {"close"}, "act_classification": {"false_positive"}, "act_reason": {"pentest week"}}
	for _, tc := range []struct {
		name   string
		change url.Values
		want   string // the field error's message
	}{
		{"empty name", url.Values{"name": {" "}}, "name: must not be empty"},
		{"no trigger", url.Values{"triggers": nil}, "triggers: name at least one of"},
		{"bad CEL", url.Values{"cel_mode": {"cel"}, "condition": {"title =="}}, "condition"},
		{"bad expiry", url.Values{"expires_at": {"next week"}}, "expires_at: must be a date"},
		{"move without state", url.Values{"act_type": {"move"}, "act_state": {""}}, "actions[0].state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range base {
				f[k] = v
			}
			for k, v := range tc.change {
				if v == nil {
					delete(f, k)
				} else {
					f[k] = v
				}
			}
			r := c.post(t, "/rules", f).wantCode(t, http.StatusBadRequest)
			body := html.UnescapeString(r.body)
			if !strings.Contains(body, tc.want) {
				t.Errorf("body lacks %q", tc.want)
			}
			if !strings.Contains(r.body, `class="field-error error"`) {
				t.Error("no error shown next to a field")
			}
			if !strings.Contains(r.body, "defender, sentinel") || !strings.Contains(r.body, "pentest week") {
				t.Error("the form lost its input")
			}
		})
	}
	// The same form, corrected, saves and leads to the rule's page with
	// its history.
	r := c.post(t, "/rules", base).wantCode(t, http.StatusSeeOther)
	loc := r.hdr.Get("Location")
	c.get(t, loc).wantCode(t, http.StatusOK).wantBody(t, "Keep me", "History", "v1", `title.lowerAscii().contains(&#34;pentest&#34;)`)
	// A viewer may read but not save.
	e.as(t, viewer).post(t, "/rules", base).wantCode(t, http.StatusForbidden)
}

// TestRuleFromItem: "Suppress similar" proposes a week-long rule closing
// items with the same title, source and key entity as false positives.
func TestRuleFromItem(t *testing.T) {
	e, _ := newRulesEnv(t)
	ids := e.ingest(t, spec{source: "defender", title: "Port scan from scanner", sev: alert.SeverityLow,
		entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"}}})
	e.as(t, admin).get(t, idPath("/items/%d", ids[0])).wantBody(t, idPath("/rules/new?from_item=%d", ids[0]), "Suppress similar")
	r := e.as(t, admin).get(t, idPath("/rules/new?from_item=%d", ids[0])).wantCode(t, http.StatusOK)
	exp := t0.Add(7 * 24 * time.Hour).Format("2006-01-02T15:04")
	r.wantBody(t, `value="Suppress: Port scan from scanner"`, `value="alert.created" checked`,
		`<option value="hosts" selected>`, ">vm-web-01</textarea>", `<option value="source" selected>`, ">defender</textarea>",
		`<option value="false_positive" selected>`, `value="suppressed similar"`, `value="`+exp+`"`, `id="rule-enabled" type="checkbox" name="enabled" value="1" checked`)
	// The condition box shows the builder's CEL.
	r.wantBody(t, "hosts.exists(x, x.lowerAscii() == &#34;vm-web-01&#34;)")
	e.as(t, admin).get(t, "/rules/new?from_item=999999").wantCode(t, http.StatusNotFound)
}

// TestRuleCELAndPreview: the builder's CEL comes from the server, and a
// preview counts what the rule would have done.
func TestRuleCELAndPreview(t *testing.T) {
	e, _ := newRulesEnv(t)
	e.ingest(t, spec{title: "Pentest: port scan"}, spec{title: "Real thing"})
	c := e.as(t, viewer)
	f := url.Values{"name": {"p"}, "triggers": {"alert.created"}, "match": {"all"}, "row_property": {"title"},
		"row_operator": {"contains"}, "row_values": {"pentest"}, "act_type": {"close"}, "act_classification": {"false_positive"}, "days": {"30"}}
	c.post(t, "/rules/cel", f, "X-Requested-With", "fetch").wantCode(t, http.StatusOK).wantBody(t, `title.lowerAscii().contains("pentest")`)
	c.post(t, "/rules/preview", f, "X-Requested-With", "fetch").wantCode(t, http.StatusOK).
		wantBody(t, `id="preview-counts"`, "<strong>1</strong> of 2 alerts", "close: 1", "Pentest: port scan")
	bad := url.Values{"row_property": {"nope"}, "row_operator": {"equals"}, "row_values": {"x"}}
	c.post(t, "/rules/cel", bad, "X-Requested-With", "fetch").wantCode(t, http.StatusBadRequest).wantBody(t, "builder.rows[0]")
}

// TestRulesNoise: the rules page lists the noisiest kinds of items and
// suggests a rule for one closed as noise five times out of five; the
// suggestion opens the editor with the rule filled in and disabled.
func TestRulesNoise(t *testing.T) {
	e, _ := newRulesEnv(t)
	for range 5 {
		id := e.ingest(t, spec{source: "defender", title: "Red team beacon", entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-pt-01"}}})[0]
		e.move(t, id, "Removed", "false positive: red team week")
	}
	e.ingest(t, spec{source: "sentinel", title: "Impossible travel"})
	r := e.as(t, viewer).get(t, "/rules").wantCode(t, http.StatusOK).
		wantBody(t, `id="noise-table"`, "Red team beacon", "host vm-pt-01", "100%", "Impossible travel", "5 of 5 items")
	if strings.Contains(r.body, "Propose a rule") {
		t.Error("a viewer is offered to propose a rule")
	}
	r = e.as(t, admin).get(t, "/rules").wantCode(t, http.StatusOK)
	link := "/rules/new?similar_title=Red%20team%20beacon&amp;similar_source=defender&amp;similar_entity=host%20vm-pt-01"
	r.wantBody(t, link)
	e.as(t, admin).get(t, html.UnescapeString(link)).wantCode(t, http.StatusOK).
		wantBody(t, `value="Suppress: Red team beacon"`, ">vm-pt-01</textarea>", `<option value="false_positive" selected>`, `id="rule-enabled" type="checkbox" name="enabled" value="1">`)
}
