package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/validation"
)

// storedService reads a service as saved, and its version; ok is false
// when there is none.
func (e *onCallEnv) storedService(t *testing.T, name string) (paging.Service, int, bool) {
	t.Helper()
	d, err := e.pager.Get(context.Background(), auth.System, paging.KindService, name)
	if errors.Is(err, validation.ErrNotFound) {
		return paging.Service{}, 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var s paging.Service
	if err := json.Unmarshal(d.Definition, &s); err != nil {
		t.Fatal(err)
	}
	return s, d.Version, true
}

// serviceForm is a complete, valid editor form for a service on the
// "primary" policy; kv overrides fields ("" deletes one).
func serviceForm(kv ...string) url.Values {
	f := url.Values{
		"description": {"web shop"}, "policy": {"primary"}, "condition": {`severity == "high" && "web" in tags`},
		"urgency": {"severity"}, "high_from": {"medium"},
		"support_hours.time_zone": {"Europe/Helsinki"}, "support_hours.days": {"mon", "wed"},
		"support_hours.start": {"08:00"}, "support_hours.end": {"16:30"},
		"group_by": {"host, rule"}, "group_window_minutes": {"30"}, "window_tz": {"UTC"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
			continue
		}
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// TestServiceEditor: an admin creates a service with the form, edits
// it, is refused with the field's error and the input kept, and deletes
// it; the others read it and are refused.
func TestServiceEditor(t *testing.T) {
	e := newOnCallEnv(t)

	// The list links every service, and offers admins a new one.
	for _, role := range []auth.Role{viewer, responder, admin} {
		r := e.as(t, role).get(t, "/oncall/services").wantCode(t, http.StatusOK).wantBody(t, `href="/oncall/services/primary"`)
		if role == admin {
			r.wantBody(t, `id="new-service"`)
		} else {
			r.wantNoBody(t, `id="new-service"`)
		}
	}
	e.as(t, admin).get(t, "/oncall/services?new=web").wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/services/web")
	e.as(t, admin).get(t, "/oncall/services/web").wantCode(t, http.StatusOK).
		wantBody(t, "Service: web", "A new service", `name="new"`, `<option>primary</option>`, "Save service").
		wantNoBody(t, "Delete service", "<fieldset disabled>")
	e.as(t, viewer).get(t, "/oncall/services/web").wantCode(t, http.StatusNotFound)

	// Read-only for the others; their POSTs are refused and change
	// nothing.
	for _, role := range []auth.Role{viewer, responder} {
		e.as(t, role).get(t, "/oncall/services/primary").wantCode(t, http.StatusOK).
			wantBody(t, "Service: primary", "<fieldset disabled>", `<option selected>primary</option>`).
			wantNoBody(t, "Save service", "Delete service", "Add window")
		e.as(t, role).post(t, "/oncall/services/web", serviceForm("new", "1")).wantCode(t, http.StatusForbidden)
		e.as(t, role).post(t, "/oncall/services/primary", url.Values{"op": {"delete"}}).wantCode(t, http.StatusForbidden)
	}
	if _, _, ok := e.storedService(t, "web"); ok {
		t.Fatal("a non-admin's POST created a service")
	}
	e.as(t, viewer).get(t, "/oncall/services/primary?tz=Asia/Tokyo").wantBody(t, `id="zone-form"`, `<strong id="window-zone">Asia/Tokyo</strong>`)
	for _, tz := range []string{"Nowhere", "Local"} {
		e.as(t, viewer).get(t, "/oncall/services/primary?tz="+tz).wantBody(t, `<strong id="window-zone">UTC</strong>`)
	}

	// Create.
	start := e.clk.Now().Add(24 * time.Hour).Truncate(time.Minute)
	e.as(t, admin).post(t, "/oncall/services/web", serviceForm("new", "1", "window.start", start.Format("2006-01-02T15:04"),
		"window.end", start.Add(2*time.Hour).Format("2006-01-02T15:04"), "window.reason", "db upgrade")).
		wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/services/web")
	s, ver, ok := e.storedService(t, "web")
	if !ok || ver != 1 {
		t.Fatalf("service web after create: %v version %d", ok, ver)
	}
	if s.Policy != "primary" || s.Description != "web shop" || s.Urgency != "severity" || s.HighFrom != "medium" ||
		s.Condition != `severity == "high" && "web" in tags` || !slices.Equal(s.GroupBy, []string{"host", "rule"}) || s.GroupWindowMinutes != 30 {
		t.Errorf("saved service: %+v", s)
	}
	if h := s.SupportHours; h == nil || h.TimeZone != "Europe/Helsinki" || !slices.Equal(h.Days, []string{"mon", "wed"}) || h.Start != "08:00" || h.End != "16:30" {
		t.Errorf("saved support hours: %+v", s.SupportHours)
	}
	if len(s.Maintenance) != 1 || !s.Maintenance[0].Start.Equal(start) || s.Maintenance[0].Reason != "db upgrade" {
		t.Errorf("saved maintenance: %+v", s.Maintenance)
	}
	e.as(t, admin).get(t, "/oncall/services/web").wantBody(t, `Created service &#34;web&#34;.`, "Version 1", "Delete service",
		`value="host, rule"`, `value="wed" checked`, "db upgrade", `name="maintenance[0].start" value="`+start.Format(time.RFC3339)+`"`)

	// Edit: urgency high, no support hours, no grouping; the window is
	// kept by its hidden fields.
	edit := serviceForm("urgency", "high", "support_hours.time_zone", "", "support_hours.start", "", "support_hours.end", "",
		"group_by", "", "group_window_minutes", "", "maintenance[0].start", start.Format(time.RFC3339),
		"maintenance[0].end", start.Add(2*time.Hour).Format(time.RFC3339), "maintenance[0].reason", "db upgrade")
	e.as(t, admin).post(t, "/oncall/services/web", edit).wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/services/web")
	s, ver, _ = e.storedService(t, "web")
	if ver != 2 || s.Urgency != "high" || s.SupportHours != nil || s.GroupBy != nil || s.GroupWindowMinutes != 0 || len(s.Maintenance) != 1 {
		t.Errorf("edited service (version %d): %+v", ver, s)
	}
	e.as(t, admin).get(t, "/oncall/services/web").wantBody(t, `Saved service &#34;web&#34;.`, "<option selected>high</option>")

	// Refused saves: 400, the error by its field, what was typed kept,
	// nothing saved.
	refused := []struct {
		name, field, message, kept string
		form                       url.Values
	}{
		{"bad condition", "condition", "condition: ", `severity ==`, serviceForm("condition", `severity ==`)},
		{"condition not boolean", "condition", "must be a boolean expression", `size(title)`, serviceForm("condition", `size(title)`)},
		{"unknown policy", "policy", `no escalation policy named &#34;nope&#34;`, `<option selected>nope</option>`, serviceForm("policy", "nope")},
		{"no policy", "policy", "is required", `value="web shop"`, serviceForm("policy", "")},
		{"bad time zone", "support_hours.time_zone", "must be an IANA time zone", `value="Mars/Olympus"`, serviceForm("support_hours.time_zone", "Mars/Olympus")},
		{"hours end before start", "support_hours.end", "must be a time after start", `value="07:00"`, serviceForm("support_hours.end", "07:00")},
		{"group window not a number", "group_window_minutes", "must be a whole number of minutes", `value="half an hour"`,
			serviceForm("group_window_minutes", "half an hour")},
		{"group window too long", "group_window_minutes", "must be between 0 and 1440", `value="5000"`, serviceForm("group_window_minutes", "5000")},
		{"window end before start", "window.end", "must be after start", `value="2026-03-05T10:00"`,
			serviceForm("window.start", "2026-03-05T12:00", "window.end", "2026-03-05T10:00")},
		{"window bad zone", "window_tz", "must be an IANA time zone", `value="Nowhere/Else"`,
			serviceForm("window_tz", "Nowhere/Else", "window.start", "2026-03-05T12:00", "window.end", "2026-03-05T14:00")},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := e.as(t, admin).post(t, "/oncall/services/web", tc.form).wantCode(t, http.StatusBadRequest)
			r.wantBody(t, `id="form-error"`, tc.field, tc.message, tc.kept, `value="web shop"`)
			// The field is marked, and its message follows it.
			i := strings.Index(r.body, `name="`+tc.field+`"`)
			if i < 0 || !strings.Contains(r.body[i:min(len(r.body), i+300)], `aria-invalid="true"`) {
				t.Errorf("the %s field is not marked invalid: %.300s", tc.field, r.body[max(0, i):])
			}
			if j := strings.Index(r.body[max(0, i):], `<p class="field-error error" role="alert">`); i < 0 || j < 0 || j > 1500 {
				t.Errorf("no field error after %s", tc.field)
			}
		})
	}
	// The bad condition comes back exactly as typed in the textarea.
	e.as(t, admin).post(t, "/oncall/services/web", serviceForm("condition", `severity == && "x"`)).wantCode(t, http.StatusBadRequest).
		wantBody(t, `class="code" aria-invalid="true">`+html.EscapeString(`severity == && "x"`)+`</textarea>`)
	if _, v, _ := e.storedService(t, "web"); v != 2 {
		t.Fatalf("a refused form saved the service: version %d", v)
	}

	// Delete.
	e.as(t, admin).post(t, "/oncall/services/web", url.Values{"op": {"delete"}}).wantCode(t, http.StatusSeeOther).wantLocation(t, "/oncall/services")
	if _, _, ok := e.storedService(t, "web"); ok {
		t.Fatal("the service is still there after delete")
	}
	e.as(t, admin).get(t, "/oncall/services").wantBody(t, `Deleted service &#34;web&#34;.`).wantNoBody(t, `href="/oncall/services/web"`)
	e.as(t, admin).post(t, "/oncall/services/web", url.Values{"op": {"delete"}}).wantCode(t, http.StatusNotFound)
	e.as(t, admin).post(t, "/oncall/services/primary", url.Values{"op": {"explode"}}).wantCode(t, http.StatusBadRequest)
}

// TestServiceMaintenanceWindows: the add and remove buttons change the
// form unsaved; Save saves the list; the add row is read in the zone the
// viewer chose.
func TestServiceMaintenanceWindows(t *testing.T) {
	e := newOnCallEnv(t)
	base := func(kv ...string) url.Values {
		return serviceForm(append([]string{"support_hours.time_zone", "", "support_hours.start", "", "support_hours.end", ""}, kv...)...)
	}
	steps := []struct {
		name    string
		form    url.Values
		code    int
		want    []string
		notWant []string
		windows int // saved windows after the step
	}{
		{"add in Helsinki time, unsaved", base("op", "add-window", "window_tz", "Europe/Helsinki",
			"window.start", "2026-03-10T22:00", "window.end", "2026-03-11T01:00", "window.reason", "patching"),
			http.StatusOK, []string{`name="maintenance[0].start" value="2026-03-10T20:00:00Z"`, "Tue 10 Mar 2026 22:00", "patching",
				`value="remove-window-0"`, `<strong id="window-zone">Europe/Helsinki</strong>`}, []string{`name="window.start" value="2026-03-10T22:00"`}, 0},
		{"add without times", base("op", "add-window"), http.StatusBadRequest, []string{"window.start", "is required"}, nil, 0},
		{"save the listed window", base("maintenance[0].start", "2026-03-10T20:00:00Z", "maintenance[0].end", "2026-03-10T23:00:00Z",
			"maintenance[0].reason", "patching"), http.StatusSeeOther, nil, nil, 1},
		{"show in another zone", base("op", "zone", "window_tz", "America/New_York", "maintenance[0].start", "2026-03-10T20:00:00Z",
			"maintenance[0].end", "2026-03-10T23:00:00Z"), http.StatusOK, []string{"Tue 10 Mar 2026 16:00", "Tue 10 Mar 2026 19:00"}, nil, 1},
		{"remove, unsaved", base("op", "remove-window-0", "maintenance[0].start", "2026-03-10T20:00:00Z",
			"maintenance[0].end", "2026-03-10T23:00:00Z", "maintenance[0].reason", "patching"),
			http.StatusOK, []string{"No maintenance windows."}, []string{"maintenance[0].start", "patching"}, 1},
		{"save without it", base(), http.StatusSeeOther, nil, nil, 0},
		{"a forged listed time", base("maintenance[0].start", "yesterday", "maintenance[0].end", "2026-03-10T23:00:00Z"),
			http.StatusBadRequest, []string{"maintenance[0].start"}, nil, 0},
	}
	for _, st := range steps {
		r := e.as(t, admin).post(t, "/oncall/services/primary", st.form).wantCode(t, st.code).wantBody(t, st.want...).wantNoBody(t, st.notWant...)
		if st.code == http.StatusSeeOther {
			r.wantLocation(t, "/oncall/services/primary")
		}
		s, _, _ := e.storedService(t, "primary")
		if len(s.Maintenance) != st.windows {
			t.Fatalf("%s: %d windows saved, want %d: %+v", st.name, len(s.Maintenance), st.windows, s.Maintenance)
		}
		if st.windows == 1 && (!s.Maintenance[0].Start.Equal(time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)) || s.Maintenance[0].Reason != "patching") {
			t.Fatalf("%s: saved window %+v", st.name, s.Maintenance[0])
		}
	}
}

// TestRemoveOverrideFromCalendar: admins remove an override from the
// calendar's list; the others neither see the button nor may post it.
func TestRemoveOverrideFromCalendar(t *testing.T) {
	e := newOnCallEnv(t)
	was := e.onCall(t)[0]
	from := e.clk.Now().Add(-time.Hour).Truncate(time.Minute)
	to := e.clk.Now().Add(2 * time.Hour).Truncate(time.Minute)
	add := url.Values{"replaces": {was}, "user": {email[viewer]}, "from": {from.Format("2006-01-02T15:04")}, "to": {to.Format("2006-01-02T15:04")}}
	e.as(t, admin).post(t, "/oncall/schedules/primary/overrides", add).wantCode(t, http.StatusSeeOther)
	if got := e.onCall(t); got[0] != email[viewer] {
		t.Fatalf("on call after the override: %v", got)
	}
	e.as(t, admin).get(t, "/oncall/schedules/primary").wantBody(t, `action="/oncall/schedules/primary/overrides/remove"`,
		`name="from" value="`+from.UTC().Format(time.RFC3339)+`"`)
	for _, role := range []auth.Role{viewer, responder} {
		e.as(t, role).get(t, "/oncall/schedules/primary").wantBody(t, `id="overrides"`).wantNoBody(t, "/overrides/remove")
	}
	remove := url.Values{"kind": {oncall.OverrideReplace}, "user": {email[viewer]}, "replaces": {was},
		"from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}, "view": {"month"}, "start": {"2026-03-01"}}
	tests := []struct {
		name     string
		role     auth.Role
		form     url.Values
		code     int
		location string
		onCall   string // after the request
		flash    string
	}{
		{"viewer", viewer, remove, http.StatusForbidden, "", email[viewer], ""},
		{"responder", responder, remove, http.StatusForbidden, "", email[viewer], ""},
		{"bad time", admin, with(remove, "from", "now"), http.StatusBadRequest, "", email[viewer], ""},
		{"another override", admin, with(remove, "user", email[admin]), http.StatusSeeOther, "/oncall/schedules/primary?view=month&start=2026-03-01",
			email[viewer], "no longer on the schedule"},
		{"admin", admin, remove, http.StatusSeeOther, "/oncall/schedules/primary?view=month&start=2026-03-01", was, "Removed the replace override"},
		{"again", admin, remove, http.StatusSeeOther, "/oncall/schedules/primary?view=month&start=2026-03-01", was, "no longer on the schedule"},
	}
	for _, tc := range tests {
		r := e.as(t, tc.role).post(t, "/oncall/schedules/primary/overrides/remove", tc.form).wantCode(t, tc.code)
		if tc.location != "" {
			r.wantLocation(t, tc.location)
		}
		if got := e.onCall(t); got[0] != tc.onCall {
			t.Fatalf("%s: on call %v, want %s", tc.name, got, tc.onCall)
		}
		if tc.flash != "" {
			e.as(t, tc.role).get(t, tc.location).wantBody(t, tc.flash)
		}
	}
	d, err := e.pager.Get(context.Background(), auth.System, paging.KindSchedule, "primary")
	if err != nil {
		t.Fatal(err)
	}
	if d.UpdatedBy != email[admin] || strings.Contains(string(d.Definition), email[viewer]) {
		t.Errorf("schedule after removal: updated by %s, %s", d.UpdatedBy, d.Definition)
	}
	e.as(t, admin).get(t, "/oncall/schedules/primary").wantBody(t, "No overrides.")
}

// with is a copy of f with k set to v.
func with(f url.Values, k, v string) url.Values {
	out := url.Values{}
	for key, vals := range f {
		out[key] = slices.Clone(vals)
	}
	out.Set(k, v)
	return out
}
