package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/store"
)

const profile = "/profile/notifications"

// methods reads user's contact methods as vigil itself.
func (e *onCallEnv) methods(t *testing.T, user string) []store.ContactMethod {
	t.Helper()
	cms, err := e.pager.ContactMethods(context.Background(), auth.System, user)
	if err != nil {
		t.Fatalf("contact methods of %s: %v", user, err)
	}
	return cms
}

// method finds user's contact method of type typ.
func (e *onCallEnv) method(t *testing.T, user, typ string) store.ContactMethod {
	t.Helper()
	for _, c := range e.methods(t, user) {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("%s has no %s contact method", user, typ)
	return store.ContactMethod{}
}

var verifyCodeRE = regexp.MustCompile(`^\[vigil\] Your verification code: ([0-9]{6})$`)

// code reads a contact method's verification code from its message in the
// outbox, completed as the sender completes it (the outbox holds none).
func (e *onCallEnv) code(t *testing.T, id int64) string {
	t.Helper()
	ms, err := e.db.ListOutbox(context.Background(), "", 0, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Target != notify.TargetName {
			continue
		}
		var n notify.Notification
		if err := json.Unmarshal(m.Payload, &n); err != nil {
			t.Fatalf("outbox message %d: %v", m.ID, err)
		}
		if n.Kind != notify.KindVerify || n.To.ID != id {
			continue
		}
		if err := e.pager.Prepare(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		if m := verifyCodeRE.FindStringSubmatch(n.Subject); m != nil {
			return m[1]
		}
		t.Fatalf("verification subject %q carries no code", n.Subject)
	}
	t.Fatalf("no verification message for contact method %d", id)
	return ""
}

// addVerified adds a contact method through the page as role and
// verifies it with its code.
func (e *onCallEnv) addVerified(t *testing.T, role auth.Role, typ, value string) store.ContactMethod {
	t.Helper()
	c := e.as(t, role)
	r := c.post(t, profile+"/methods", url.Values{"type": {typ}, "value": {value}})
	if r.code != http.StatusSeeOther && r.code != http.StatusOK {
		t.Fatalf("%s", r)
	}
	cm := e.method(t, email[role], typ)
	c.post(t, idPath(profile+"/methods/%d/verify", cm.ID), url.Values{"code": {e.code(t, cm.ID)}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile)
	return e.method(t, email[role], typ)
}

// TestProfileAddEachType adds every contact method type through the form;
// a bad value is a 400 that marks the value field and keeps the input.
func TestProfileAddEachType(t *testing.T) {
	e := newOnCallEnv(t)
	c := e.as(t, responder)
	c.get(t, profile).wantCode(t, http.StatusOK).wantBody(t, "My notifications", `id="add-method"`, `id="no-methods"`, `id="no-log"`,
		`<option selected>email</option>`, "<option>ntfy</option>", `<a href="/profile/notifications" aria-current="page">My notifications</a>`)
	tests := []struct {
		typ, good, bad string
	}{
		{notify.TypeEmail, "rob@work.example", "not an address"},
		{notify.TypeSMS, "+358 40 123 4567", "12ab"},
		{notify.TypeVoice, "+358401234568", "call me"},
		{notify.TypeSlack, "U0123ABCD", "rob"},
		{notify.TypeTeams, "soc-oncall", "Not A Name!"},
		{notify.TypeNtfy, "vigil-rob", "no spaces allowed"},
		{notify.TypeWebhook, "https://hooks.example.com/rob", "ftp://hooks.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			r := c.post(t, profile+"/methods", url.Values{"type": {tc.typ}, "value": {tc.bad}, "name": {"mine"}}).
				wantCode(t, http.StatusBadRequest)
			kept := regexp.MustCompile(`<input name="value" value="` + regexp.QuoteMeta(attrEscape(tc.bad)) + `"[^>]*aria-invalid="true">`)
			if !kept.MatchString(r.body) {
				t.Errorf("%s: the value field is not marked invalid with the input kept", r)
			}
			r.wantBody(t, `value="mine"`, `<option selected>`+tc.typ+`</option>`, `id="add-error">value: `)

			r = c.post(t, profile+"/methods", url.Values{"type": {tc.typ}, "value": {tc.good}, "name": {"work " + tc.typ}})
			cm := e.method(t, email[responder], tc.typ)
			if cm.Verified() {
				t.Fatalf("%s method verified before its code", tc.typ)
			}
			if tc.typ == notify.TypeWebhook {
				// The signing secret is shown on this response only.
				r.wantCode(t, http.StatusOK).wantBody(t, `id="webhook-secret"`, `id="new-secret"`, "Added the webhook contact method")
				c.get(t, profile).wantNoBody(t, `id="new-secret"`)
			} else {
				r.wantCode(t, http.StatusSeeOther).wantLocation(t, profile)
				c.get(t, profile).wantBody(t, "Added the "+tc.typ+" contact method", "work "+tc.typ, "not verified",
					idPath(`action="/profile/notifications/methods/%d/verify"`, cm.ID))
			}
		})
	}
	// The same method twice is refused on the form.
	c.post(t, profile+"/methods", url.Values{"type": {"email"}, "value": {"rob@work.example"}}).
		wantCode(t, http.StatusConflict).wantBody(t, "already has the email contact method")
	// An unknown type names the type field.
	c.post(t, profile+"/methods", url.Values{"type": {"pigeon"}, "value": {"x"}}).wantCode(t, http.StatusBadRequest).
		wantBody(t, `<select name="type" aria-invalid="true">`, `id="add-error">type: must be one of`)
}

// attrEscape escapes s as html/template writes an attribute value.
func attrEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "+", "&#43;").Replace(s)
}

// TestProfileVerifyTestRemove: verifying with a wrong code and the right
// one, a test notification at most once a minute, and removing.
func TestProfileVerifyTestRemove(t *testing.T) {
	e := newOnCallEnv(t)
	c := e.as(t, responder)
	c.post(t, profile+"/methods", url.Values{"type": {"email"}, "value": {"rob@work.example"}}).wantCode(t, http.StatusSeeOther)
	cm := e.method(t, email[responder], "email")
	code := e.code(t, cm.ID)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	verify := idPath(profile+"/methods/%d/verify", cm.ID)
	test := idPath(profile+"/methods/%d/test", cm.ID)
	// Testing an unverified method goes back with the service's reason.
	c.post(t, test, nil).wantCode(t, http.StatusSeeOther).wantLocation(t, profile)
	c.get(t, profile).wantBody(t, "is not verified yet")

	tests := []struct {
		name     string
		code     string
		want     int
		body     []string
		verified bool
	}{
		{"wrong code", wrong, http.StatusBadRequest, []string{`value="` + wrong + `"`, `aria-invalid="true"`, "is wrong or has expired"}, false},
		{"empty code", "", http.StatusBadRequest, []string{"is wrong or has expired"}, false},
		{"right code", code, http.StatusSeeOther, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.post(t, verify, url.Values{"code": {tc.code}}).wantCode(t, tc.want).wantBody(t, tc.body...)
			if got := e.method(t, email[responder], "email").Verified(); got != tc.verified {
				t.Fatalf("verified = %v, want %v", got, tc.verified)
			}
		})
	}
	c.get(t, profile).wantBody(t, "Verified the email contact method", `<span class="verified">verified</span>`, `action="`+test+`"`)

	// A test is queued; a second within the minute is refused, and one a
	// minute later goes.
	tests2 := []struct {
		advance time.Duration
		flash   string
		queued  int
	}{
		{0, "Test sent", 1},
		{10 * time.Second, "a test notification went to this contact method less than a minute ago", 1},
		{time.Minute, "Test sent", 2},
	}
	for i, tc := range tests2 {
		t.Run(fmt.Sprintf("test %d", i), func(t *testing.T) {
			e.clk.Advance(tc.advance)
			c.post(t, test, nil).wantCode(t, http.StatusSeeOther).wantLocation(t, profile)
			c.get(t, profile).wantBody(t, tc.flash)
			if got := e.queued(t, notify.KindTest, cm.ID); got != tc.queued {
				t.Errorf("%d test notifications queued, want %d", got, tc.queued)
			}
		})
	}

	c.post(t, idPath(profile+"/methods/%d/delete", cm.ID), nil).wantCode(t, http.StatusSeeOther).wantLocation(t, profile)
	if ms := e.methods(t, email[responder]); len(ms) != 0 {
		t.Fatalf("methods after removing: %+v", ms)
	}
	c.get(t, profile).wantBody(t, idPath("Removed contact method %d", cm.ID), `id="no-methods"`)
	c.post(t, idPath(profile+"/methods/%d/delete", cm.ID), nil).wantCode(t, http.StatusNotFound)
}

// queued counts the notifications of kind to a contact method in the
// outbox.
func (e *onCallEnv) queued(t *testing.T, kind string, id int64) int {
	t.Helper()
	ms, err := e.db.ListOutbox(context.Background(), "", 0, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		var nt notify.Notification
		if m.Target == notify.TargetName && json.Unmarshal(m.Payload, &nt) == nil && nt.Kind == kind && nt.To.ID == id {
			n++
		}
	}
	return n
}

// TestProfileRules saves the rules table; a bad delay is a 400 next to
// its row with the input kept.
func TestProfileRules(t *testing.T) {
	e := newOnCallEnv(t)
	sms := e.addVerified(t, responder, notify.TypeSMS, "+358401234567")
	voice := e.addVerified(t, responder, notify.TypeVoice, "+358401234567")
	smsField, voiceField := idPath("delay.%d", sms.ID), idPath("delay.%d", voice.ID)
	c := e.as(t, responder)
	tests := []struct {
		name  string
		form  url.Values
		want  int
		body  []string
		rules map[int64][]int // the stored rules afterwards
	}{
		{"at once and after 5", url.Values{smsField: {"0"}, voiceField: {"5"}}, http.StatusSeeOther, nil,
			map[int64][]int{sms.ID: {0}, voice.ID: {5}}},
		{"several delays", url.Values{smsField: {"0, 10"}, voiceField: {""}}, http.StatusSeeOther, nil,
			map[int64][]int{sms.ID: {0, 10}}},
		{"not a number", url.Values{smsField: {"soon"}, voiceField: {"5"}}, http.StatusBadRequest,
			[]string{`name="` + smsField + `" value="soon"`, `&#34;soon&#34; is not a number`, `name="` + voiceField + `" value="5"`},
			map[int64][]int{sms.ID: {0, 10}}},
		{"too late", url.Values{smsField: {"0"}, voiceField: {"2000"}}, http.StatusBadRequest,
			[]string{`name="` + voiceField + `" value="2000" inputmode="numeric" maxlength="100" placeholder="never" aria-invalid="true"`, "must be between 0 and 1440"},
			map[int64][]int{sms.ID: {0, 10}}},
		{"someone else's method", url.Values{"delay.999999": {"0"}}, http.StatusBadRequest,
			[]string{"is not one of " + email[responder] + "&#39;s contact methods"}, map[int64][]int{sms.ID: {0, 10}}},
		{"none", url.Values{smsField: {""}, voiceField: {""}}, http.StatusSeeOther, nil, map[int64][]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(t, profile+"/rules", tc.form).wantCode(t, tc.want).wantBody(t, tc.body...)
			if tc.want == http.StatusSeeOther {
				r.wantLocation(t, profile)
			}
			rs, err := e.pager.NotificationRules(context.Background(), auth.System, email[responder])
			if err != nil {
				t.Fatal(err)
			}
			got := map[int64][]int{}
			for _, rl := range rs {
				got[rl.ContactMethodID] = append(got[rl.ContactMethodID], rl.DelayMinutes)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.rules) {
				t.Errorf("rules = %v, want %v", got, tc.rules)
			}
		})
	}
	c.post(t, profile+"/rules", url.Values{smsField: {"0"}, voiceField: {"5"}}).wantCode(t, http.StatusSeeOther)
	c.get(t, profile).wantBody(t, "Saved the notification rules.", `name="`+smsField+`" value="0"`, `name="`+voiceField+`" value="5"`)
}

// TestProfileLog lists what was sent to the person, and the item page
// lists the page's notifications.
func TestProfileLog(t *testing.T) {
	e := newOnCallEnv(t)
	sms := e.addVerified(t, responder, notify.TypeSMS, "+358401234567")
	ctx := context.Background()
	to := notify.ContactMethod{ID: sms.ID, Type: sms.Type, Value: sms.Value, User: email[responder]}
	sends := []struct {
		n   notify.Notification
		r   notify.Receipt
		err error
	}{
		{notify.Notification{ID: "page-1.sms", Kind: notify.KindPage, To: to, PageID: e.page.ID, WorkItemID: e.itemID},
			notify.Receipt{Provider: "twilio", ProviderID: "SM0123456789abcdef", Status: notify.StatusSent}, nil},
		{notify.Notification{ID: "test-1.sms", Kind: notify.KindTest, To: to},
			notify.Receipt{Provider: "twilio", Status: notify.StatusRetrying}, errors.New("twilio: 503 Service Unavailable")},
	}
	for _, s := range sends {
		if err := e.pager.RecordSend(ctx, s.n, s.r, s.err, false, 42*time.Millisecond); err != nil {
			t.Fatalf("record %s: %v", s.n.ID, err)
		}
	}
	if err := e.pager.DeliveryStatus(ctx, "twilio", "SM0123456789abcdef", notify.StatusDelivered, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role auth.Role
		path string
		want []string
		not  []string
	}{
		{responder, profile, []string{`id="log"`, idPath(`<a href="/items/%d">`, e.itemID) + "page #" + itoa(e.page.ID), "twilio",
			"<code>SM0123456789abcdef</code>", "nstatus-delivered", "nstatus-retrying", "503 Service Unavailable", "42.0 ms", "1 attempt"}, nil},
		// The admin reads the responder's log; the admin's own is empty.
		{admin, profile + "?user=" + url.QueryEscape(email[responder]), []string{"Notifications of " + email[responder], "SM0123456789abcdef"}, nil},
		{admin, profile, []string{`id="no-log"`}, []string{"SM0123456789abcdef"}},
		// The item page lists the page's notifications only.
		{viewer, idPath("/items/%d", e.itemID), []string{`id="page-log"`, "Notifications (1)", email[responder], "nstatus-delivered", "SM0123456789abcdef"},
			[]string{"503 Service Unavailable"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.role)+tc.path, func(t *testing.T) {
			e.as(t, tc.role).get(t, tc.path).wantCode(t, http.StatusOK).wantBody(t, tc.want...).wantNoBody(t, tc.not...)
		})
	}
}

// TestProfileWhose: everyone manages their own settings; a viewer may not
// read or change anyone else's, an admin manages anyone's with ?user=.
func TestProfileWhose(t *testing.T) {
	e := newOnCallEnv(t)
	rob := e.addVerified(t, responder, notify.TypeEmail, "rob@work.example")
	other := "?user=" + url.QueryEscape(email[responder])
	v := e.as(t, viewer)
	v.get(t, profile).wantCode(t, http.StatusOK).wantBody(t, "My notifications")
	v.post(t, profile+"/methods", url.Values{"type": {"email"}, "value": {"vic@home.example"}}).wantCode(t, http.StatusSeeOther)
	if ms := e.methods(t, email[viewer]); len(ms) != 1 || ms[0].Value != "vic@home.example" {
		t.Fatalf("viewer's methods: %+v", ms)
	}
	tests := []struct {
		name, method, path string
		form               url.Values
	}{
		{"read", "GET", profile + other, nil},
		{"add", "POST", profile + "/methods", url.Values{"user": {email[responder]}, "type": {"email"}, "value": {"vic@evil.example"}}},
		{"verify", "POST", idPath(profile+"/methods/%d/verify", rob.ID), url.Values{"code": {"123456"}}},
		{"test", "POST", idPath(profile+"/methods/%d/test", rob.ID), nil},
		{"remove", "POST", idPath(profile+"/methods/%d/delete", rob.ID), nil},
		{"rules", "POST", profile + "/rules", url.Values{"user": {email[responder]}, idPath("delay.%d", rob.ID): {"0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r resp
			if tc.method == "GET" {
				r = v.get(t, tc.path)
			} else {
				r = v.post(t, tc.path, tc.form)
			}
			r.wantCode(t, http.StatusForbidden)
		})
	}
	if ms := e.methods(t, email[responder]); len(ms) != 1 || ms[0].ID != rob.ID {
		t.Fatalf("the responder's methods after the viewer's tries: %+v", ms)
	}
	if e.queued(t, notify.KindTest, rob.ID) != 0 {
		t.Fatal("the viewer's test of another's method was queued")
	}

	// The admin manages the responder's, and goes back to their page.
	a := e.as(t, admin)
	a.get(t, profile+other).wantCode(t, http.StatusOK).wantBody(t, "Notifications of "+email[responder], "rob@work.example",
		`<input type="hidden" name="user" value="`+email[responder]+`">`).wantNoBody(t, "vic@home.example")
	a.post(t, profile+"/methods", url.Values{"user": {email[responder]}, "type": {"ntfy"}, "value": {"rob-pager"}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile+other)
	nt := e.method(t, email[responder], "ntfy")
	a.post(t, idPath(profile+"/methods/%d/verify", nt.ID), url.Values{"user": {email[responder]}, "code": {e.code(t, nt.ID)}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile+other)
	a.post(t, idPath(profile+"/methods/%d/test", nt.ID), url.Values{"user": {email[responder]}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile+other)
	a.post(t, profile+"/rules", url.Values{"user": {email[responder]}, idPath("delay.%d", nt.ID): {"3"}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile+other)
	a.get(t, profile+other).wantBody(t, "Saved the notification rules.", idPath(`name="delay.%d" value="3"`, nt.ID))
	// A refused form stays on the responder's settings.
	a.post(t, profile+"/methods", url.Values{"user": {email[responder]}, "type": {"sms"}, "value": {"nope"}}).
		wantCode(t, http.StatusBadRequest).wantBody(t, "Notifications of "+email[responder])
	a.post(t, idPath(profile+"/methods/%d/delete", nt.ID), url.Values{"user": {email[responder]}}).
		wantCode(t, http.StatusSeeOther).wantLocation(t, profile+other)
	if ms := e.methods(t, email[responder]); len(ms) != 1 {
		t.Fatalf("the responder's methods after the admin removed one: %+v", ms)
	}
}

// TestProfileOnCallOff: without on-call the page is not there.
func TestProfileOnCallOff(t *testing.T) {
	e := newEnv(t)
	e.as(t, viewer).get(t, profile).wantCode(t, http.StatusNotFound)
	e.as(t, viewer).get(t, "/oncall").wantCode(t, http.StatusNotFound)
}
