package ui_test

import (
	"net/url"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/ui"
)

// TestSilenceFromRulesPage: a responder silences Alertmanager alerts from
// the rules page; the silence is the one amtool lists (the API's
// silences), shows on the page, and expires from it. A viewer has no
// form and may not silence; bad matchers name the field.
func TestSilenceFromRulesPage(t *testing.T) {
	var svc *rules.Service
	e := newEnv(t, func(o *ui.Options) {
		svc = rules.New(o.Records.(rules.Store), o.Items.Process(), o.Clock, nil)
		o.Rules, o.Silences = svc, svc
	})
	e.as(t, viewer).get(t, "/rules").wantCode(t, 200).wantNoBody(t, `id="silence-form"`)
	form := url.Values{"matchers": {`alertname="DiskFull", instance=~"db-.*"`}, "duration": {"2h"}, "comment": {"disk swap tonight"}}
	e.as(t, viewer).post(t, "/rules/silences", form).wantCode(t, 403)
	e.as(t, responder).post(t, "/rules/silences", url.Values{"matchers": {`alertname=~"(`}, "duration": {"2h"}, "comment": {"x"}}).wantCode(t, 400)
	e.as(t, responder).post(t, "/rules/silences", form).wantCode(t, 303)
	sils, err := svc.Silences(t.Context(), auth.System)
	if err != nil || len(sils) != 1 || sils[0].Comment != "disk swap tonight" || sils[0].Status.State != "active" {
		t.Fatalf("silences = %+v, %v", sils, err)
	}
	e.as(t, responder).get(t, "/rules").wantCode(t, 200).wantBody(t, `id="silence-form"`, "Silence "+sils[0].ID[:8], "disk swap tonight",
		`action="/rules/silences/`+sils[0].ID+`/expire"`)
	e.as(t, responder).post(t, "/rules/silences/"+sils[0].ID+"/expire", url.Values{}).wantCode(t, 303)
	e.clk.Advance(1e9)
	if sils, _ = svc.Silences(t.Context(), auth.System); sils[0].Status.State != "expired" {
		t.Errorf("after expiry: %+v", sils[0])
	}
}
