package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/web"
)

// oncallEnv is the test server with a real pager on the env's store and
// items service, observing the items so that a closed item resolves its
// page, as the app wires it.
func oncallEnv(t *testing.T) (*env, *paging.Pager) {
	t.Helper()
	var pager *paging.Pager
	e := newEnv(t, func(o *web.Options) {
		pager = paging.New(o.Store.(*pingStore).DB, o.Items, paging.Options{BaseURL: "http://vigil.test", Clock: o.Clock})
		o.Items.Observe(pager)
		o.Pager = pager
	})
	prepare = pager.Prepare
	return e, pager
}

// prepare completes a queued notification as the outbox sender does when
// it sends it (the link and the code are never stored).
var prepare notify.Preparer

// The people of the tests: alice and bob take turns on the primary
// schedule; carol is the team behind it.
const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	carol = "carol@example.com"
)

type onCallDef struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Definition json.RawMessage `json:"definition"`
}

type shift struct {
	User  string    `json:"user"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type page struct {
	ID         int64      `json:"id"`
	Service    string     `json:"service"`
	WorkItemID int64      `json:"workitem_id"`
	State      string     `json:"state"`
	Urgency    string     `json:"urgency"`
	Step       int        `json:"step"`
	NextAt     *time.Time `json:"next_at"`
	AckBy      string     `json:"ack_by"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

type contactMethod struct {
	ID            int64      `json:"id"`
	User          string     `json:"user"`
	Type          string     `json:"type"`
	VerifiedAt    *time.Time `json:"verified_at"`
	WebhookSecret string     `json:"webhook_secret"`
}

// wantField fails unless r is a 400 naming field.
func wantField(t *testing.T, r resp, field string) {
	t.Helper()
	r.wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != field {
		t.Errorf("%s: error.field = %q, want %q", r, got, field)
	}
}

// notifications returns the queued notifications (outbox target
// "notify"), with their payloads decoded.
func notifications(t *testing.T, e *env) ([]outbox.Message, []notify.Notification) {
	t.Helper()
	ms, err := e.db.ListOutbox(context.Background(), "", 0, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var out []outbox.Message
	var ns []notify.Notification
	for _, m := range ms {
		if m.Target != notify.TargetName {
			continue
		}
		var n notify.Notification
		if err := json.Unmarshal(m.Payload, &n); err != nil {
			t.Fatalf("outbox message %d: payload: %v", m.ID, err)
		}
		// What waits in the outbox carries no credential: no signed
		// link, no verification code.
		if n.AckURL != "" || strings.ContainsAny(n.Subject+n.Text, "0123456789") && n.Kind == notify.KindVerify {
			t.Errorf("outbox message %d stores a credential: %+v", m.ID, n)
		}
		if err := prepare(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		out, ns = append(out, m), append(ns, n)
	}
	return out, ns
}

var codeRE = regexp.MustCompile(`^\[vigil\] Your verification code: ([0-9]{6})$`)

// addVerified adds a contact method for user as the admin and verifies it
// with the code read from the verification message in the outbox (which
// shows it went out).
func addVerified(t *testing.T, e *env, user, typ, value string) contactMethod {
	t.Helper()
	var cm contactMethod
	e.do(t, admin, "POST", "/api/v1/users/"+user+"/contact-methods", map[string]any{"type": typ, "value": value, "name": typ}).
		wantCode(t, http.StatusCreated).decode(t, &cm)
	if cm.ID == 0 || cm.User != user || cm.VerifiedAt != nil {
		t.Fatalf("added contact method = %+v, want an unverified one of %s", cm, user)
	}
	if (typ == notify.TypeWebhook) != strings.HasPrefix(cm.WebhookSecret, "whsec_") {
		t.Errorf("%s contact method: webhook_secret %q", typ, cm.WebhookSecret)
	}
	code := ""
	_, ns := notifications(t, e)
	for _, n := range ns {
		if n.Kind == notify.KindVerify && n.To.ID == cm.ID {
			m := codeRE.FindStringSubmatch(n.Subject)
			if m == nil {
				t.Fatalf("verification subject %q carries no code", n.Subject)
			}
			code = m[1]
		}
	}
	if code == "" {
		t.Fatalf("no verification message for contact method %d in the outbox", cm.ID)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	wantField(t, e.do(t, admin, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", cm.ID), map[string]any{"code": wrong}), "code")
	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", cm.ID), map[string]any{"code": code}).
		wantCode(t, http.StatusOK).decode(t, &cm)
	if cm.VerifiedAt == nil {
		t.Fatalf("contact method %d is not verified after the right code", cm.ID)
	}
	return cm
}

// setUpOnCall creates the team, the schedule, the policy and the
// service through the API, checking that bad definitions are 400s naming
// the field.
func setUpOnCall(t *testing.T, e *env) {
	t.Helper()
	put := func(role auth.Role, kind, name string, def any) resp {
		t.Helper()
		return e.do(t, role, "PUT", "/api/v1/oncall/"+kind+"/"+name, def)
	}
	wantField(t, put(admin, "teams", "secops", map[string]any{"members": []string{"carol"}}), "members[0]")
	put(responder, "teams", "secops", map[string]any{"members": []string{carol}}).wantCode(t, http.StatusForbidden)
	put(admin, "teams", "secops", map[string]any{"members": []string{carol}}).wantCode(t, http.StatusCreated)

	layer := map[string]any{"name": "days", "type": "daily", "start": "2026-03-01T09:00", "time_zone": "Europe/Helsinki",
		"participants": []string{bob, alice}}
	wantField(t, put(admin, "schedules", "primary", map[string]any{"time_zone": "Europe/Helsinki",
		"layers": []map[string]any{{"type": "daily", "start": "2026-03-01T09:00", "time_zone": "Mars/Olympus", "participants": []string{bob}}}}),
		"layers[0].time_zone")
	wantField(t, put(admin, "schedules", "primary", map[string]any{"name": "other", "layers": []any{layer}}), "name")
	put(admin, "schedules", "primary", map[string]any{"time_zone": "Europe/Helsinki", "layers": []any{layer}}).wantCode(t, http.StatusCreated)

	policy := map[string]any{"repeat": 1, "steps": []map[string]any{
		{"delay_minutes": 5, "targets": []map[string]any{{"type": "schedule", "name": "primary"}}},
		{"delay_minutes": 10, "targets": []map[string]any{{"type": "team", "name": "nobody"}}},
	}}
	wantField(t, put(admin, "policies", "escalation", policy), "steps[1].targets[0].name")
	policy["steps"].([]map[string]any)[1]["targets"] = []map[string]any{{"type": "team", "name": "secops"}}
	put(admin, "policies", "escalation", policy).wantCode(t, http.StatusCreated)

	wantField(t, put(admin, "services", "payments", map[string]any{"policy": "none"}), "policy")
	wantField(t, put(admin, "services", "payments", map[string]any{"policy": "escalation", "urgency": "loud"}), "urgency")
	put(admin, "services", "payments", map[string]any{"policy": "escalation", "urgency": "severity"}).wantCode(t, http.StatusCreated)
	// Saving again replaces it as a new version.
	var d onCallDef
	put(admin, "services", "payments", map[string]any{"policy": "escalation", "urgency": "severity", "description": "card payments"}).
		wantCode(t, http.StatusOK).decode(t, &d)
	if d.Version != 2 {
		t.Errorf("service version after a replace = %d, want 2", d.Version)
	}

	// A heartbeat monitor on the service; its sender checks in with an
	// ingest credential, and an unknown monitor is a 404.
	wantField(t, put(admin, "heartbeats", "nightly-export", map[string]any{"interval_minutes": 0, "service": "payments"}), "interval_minutes")
	wantField(t, put(admin, "heartbeats", "nightly-export", map[string]any{"interval_minutes": 60, "service": "nope"}), "service")
	put(admin, "heartbeats", "nightly-export", map[string]any{"interval_minutes": 60, "service": "payments"}).wantCode(t, http.StatusCreated)
	e.do(t, responder, "POST", "/api/v1/heartbeats/nightly-export", nil).wantCode(t, http.StatusNoContent)
	e.do(t, viewer, "POST", "/api/v1/heartbeats/nightly-export", nil).wantCode(t, http.StatusForbidden)
	e.do(t, responder, "POST", "/api/v1/heartbeats/unknown", nil).wantCode(t, http.StatusNotFound)

	// Read back, by every role.
	e.do(t, viewer, "GET", "/api/v1/oncall/services/payments", nil).wantCode(t, http.StatusOK).decode(t, &d)
	var sv paging.Service
	if err := json.Unmarshal(d.Definition, &sv); err != nil || d.Kind != paging.KindService || sv.Policy != "escalation" || sv.HighFrom != "high" {
		t.Errorf("service read back = %+v (%s), %v", d, d.Definition, err)
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/schedules/primary", nil).wantCode(t, http.StatusOK).decode(t, &d)
	if !strings.Contains(string(d.Definition), `"Europe/Helsinki"`) || !strings.Contains(string(d.Definition), alice) {
		t.Errorf("schedule read back = %s", d.Definition)
	}
	var pol paging.Policy
	e.do(t, viewer, "GET", "/api/v1/oncall/policies/escalation", nil).wantCode(t, http.StatusOK).decode(t, &d)
	if err := json.Unmarshal(d.Definition, &pol); err != nil || pol.Repeat != 1 || len(pol.Steps) != 2 || pol.Steps[1].Targets[0].Name != "secops" {
		t.Errorf("policy read back = %s, %v", d.Definition, err)
	}
	var list struct {
		Items []onCallDef `json:"items"`
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/teams", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "secops" {
		t.Errorf("teams = %+v, want secops", list.Items)
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/rotas", nil).wantCode(t, http.StatusNotFound)
	e.do(t, viewer, "GET", "/api/v1/oncall/teams/nobody", nil).wantCode(t, http.StatusNotFound)

	// A definition nothing needs can be deleted.
	put(admin, "teams", "spare", map[string]any{"members": []string{}}).wantCode(t, http.StatusCreated)
	e.do(t, responder, "DELETE", "/api/v1/oncall/teams/spare", nil).wantCode(t, http.StatusForbidden)
	e.do(t, admin, "DELETE", "/api/v1/oncall/teams/spare", nil).wantCode(t, http.StatusNoContent)
	e.do(t, admin, "DELETE", "/api/v1/oncall/teams/spare", nil).wantCode(t, http.StatusNotFound)
}

// TestOnCallSchedules: who is on call, a schedule's shifts (09:00
// Helsinki hand-offs, across the DST change) and its calendar feed.
func TestOnCallSchedules(t *testing.T) {
	e, _ := oncallEnv(t)
	setUpOnCall(t, e)

	// t0 is Monday 2 March 09:30 UTC, 11:30 in Helsinki: alice's day
	// (bob had 1 March from 09:00).
	var now struct {
		At        time.Time `json:"at"`
		Schedules []struct {
			Schedule string   `json:"schedule"`
			Users    []string `json:"users"`
			Next     []shift  `json:"next"`
		} `json:"schedules"`
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/now", nil).wantCode(t, http.StatusOK).decode(t, &now)
	if len(now.Schedules) != 1 || now.Schedules[0].Schedule != "primary" || !slices.Equal(now.Schedules[0].Users, []string{alice}) {
		t.Fatalf("on call now = %+v, want alice on primary", now)
	}
	handoff := time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC) // 09:00 EET
	if !slices.ContainsFunc(now.Schedules[0].Next, func(s shift) bool { return s.User == bob && s.Start.Equal(handoff) }) {
		t.Errorf("next shifts = %+v, want bob from %s", now.Schedules[0].Next, handoff)
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/now?at=2026-03-03T08:00:00Z", nil).wantCode(t, http.StatusOK).decode(t, &now)
	if !slices.Equal(now.Schedules[0].Users, []string{bob}) {
		t.Errorf("on call on 3 March = %v, want bob", now.Schedules[0].Users)
	}
	wantField(t, e.do(t, viewer, "GET", "/api/v1/oncall/now?at=tomorrow", nil), "at")

	var sh struct {
		Schedule string  `json:"schedule"`
		Shifts   []shift `json:"shifts"`
	}
	e.do(t, viewer, "GET", "/api/v1/oncall/schedules/primary/shifts?from=2026-03-02T00:00:00Z&to=2026-03-04T00:00:00Z", nil).
		wantCode(t, http.StatusOK).decode(t, &sh)
	want := shift{User: alice, Start: time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC), End: handoff}
	if !slices.ContainsFunc(sh.Shifts, func(s shift) bool { return s.User == want.User && s.Start.Equal(want.Start) && s.End.Equal(want.End) }) {
		t.Errorf("shifts = %+v, want %+v among them", sh.Shifts, want)
	}
	// Summer time begins on 29 March at 03:00 in Helsinki: the shift that
	// spans it lasts 23 hours, from 09:00 EET to 09:00 EEST.
	e.do(t, viewer, "GET", "/api/v1/oncall/schedules/primary/shifts?from=2026-03-28T00:00:00Z&to=2026-03-30T00:00:00Z", nil).
		wantCode(t, http.StatusOK).decode(t, &sh)
	dst := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC)
	if !slices.ContainsFunc(sh.Shifts, func(s shift) bool {
		return s.Start.Equal(time.Date(2026, 3, 28, 7, 0, 0, 0, time.UTC)) && s.End.Equal(dst)
	}) {
		t.Errorf("shifts across the DST change = %+v, want one of 23 hours ending %s", sh.Shifts, dst)
	}
	wantField(t, e.do(t, viewer, "GET", "/api/v1/oncall/schedules/primary/shifts?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", nil), "to")
	wantField(t, e.do(t, viewer, "GET", "/api/v1/oncall/schedules/primary/shifts?from=yesterday", nil), "from")
	e.do(t, viewer, "GET", "/api/v1/oncall/schedules/nobody/shifts", nil).wantCode(t, http.StatusNotFound)

	// Calendar feeds: a schedule's for anyone; a user's for themself or
	// an admin. The secret path is the credential.
	var feed struct {
		Feed struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"feed"`
		Path string `json:"path"`
	}
	e.do(t, viewer, "POST", "/api/v1/oncall/feeds", map[string]any{"kind": "schedule", "name": "primary"}).
		wantCode(t, http.StatusCreated).decode(t, &feed)
	if feed.Feed.Kind != "schedule" || feed.Feed.Name != "primary" || !strings.HasSuffix(feed.Path, ".ics") {
		t.Fatalf("feed = %+v", feed)
	}
	r := e.do(t, noAuth, "GET", feed.Path, nil).wantCode(t, http.StatusOK)
	if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
		t.Errorf("feed Content-Type = %q, want text/calendar", ct)
	}
	ics := string(r.body)
	if !strings.Contains(ics, "BEGIN:VCALENDAR") || !strings.Contains(ics, "BEGIN:VEVENT") || !strings.Contains(ics, alice) {
		t.Errorf("feed = %.500s; want a calendar with alice's shifts as events", ics)
	}
	e.do(t, noAuth, "GET", "/api/v1/calendar/not-the-token.ics", nil).wantCode(t, http.StatusNotFound)

	e.do(t, viewer, "POST", "/api/v1/oncall/feeds", map[string]any{"kind": "user", "name": alice}).wantCode(t, http.StatusForbidden)
	e.do(t, admin, "POST", "/api/v1/oncall/feeds", map[string]any{"kind": "user", "name": alice}).wantCode(t, http.StatusCreated).decode(t, &feed)
	r = e.do(t, noAuth, "GET", feed.Path, nil).wantCode(t, http.StatusOK)
	if !strings.Contains(string(r.body), "BEGIN:VEVENT") || strings.Contains(string(r.body), bob) {
		t.Errorf("alice's feed = %.500s; want her shifts only", r.body)
	}
	wantField(t, e.do(t, viewer, "POST", "/api/v1/oncall/feeds", map[string]any{"kind": "team", "name": "secops"}), "kind")
	wantField(t, e.do(t, viewer, "POST", "/api/v1/oncall/feeds", map[string]any{"kind": "schedule", "name": "nobody"}), "name")
}

// TestOnCallContactMethods: a user's contact methods are theirs (or an
// admin's to manage): a role's token, which is no user, gets 403; a new
// method is used only once verified with the code sent to it.
func TestOnCallContactMethods(t *testing.T) {
	e, _ := oncallEnv(t)
	base := "/api/v1/users/" + alice + "/contact-methods"
	for _, role := range []auth.Role{viewer, responder} {
		e.do(t, role, "GET", base, nil).wantCode(t, http.StatusForbidden)
		e.do(t, role, "POST", base, map[string]any{"type": "email", "value": alice}).wantCode(t, http.StatusForbidden)
	}
	wantField(t, e.do(t, admin, "POST", base, map[string]any{"type": "pigeon", "value": alice}), "type")
	wantField(t, e.do(t, admin, "POST", base, map[string]any{"type": "email", "value": "alice at example"}), "value")
	wantField(t, e.do(t, admin, "POST", base, map[string]any{"type": "webhook", "value": "ftp://hooks.example/x"}), "value")
	// Only the method's owner verifies it, with the code sent to it.
	wantField(t, e.do(t, admin, "POST", base, map[string]any{"type": "email", "value": alice, "verified_at": t0}), "verified_at")

	email := addVerified(t, e, alice, notify.TypeEmail, alice)
	e.do(t, admin, "POST", base, map[string]any{"type": "email", "value": alice}).wantCode(t, http.StatusConflict)
	hook := addVerified(t, e, alice, notify.TypeWebhook, "https://hooks.example/alice")
	for _, role := range []auth.Role{viewer, responder} {
		e.do(t, role, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", email.ID), map[string]any{"code": "123456"}).wantCode(t, http.StatusForbidden)
		e.do(t, role, "DELETE", fmt.Sprintf("/api/v1/contact-methods/%d", email.ID), nil).wantCode(t, http.StatusForbidden)
	}

	var list struct {
		ContactMethods []contactMethod `json:"contact_methods"`
	}
	e.do(t, admin, "GET", base, nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.ContactMethods) != 2 || list.ContactMethods[0].ID != email.ID || list.ContactMethods[1].ID != hook.ID {
		t.Errorf("alice's contact methods = %+v, want the email and the webhook", list.ContactMethods)
	}

	// Notification rules: email at once, the webhook after 2 minutes.
	rulesPath := "/api/v1/users/" + alice + "/notification-rules"
	rules := map[string]any{"rules": []map[string]any{{"contact_method_id": email.ID, "delay_minutes": 0}, {"contact_method_id": hook.ID, "delay_minutes": 2}}}
	e.do(t, responder, "PUT", rulesPath, rules).wantCode(t, http.StatusForbidden)
	other := addVerified(t, e, bob, notify.TypeEmail, bob)
	wantField(t, e.do(t, admin, "PUT", rulesPath, map[string]any{"rules": []map[string]any{{"contact_method_id": other.ID}}}), "rules[0].contact_method_id")
	wantField(t, e.do(t, admin, "PUT", rulesPath, map[string]any{"rules": []map[string]any{{"contact_method_id": email.ID, "delay_minutes": -1}}}), "rules[0].delay_minutes")
	var rs struct {
		Rules []struct {
			User            string `json:"user"`
			ContactMethodID int64  `json:"contact_method_id"`
			DelayMinutes    int    `json:"delay_minutes"`
		} `json:"rules"`
	}
	e.do(t, admin, "PUT", rulesPath, rules).wantCode(t, http.StatusOK).decode(t, &rs)
	if len(rs.Rules) != 2 || rs.Rules[0].ContactMethodID != email.ID || rs.Rules[1].DelayMinutes != 2 || rs.Rules[1].User != alice {
		t.Errorf("rules = %+v", rs.Rules)
	}
	e.do(t, viewer, "GET", rulesPath, nil).wantCode(t, http.StatusOK).decode(t, &rs)
	if len(rs.Rules) != 2 {
		t.Errorf("rules read back = %+v", rs.Rules)
	}

	// Deleting a method takes its rule with it.
	e.do(t, admin, "DELETE", fmt.Sprintf("/api/v1/contact-methods/%d", hook.ID), nil).wantCode(t, http.StatusNoContent)
	e.do(t, admin, "DELETE", fmt.Sprintf("/api/v1/contact-methods/%d", hook.ID), nil).wantCode(t, http.StatusNotFound)
	e.do(t, viewer, "GET", rulesPath, nil).wantCode(t, http.StatusOK).decode(t, &rs)
	if len(rs.Rules) != 1 || rs.Rules[0].ContactMethodID != email.ID {
		t.Errorf("rules after deleting the webhook = %+v, want the email's only", rs.Rules)
	}
}

// TestOnCallPages: an alert's item is paged; the notifications are in
// the outbox; escalating notifies the next step; acknowledging assigns
// the item to the responder, stops the escalation and cancels the
// delayed notifications; resolving closes the item. The notification's
// acknowledgement link shows the page on GET and acts only on POST.
func TestOnCallPages(t *testing.T) {
	e, pager := oncallEnv(t)
	ctx := context.Background()
	setUpOnCall(t, e)
	email := addVerified(t, e, alice, notify.TypeEmail, alice)
	hook := addVerified(t, e, alice, notify.TypeWebhook, "https://hooks.example/alice")
	e.do(t, admin, "PUT", "/api/v1/users/"+alice+"/notification-rules", map[string]any{"rules": []map[string]any{
		{"contact_method_id": email.ID, "delay_minutes": 0}, {"contact_method_id": hook.ID, "delay_minutes": 2}}}).wantCode(t, http.StatusOK)

	id := e.ingest(t, alertBody("Ransomware on host-7", map[string]any{"source_id": "r-1", "severity": "high"})).Results[0].WorkItemID

	wantField(t, e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"service": "payments"}), "workitem_id")
	wantField(t, e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "nope"}), "service")
	wantField(t, e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "payments", "urgency": "now"}), "urgency")
	e.do(t, viewer, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "payments"}).wantCode(t, http.StatusForbidden)
	// A service in a maintenance window opens no page; the item says why.
	e.do(t, admin, "PUT", "/api/v1/oncall/services/batch", map[string]any{"policy": "escalation",
		"maintenance": []map[string]any{{"start": t0.Add(-time.Hour), "end": t0.Add(time.Hour), "reason": "patching"}}}).wantCode(t, http.StatusCreated)
	e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "batch"}).wantCode(t, http.StatusConflict)
	if !slices.ContainsFunc(e.timeline(t, id), func(en entry) bool {
		return en.Kind == "page" && strings.Contains(en.Msg, "maintenance window") && strings.Contains(en.Msg, "patching")
	}) {
		t.Errorf("timeline does not say why no page was opened: %+v", e.timeline(t, id))
	}
	var p page
	e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "payments"}).wantCode(t, http.StatusCreated).decode(t, &p)
	if p.State != "triggered" || p.Urgency != "high" || p.WorkItemID != id || p.Step != 0 || p.NextAt == nil || !p.NextAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("new page = %+v; want triggered, high urgency, step 0, escalating at %s", p, t0.Add(5*time.Minute))
	}
	// One open page per item.
	var again page
	e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id, "service": "payments"}).wantCode(t, http.StatusOK).decode(t, &again)
	if again.ID != p.ID {
		t.Errorf("paging the item again opened page %d, want its open page %d", again.ID, p.ID)
	}

	// alice is on call: her email at once, her webhook in 2 minutes.
	ms, ns := notifications(t, e)
	var ackURL string
	var delayed []outbox.Message
	seen := 0
	for i, n := range ns {
		if n.Kind != notify.KindPage || n.PageID != p.ID {
			continue
		}
		seen++
		if n.To.ID == email.ID {
			ackURL = n.AckURL
			if !ms[i].NextAt.Equal(t0) {
				t.Errorf("email notification due %s, want at once", ms[i].NextAt)
			}
		}
		if n.To.ID == hook.ID {
			delayed = append(delayed, ms[i])
			if !ms[i].NextAt.Equal(t0.Add(2 * time.Minute)) {
				t.Errorf("webhook notification due %s, want in 2 minutes", ms[i].NextAt)
			}
		}
		if n.WorkItemID != id || ms[i].WorkItemID != id || n.Severity != "high" || n.Service != "payments" {
			t.Errorf("notification = %+v", n)
		}
	}
	if seen != 2 || ackURL == "" || len(delayed) != 1 {
		t.Fatalf("page notifications = %d (ack URL %q, %d delayed); want alice's email and webhook", seen, ackURL, len(delayed))
	}
	if !strings.HasPrefix(ackURL, "http://vigil.test/ack/") {
		t.Fatalf("ack URL %q is not under the base URL", ackURL)
	}
	if !slices.ContainsFunc(e.timeline(t, id), func(en entry) bool {
		return en.Kind == "page" && strings.Contains(en.Msg, "notifying "+alice+" (email now, webhook in 2 min)")
	}) {
		t.Errorf("timeline has no entry of the notifications: %+v", e.timeline(t, id))
	}

	var list struct {
		Pages []page `json:"pages"`
	}
	e.do(t, viewer, "GET", "/api/v1/pages?state=triggered,acknowledged", nil).wantCode(t, http.StatusOK).decode(t, &list)
	if len(list.Pages) != 1 || list.Pages[0].ID != p.ID {
		t.Errorf("open pages = %+v", list.Pages)
	}
	wantField(t, e.do(t, viewer, "GET", "/api/v1/pages?state=open", nil), "state")
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", p.ID), nil).wantCode(t, http.StatusOK)
	e.do(t, viewer, "GET", "/api/v1/pages/999", nil).wantCode(t, http.StatusNotFound)

	// Escalating now notifies the team (carol has no contact method: the
	// timeline says so).
	pagePath := fmt.Sprintf("/api/v1/pages/%d", p.ID)
	e.do(t, viewer, "POST", pagePath+"/escalate", nil).wantCode(t, http.StatusForbidden)
	e.do(t, responder, "POST", pagePath+"/escalate", nil).wantCode(t, http.StatusOK).decode(t, &p)
	if p.Step != 1 || p.State != "triggered" {
		t.Errorf("after escalate: %+v, want step 1", p)
	}
	if !slices.ContainsFunc(e.timeline(t, id), func(en entry) bool {
		return strings.Contains(en.Msg, carol+" (no verified contact method)")
	}) {
		t.Errorf("timeline does not say carol has no contact method")
	}
	e.do(t, responder, "POST", pagePath+"/snooze", nil).wantCode(t, http.StatusNotFound)
	wantField(t, e.do(t, responder, "POST", pagePath+"/reassign", map[string]any{"user": "nobody"}), "user")

	// alice acknowledges: the page and the item are hers, and the rest
	// stops.
	p = page{} // decode afresh: next_at is omitted once acknowledged
	e.do(t, responder, "POST", pagePath+"/acknowledge", map[string]any{"user": alice}).wantCode(t, http.StatusOK).decode(t, &p)
	if p.State != "acknowledged" || p.AckBy != alice || p.NextAt != nil {
		t.Errorf("acknowledged page = %+v", p)
	}
	it := e.item(t, id)
	if it.Assignee != alice || it.State != "Active" {
		t.Errorf("item after the acknowledgement: assignee %q, state %s; want alice, Active", it.Assignee, it.State)
	}
	m, err := e.db.GetOutbox(ctx, delayed[0].ID)
	if err != nil || m.State != outbox.Cancelled {
		t.Errorf("delayed webhook notification after the acknowledgement: state %q, %v; want cancelled", m.State, err)
	}
	before, _ := notifications(t, e)
	e.clk.Advance(time.Hour)
	if err := pager.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := notifications(t, e)
	var now page
	e.do(t, viewer, "GET", pagePath, nil).wantCode(t, http.StatusOK).decode(t, &now)
	if len(after) != len(before) || now.Step != 1 || now.State != "acknowledged" {
		t.Errorf("an hour after the acknowledgement: %d notifications (was %d), page %+v; want no escalation", len(after), len(before), now)
	}

	// Resolving the page closes the item.
	p = page{}
	e.do(t, responder, "POST", pagePath+"/resolve", nil).wantCode(t, http.StatusOK).decode(t, &p)
	if p.State != "resolved" || p.ResolvedAt == nil {
		t.Errorf("resolved page = %+v", p)
	}
	if it := e.item(t, id); it.State != "Closed" || it.ClosedAt == nil {
		t.Errorf("item after resolving its page: %s (closed at %v), want Closed", it.State, it.ClosedAt)
	}
	e.do(t, responder, "POST", pagePath+"/acknowledge", nil).wantCode(t, http.StatusConflict)
	e.do(t, responder, "POST", pagePath+"/escalate", nil).wantCode(t, http.StatusConflict)

	// A second alert, paged and reassigned to bob; alice answers from
	// her notification's link.
	id2 := e.ingest(t, alertBody("Mass file encryption", map[string]any{"source_id": "r-2", "severity": "high"})).Results[0].WorkItemID
	var p2 page
	e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": id2, "service": "payments"}).wantCode(t, http.StatusCreated).decode(t, &p2)
	// Nobody answers for 5 minutes: the escalation reaches step 2.
	e.clk.Advance(5 * time.Minute)
	if err := pager.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", p2.ID), nil).wantCode(t, http.StatusOK).decode(t, &p2)
	if p2.Step != 1 || p2.NextAt == nil || !p2.NextAt.Equal(e.clk.Now().Add(10*time.Minute)) {
		t.Errorf("page 5 minutes on = %+v; want step 1, next in 10 minutes", p2)
	}
	e.do(t, responder, "POST", fmt.Sprintf("/api/v1/pages/%d/reassign", p2.ID), map[string]any{"user": bob}).wantCode(t, http.StatusOK).decode(t, &p2)
	if it := e.item(t, id2); it.Assignee != bob || p2.State != "triggered" {
		t.Errorf("after reassigning to bob: item assignee %q, page %+v", it.Assignee, p2)
	}
	link := ""
	_, ns = notifications(t, e)
	for _, n := range ns {
		if n.Kind == notify.KindPage && n.PageID == p2.ID && n.To.ID == email.ID {
			link = strings.TrimPrefix(n.AckURL, "http://vigil.test")
		}
	}
	if !strings.HasPrefix(link, "/ack/") {
		t.Fatalf("no acknowledgement link in alice's notification of page %d", p2.ID)
	}
	// Opening the link (as a mail scanner would) changes nothing.
	r := e.do(t, noAuth, "GET", link, nil).wantCode(t, http.StatusOK)
	if !strings.Contains(string(r.body), `id="ack"`) || !strings.Contains(string(r.body), "Acknowledge as "+alice) {
		t.Errorf("ack page = %.600s; want an Acknowledge button", r.body)
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", p2.ID), nil).wantCode(t, http.StatusOK).decode(t, &p2)
	if p2.State != "triggered" {
		t.Errorf("page after opening the link = %s, want triggered still", p2.State)
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	e.do(t, noAuth, "POST", link, "action=snooze", form...).wantCode(t, http.StatusConflict)
	r = e.do(t, noAuth, "POST", link, "action=acknowledge", form...).wantCode(t, http.StatusOK)
	if !strings.Contains(string(r.body), "Acknowledged") || !strings.Contains(string(r.body), `<strong id="state">acknowledged</strong>`) {
		t.Errorf("ack page after the button = %.600s", r.body)
	}
	p2 = page{ID: p2.ID}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", p2.ID), nil).wantCode(t, http.StatusOK).decode(t, &p2)
	if it := e.item(t, id2); p2.State != "acknowledged" || p2.AckBy != alice || it.Assignee != alice || it.State != "Active" {
		t.Errorf("after the link's acknowledgement: page %+v, item %s assigned to %q; want alice's, Active", p2, it.State, it.Assignee)
	}
	for _, bad := range []string{"/ack/nonsense", link + "x", link[:len(link)-1]} {
		e.do(t, noAuth, "GET", bad, nil).wantCode(t, http.StatusNotFound)
		e.do(t, noAuth, "POST", bad, "action=acknowledge", form...).wantCode(t, http.StatusNotFound)
	}
	// The link expires.
	e.clk.Advance(paging.LinkTTL + time.Second)
	e.do(t, noAuth, "GET", link, nil).wantCode(t, http.StatusNotFound)

	// Closing the item resolves its page.
	e.move(t, id2, "Verification", "").wantCode(t, http.StatusOK)
	e.move(t, id2, "Closed", "true_positive").wantCode(t, http.StatusOK)
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", p2.ID), nil).wantCode(t, http.StatusOK).decode(t, &p2)
	if p2.State != "resolved" {
		t.Errorf("page of the closed item = %s, want resolved", p2.State)
	}
}

// TestOnCallDisabled: without a pager the routes answer 404.
func TestOnCallDisabled(t *testing.T) {
	e := newEnv(t)
	e.do(t, viewer, "GET", "/api/v1/pages", nil).wantCode(t, http.StatusNotFound)
	e.do(t, noAuth, "GET", "/ack/x.y", nil).wantCode(t, http.StatusNotFound)
}
