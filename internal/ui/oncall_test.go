package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ui"
)

// onCallEnv is the test server with on-call on: a daily schedule
// "primary" (UTC) rotating the responder and the admin, a policy and a
// service of the same name, and one item paged on it.
type onCallEnv struct {
	*env
	pager  *paging.Pager
	itemID int64
	page   store.Page
}

func newOnCallEnv(t *testing.T) *onCallEnv {
	t.Helper()
	var pager *paging.Pager
	e := newEnv(t, func(o *ui.Options) {
		// The store behind Records is the SQLite store newEnv made.
		db := o.Records.(*store.DB)
		pager = paging.New(db, o.Items, paging.Options{Clock: o.Clock})
		o.Pager = pager
	})
	ctx := context.Background()
	defs := []struct{ kind, body string }{
		{paging.KindSchedule, `{"time_zone":"UTC","layers":[{"name":"days","type":"daily","start":"2026-03-01T09:00",
			"participants":["rob.responder@example.com","ana.admin@example.com"]}]}`},
		{paging.KindPolicy, `{"repeat":1,"steps":[{"delay_minutes":10,"targets":[{"type":"schedule","name":"primary"}]}]}`},
		{paging.KindService, `{"policy":"primary","urgency":"high"}`},
	}
	for _, d := range defs {
		if _, _, err := pager.Put(ctx, auth.System, d.kind, "primary", []byte(d.body)); err != nil {
			t.Fatalf("put %s: %v", d.kind, err)
		}
	}
	oe := &onCallEnv{env: e, pager: pager}
	oe.itemID = e.ingest(t, spec{title: "Ransomware on db-01", sev: alert.SeverityHigh})[0]
	p, _, err := pager.Trigger(ctx, auth.System, oe.itemID, "primary", "", "")
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	oe.page = p
	return oe
}

func (e *onCallEnv) onCall(t *testing.T) []string {
	t.Helper()
	who, err := e.pager.WhoIsOnCall(context.Background(), auth.System, e.clk.Now())
	if err != nil || len(who) != 1 {
		t.Fatalf("who is on call: %v %v", who, err)
	}
	return who[0].Users
}

func (e *onCallEnv) pageState(t *testing.T) store.Page {
	t.Helper()
	p, err := e.pager.Page(context.Background(), auth.System, e.page.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOnCallPagesByRole renders every on-call page for every role and
// checks that each sees the controls it may use, and no others.
func TestOnCallPagesByRole(t *testing.T) {
	e := newOnCallEnv(t)
	now := e.onCall(t)
	if len(now) != 1 {
		t.Fatalf("on call now: %v, want one user", now)
	}
	ack := `action="/pages/` + itoa(e.page.ID) + `/acknowledge"`
	resolve := `action="/pages/` + itoa(e.page.ID) + `/resolve"`
	tests := []struct {
		path string
		// every role sees all of want; admins (and for pages,
		// responders too) see control, the others do not.
		want    []string
		control string
		who     []auth.Role
	}{
		{"/oncall", []string{"Who is on call", `href="/oncall/schedules/primary"`, now[0], `>On call</a>`}, "", nil},
		{"/oncall/schedules/primary", []string{"Schedule: primary", "Times in UTC", `class="cal cal-week"`, "Week of 2 Mar 2026",
			"rob.responder@example.com", "ana.admin@example.com", "–24:00"}, "Save override", []auth.Role{admin}},
		{"/oncall/schedules/primary?view=month&start=2026-03-15", []string{"March 2026", `class="cal cal-month"`, `data-date="2026-03-31"`},
			"Save override", []auth.Role{admin}},
		{"/oncall/policies", []string{"Escalation policies", `href="/oncall/policies/primary"`, "primary", "1×"}, `id="new-policy"`, []auth.Role{admin}},
		{"/oncall/policies/primary", []string{"Escalation policy: primary", `value="10"`, `value="primary"`}, "Save policy", []auth.Role{admin}},
		{"/oncall/services", []string{"Services", `href="/oncall/policies/primary"`, "high"}, "", nil},
		{"/pages?everyone=1", []string{"My pages", "Ransomware on db-01", "triggered", "high urgency", "service <strong>primary</strong>"},
			ack, []auth.Role{responder, admin}},
		{idPath("/items/%d", e.itemID), []string{`id="item-page"`, "triggered", "page #" + itoa(e.page.ID)}, resolve, []auth.Role{responder, admin}},
	}
	for _, tc := range tests {
		for _, role := range []auth.Role{viewer, responder, admin} {
			t.Run(tc.path+"/"+string(role), func(t *testing.T) {
				r := e.as(t, role).get(t, tc.path).wantCode(t, http.StatusOK).wantBody(t, tc.want...)
				if tc.control == "" {
					return
				}
				if slices.Contains(tc.who, role) {
					r.wantBody(t, tc.control)
				} else {
					r.wantNoBody(t, tc.control)
				}
			})
		}
	}
	// The policy editor is read-only for the others.
	e.as(t, viewer).get(t, "/oncall/policies/primary").wantBody(t, "<fieldset disabled>")
	// A policy not made yet opens empty for an admin, and is not found
	// for the others.
	e.as(t, admin).get(t, "/oncall/policies/night").wantCode(t, http.StatusOK).wantBody(t, "A new policy", `name="new"`)
	e.as(t, responder).get(t, "/oncall/policies/night").wantCode(t, http.StatusNotFound)
	e.as(t, admin).get(t, "/oncall/policies?new=night").wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/policies/night")
	e.as(t, viewer).get(t, "/oncall/schedules/nope").wantCode(t, http.StatusNotFound)
	e.as(t, viewer).get(t, "/oncall/schedules/primary?start=yesterday").wantCode(t, http.StatusBadRequest).wantBody(t, "start")
}

// TestAcknowledgeFromCard: a viewer's POST is refused; the responder's
// acknowledges the page, assigns the item to them and moves it to
// Active; resolving then takes it off "My pages".
func TestAcknowledgeFromCard(t *testing.T) {
	e := newOnCallEnv(t)
	path := idPath("/pages/%d/acknowledge", e.page.ID)
	e.as(t, viewer).post(t, path, url.Values{"back": {"/pages"}}).wantCode(t, http.StatusForbidden)
	if p := e.pageState(t); p.State != store.PageTriggered {
		t.Fatalf("after the viewer's POST the page is %s, want triggered", p.State)
	}
	e.as(t, responder).post(t, path, url.Values{"back": {"/pages"}}).wantCode(t, http.StatusSeeOther).wantLocation(t, "/pages")
	p := e.pageState(t)
	if p.State != store.PageAcknowledged || p.AckBy != email[responder] {
		t.Fatalf("page %s by %q, want acknowledged by %s", p.State, p.AckBy, email[responder])
	}
	it := e.env.item(t, e.itemID)
	if it.Assignee != email[responder] || it.State != paging.ActiveState {
		t.Fatalf("item assigned to %q in %s, want %s in %s", it.Assignee, it.State, email[responder], paging.ActiveState)
	}
	// The flash says so, once; the card now offers only Resolve.
	e.as(t, responder).get(t, "/pages").wantBody(t, "Acknowledged page #"+itoa(e.page.ID), "acknowledged by <span class=\"ack-by\">"+email[responder]+"</span> (you)").
		wantNoBody(t, idPath(`action="/pages/%d/acknowledge"`, e.page.ID))

	// Resolving from the item page goes back there and closes both.
	e.as(t, admin).post(t, idPath("/pages/%d/resolve", e.page.ID), url.Values{"back": {idPath("/items/%d", e.itemID)}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, idPath("/items/%d", e.itemID))
	if p := e.pageState(t); p.State != store.PageResolved {
		t.Fatalf("page %s after resolve", p.State)
	}
	if it := e.env.item(t, e.itemID); it.State != "Closed" {
		t.Errorf("item %s after resolving its page, want Closed", it.State)
	}
	e.as(t, admin).get(t, idPath("/items/%d", e.itemID)).wantNoBody(t, `id="item-page"`)
	e.as(t, admin).get(t, "/pages").wantNoBody(t, "Ransomware on db-01")
	e.as(t, admin).get(t, "/pages?all=1&everyone=1").wantBody(t, "Ransomware on db-01", "resolved")
	// "Mine": the responder acknowledged it, the admin had nothing to do with it.
	e.as(t, responder).get(t, "/pages?all=1").wantBody(t, "Ransomware on db-01")
	e.as(t, admin).get(t, "/pages?all=1").wantNoBody(t, "Ransomware on db-01")
	// Acknowledging a resolved page is no error page: the flash says why.
	e.as(t, responder).post(t, path, url.Values{"back": {"/pages"}}).wantCode(t, http.StatusSeeOther)
	e.as(t, responder).get(t, "/pages").wantBody(t, "is resolved")
	e.as(t, responder).post(t, "/pages/999999/resolve", nil).wantCode(t, http.StatusNotFound)
}

// TestOverrideFromCalendar: an override saved by the calendar's form
// changes who is on call; a refused one shows the field's error.
func TestOverrideFromCalendar(t *testing.T) {
	e := newOnCallEnv(t)
	was := e.onCall(t)[0]
	from := e.clk.Now().Add(-time.Hour).Format("2006-01-02T15:04")
	to := e.clk.Now().Add(2 * time.Hour).Format("2006-01-02T15:04")
	form := url.Values{"replaces": {was}, "user": {email[viewer]}, "from": {from}, "to": {to}, "view": {"month"}, "start": {"2026-03-01"}}
	e.as(t, responder).post(t, "/oncall/schedules/primary/overrides", form).wantCode(t, http.StatusForbidden)
	if got := e.onCall(t); got[0] != was {
		t.Fatalf("a responder's override was saved: %v", got)
	}
	e.as(t, admin).post(t, "/oncall/schedules/primary/overrides", form).wantCode(t, http.StatusSeeOther).
		wantLocation(t, "/oncall/schedules/primary?view=month&start=2026-03-01")
	if got := e.onCall(t); len(got) != 1 || got[0] != email[viewer] {
		t.Fatalf("on call after the override: %v, want %s", got, email[viewer])
	}
	e.as(t, admin).get(t, "/oncall/schedules/primary?view=month&start=2026-03-01").
		wantBody(t, "replaces "+was, `class="block override"`, `id="overrides"`, email[viewer]+" <span class=\"muted\">replaces</span> "+was)
	e.as(t, viewer).get(t, "/oncall").wantBody(t, `<span class="oncall-user">`+email[viewer]+`</span>`)

	tests := []struct {
		name      string
		edit      func(url.Values)
		field     string // the input marked invalid
		message   string
		wantCode  int
		wantOnTop bool
	}{
		{"end before start", func(f url.Values) { f.Set("to", from) }, "to", "must be after start", http.StatusBadRequest, false},
		{"no user", func(f url.Values) { f.Set("user", "") }, "user", "is required for a replace override", http.StatusBadRequest, false},
		{"same user", func(f url.Values) { f.Set("user", was) }, "user", "must be someone other than", http.StatusBadRequest, false},
		{"bad time", func(f url.Values) { f.Set("from", "tomorrow") }, "from", "must be a date and time", http.StatusBadRequest, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range form {
				f[k] = slices.Clone(v)
			}
			tc.edit(f)
			r := e.as(t, admin).post(t, "/oncall/schedules/primary/overrides", f).wantCode(t, tc.wantCode)
			r.wantBody(t, `<details class="panel override-new" open>`, tc.message, `name="`+tc.field+`"`)
			// The invalid input is marked, and the message follows it.
			i := strings.Index(r.body, `name="`+tc.field+`"`)
			if i < 0 || !strings.Contains(r.body[i:i+200], `aria-invalid="true"`) || !strings.Contains(r.body[i:i+400], tc.message) {
				t.Errorf("the %s field is not marked with its error: %.400s", tc.field, r.body[max(0, i):])
			}
		})
	}
	if got := e.onCall(t); got[0] != email[viewer] {
		t.Fatalf("a refused override changed who is on call: %v", got)
	}
}

// TestPolicyEditor: the row buttons change the form unsaved, a refused
// save is a 400 with the error by its field, and a good one is saved.
func TestPolicyEditor(t *testing.T) {
	e := newOnCallEnv(t)
	base := url.Values{"description": {"nights"}, "repeat": {"2"},
		"steps[0].delay_minutes": {"10"}, "steps[0].targets[0].type": {"schedule"}, "steps[0].targets[0].name": {"primary"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = slices.Clone(v)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	refused := []struct {
		name, field, message string
		form                 url.Values
	}{
		{"delay zero", "steps[0].delay_minutes", "must be between 1 and 1440", with("steps[0].delay_minutes", "0")},
		{"delay not a number", "steps[0].delay_minutes", "must be a whole number of minutes", with("steps[0].delay_minutes", "ten")},
		{"unknown schedule", "steps[0].targets[0].name", `no schedule named &#34;nope&#34;`, with("steps[0].targets[0].name", "nope")},
		{"second step without target", "steps[1].targets", "at least one target is required",
			with("steps[1].delay_minutes", "5", "steps[1].targets[0].type", "user", "steps[1].targets[0].name", "")},
		{"repeat too high", "repeat", "must be between 0 and 20", with("repeat", "99")},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := e.as(t, admin).post(t, "/oncall/policies/primary", tc.form).wantCode(t, http.StatusBadRequest)
			r.wantBody(t, `id="form-error"`, tc.field, tc.message, `<p class="field-error error" role="alert">`+tc.message)
		})
	}
	p, _ := e.pager.Get(context.Background(), auth.System, paging.KindPolicy, "primary")
	if p.Version != 1 {
		t.Fatalf("a refused form saved the policy: version %d", p.Version)
	}

	// Add a step, unsaved: the form comes back with a second row.
	r := e.as(t, admin).post(t, "/oncall/policies/primary", with("op", "add-step")).wantCode(t, http.StatusOK)
	r.wantBody(t, `id="step-1"`, `name="steps[1].delay_minutes"`, `value="nights"`)
	r = e.as(t, admin).post(t, "/oncall/policies/primary", with("op", "add-target-0")).wantCode(t, http.StatusOK)
	r.wantBody(t, `name="steps[0].targets[1].name"`)
	r = e.as(t, admin).post(t, "/oncall/policies/primary", with("op", "remove-step-0")).wantCode(t, http.StatusOK)
	r.wantNoBody(t, `id="step-0"`)

	// Save two steps, the second to the admin by email.
	e.as(t, responder).post(t, "/oncall/policies/primary", base).wantCode(t, http.StatusForbidden)
	e.as(t, admin).post(t, "/oncall/policies/primary", with("steps[1].delay_minutes", "15", "steps[1].targets[0].type", "user",
		"steps[1].targets[0].name", "Ana.Admin@example.com")).wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/policies/primary")
	p, _ = e.pager.Get(context.Background(), auth.System, paging.KindPolicy, "primary")
	for _, want := range []string{`"repeat":2`, `"delay_minutes":15`, `"name":"ana.admin@example.com"`, `"description":"nights"`} {
		if !strings.Contains(string(p.Definition), want) {
			t.Errorf("saved policy %s lacks %s", p.Definition, want)
		}
	}
	e.as(t, admin).get(t, "/oncall/policies/primary").wantBody(t, `Saved escalation policy &#34;primary&#34;.`, `value="15"`)

	// A new policy from the editor.
	e.as(t, admin).post(t, "/oncall/policies/night", with("new", "1")).wantCode(t, http.StatusSeeOther)
	e.as(t, viewer).get(t, "/oncall/policies").wantBody(t, `href="/oncall/policies/night"`)
}

// TestOnCallOff: without a pager the on-call pages are not found and the
// navigation does not offer them.
func TestOnCallOff(t *testing.T) {
	e := newEnv(t)
	e.as(t, admin).get(t, "/board").wantNoBody(t, `href="/oncall"`)
	for _, p := range []string{"/oncall", "/pages", "/oncall/policies"} {
		e.as(t, admin).get(t, p).wantCode(t, http.StatusNotFound)
	}
}

// TestCalendarAcrossDST: the week view's days are local days in the
// schedule's zone, so the night DST begins in Helsinki (29 March 2026,
// 03:00 becomes 04:00) still splits at midnight and the 09:00 hand-off.
func TestCalendarAcrossDST(t *testing.T) {
	e := newOnCallEnv(t)
	_, _, err := e.pager.Put(context.Background(), auth.System, paging.KindSchedule, "helsinki",
		[]byte(`{"time_zone":"Europe/Helsinki","layers":[{"type":"daily","start":"2026-03-01T09:00",
		"participants":["rob.responder@example.com","ana.admin@example.com"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := e.as(t, viewer).get(t, "/oncall/schedules/helsinki?start=2026-03-29").wantCode(t, http.StatusOK).
		wantBody(t, "Times in Europe/Helsinki", "Week of 23 Mar 2026", "Sun 29 Mar")
	cell := r.body[strings.Index(r.body, `data-date="2026-03-29"`):]
	cell = cell[:strings.Index(cell, "</td>")]
	for _, want := range []string{"00:00–09:00", "09:00–24:00"} {
		if !strings.Contains(cell, want) {
			t.Errorf("29 March lacks a block %s: %s", want, cell)
		}
	}
	if strings.Count(cell, `<li class="block`) != 2 {
		t.Errorf("29 March: want two blocks: %s", cell)
	}
	// The month grid starts on the Monday before the 1st and ends on a
	// Sunday.
	e.as(t, viewer).get(t, "/oncall/schedules/helsinki?view=month&start=2026-03-10").
		wantBody(t, `data-date="2026-02-23"`, `data-date="2026-04-05"`).wantNoBody(t, `data-date="2026-04-06"`)
}
