package ui

// "My notifications": a person's contact methods (add, verify, send a
// test, remove), their notification rules, and what was sent to them
// (the notification log); and the page's own log on the item page.
//
// Everything goes through the same paging service the API uses, which
// decides who may do what: the person themself, or an admin. The UI only
// picks whose settings to show (?user= for an admin, the signed-in user
// otherwise) and never trusts that choice with more than the service
// allows.
//
// Decisions where the issues are silent:
//   - A webhook's signing secret is shown once, on the response to the
//     form that added it (as API tokens are on the users page), rather
//     than through the flash cookie: a secret never travels in a cookie.
//   - A rule row holds the delays of one contact method, comma-separated
//     ("0, 10" notifies at once and again after 10 minutes); an empty row
//     is no rule for that method. The table replaces all of the person's
//     rules at once, as the API's PUT does.
//   - A second test within a minute is not an error page: the form goes
//     back with the service's message in the flash, as a page that
//     changed meanwhile does on "My pages".
//   - Reading the log needs only a signed-in user in the service (the
//     API's log is open to every role); this page shows it only to whoever
//     may read the person's contact methods, since the log names their
//     channels and providers.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// NotificationSettings is what the notifications pages use of on-call,
// beyond Pager: contact methods, rules and the notification log.
type NotificationSettings interface {
	AddContactMethod(ctx context.Context, actor auth.Actor, c store.ContactMethod) (paging.NewContactMethod, error)
	VerifyContactMethod(ctx context.Context, actor auth.Actor, id int64, code string) (store.ContactMethod, error)
	ContactMethods(ctx context.Context, actor auth.Actor, user string) ([]store.ContactMethod, error)
	DeleteContactMethod(ctx context.Context, actor auth.Actor, id int64) error
	TestContactMethod(ctx context.Context, actor auth.Actor, id int64) (string, error)
	SetNotificationRules(ctx context.Context, actor auth.Actor, user string, rules []store.NotificationRule) ([]store.NotificationRule, error)
	NotificationRules(ctx context.Context, actor auth.Actor, user string) ([]store.NotificationRule, error)
	NotificationLog(ctx context.Context, actor auth.Actor, f store.NotificationFilter) ([]store.NotificationLogEntry, error)
}

// The paging service is what Options.Pager holds in production.
var _ NotificationSettings = (*paging.Pager)(nil)

// profileLogSize is how many notifications the page lists.
const profileLogSize = 50

// pageLogSize bounds a page's log on its item page.
const pageLogSize = 100

const profilePath = "/profile/notifications"

// notifications returns the notification settings service, or answers
// 404 when on-call is off.
func (u *UI) notifications(w http.ResponseWriter, r *http.Request, v *view) (NotificationSettings, bool) {
	if u.o.Pager == nil {
		u.fail(w, r, v, fmt.Errorf("notification settings: %w", validation.ErrNotFound))
		return nil, false
	}
	return u.o.Pager, true
}

// profileData is the page's content. The forms' input is kept when the
// service refuses it.
type profileData struct {
	User string // whose settings, lower case
	Self bool   // the signed-in user's own
	// Query is "?user=…" when an admin looks at someone else's settings,
	// for the page's links.
	Query   string
	Methods []store.ContactMethod
	Rules   []notifyRuleRow
	Log     []store.NotificationLogEntry
	Types   []string
	// Add is the add form as typed; Verify the verify form's code, by
	// method id.
	Add    addForm
	Verify map[int64]string
	// Secret is a new webhook method's signing secret, shown once.
	Secret *paging.NewContactMethod
	// Err is the refusal, and Form the form it belongs to: "add",
	// "rules" or "verify-<id>".
	Err  *validation.FieldError
	Form string
}

type addForm struct{ Type, Value, Name string }

// notifyRuleRow is one contact method's row of the rules table.
type notifyRuleRow struct {
	Method store.ContactMethod
	Delays string // "0, 10"
}

// FieldErr is the message for field of form, or "".
func (d *profileData) FieldErr(form, field string) string {
	if d.Err != nil && d.Form == form && d.Err.Field == field {
		return d.Err.Message
	}
	return ""
}

// OtherErr is the refusal of form when it names none of the fields the
// form shows errors next to.
func (d *profileData) OtherErr(form string, fields ...string) string {
	switch {
	case d.Err == nil || d.Form != form || slices.Contains(fields, d.Err.Field):
		return ""
	case d.Err.Field == "":
		return d.Err.Message
	}
	return d.Err.Error()
}

// FormErr is the refusal of form, naming the field it is about: the add
// form is one row, so its error cannot sit next to the field.
func (d *profileData) FormErr(form string) string {
	switch {
	case d.Err == nil || d.Form != form:
		return ""
	case d.Err.Field == "":
		return d.Err.Message
	}
	return d.Err.Error()
}

// VerifyForm is the form name of a method's verify form.
func (d *profileData) VerifyForm(id int64) string { return fmt.Sprintf("verify-%d", id) }

// DelayField is the rules table's input for a method.
func (d *profileData) DelayField(id int64) string { return fmt.Sprintf("delay.%d", id) }

// profileUser is whose settings a request is about: ?user= (or the forms'
// user field) when given, else the signed-in user.
func profileUser(r *http.Request, v *view) string {
	user := strings.TrimSpace(r.FormValue("user"))
	if user == "" {
		user = v.Actor.Name
	}
	return strings.ToLower(user)
}

// profileURL is the page of user's settings as the signed-in user
// reaches it.
func profileURL(v *view, user string) string {
	if user == "" || strings.EqualFold(user, v.Actor.Name) {
		return profilePath
	}
	return profilePath + "?user=" + url.QueryEscape(user)
}

// profileNotifications is GET /profile/notifications.
func (u *UI) profileNotifications(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	d := &profileData{User: profileUser(r, v), Add: addForm{Type: notify.TypeEmail}}
	v.Flash = u.takeFlash(w, r).Text
	u.renderProfile(w, r, v, ns, http.StatusOK, d)
}

// renderProfile reads what the page lists and renders it with code. The
// contact methods are read first: the service refuses anyone but the
// person and admins there, so nothing else is read for them.
func (u *UI) renderProfile(w http.ResponseWriter, r *http.Request, v *view, ns NotificationSettings, code int, d *profileData) {
	ctx := r.Context()
	var err error
	if d.Methods, err = ns.ContactMethods(ctx, v.Actor, d.User); err != nil {
		u.fail(w, r, v, fmt.Errorf("contact methods of %s: %w", d.User, err))
		return
	}
	rules, err := ns.NotificationRules(ctx, v.Actor, d.User)
	if err != nil {
		u.fail(w, r, v, fmt.Errorf("notification rules of %s: %w", d.User, err))
		return
	}
	if d.Log, err = ns.NotificationLog(ctx, v.Actor, store.NotificationFilter{User: d.User, Limit: profileLogSize}); err != nil {
		u.fail(w, r, v, fmt.Errorf("notification log of %s: %w", d.User, err))
		return
	}
	delays := map[int64][]string{}
	for _, rl := range rules {
		delays[rl.ContactMethodID] = append(delays[rl.ContactMethodID], strconv.Itoa(rl.DelayMinutes))
	}
	typed := d.Form == "rules"
	for _, m := range d.Methods {
		row := notifyRuleRow{Method: m, Delays: strings.Join(delays[m.ID], ", ")}
		if typed {
			row.Delays = r.PostFormValue(d.DelayField(m.ID))
		}
		d.Rules = append(d.Rules, row)
	}
	d.Self = strings.EqualFold(d.User, v.Actor.Name)
	if !d.Self {
		d.Query = "?user=" + url.QueryEscape(d.User)
	}
	d.Types = notify.Types
	v.Title, v.Nav, v.Data = "My notifications", "oncall", d
	if !d.Self {
		v.Title = "Notifications: " + d.User
	}
	u.render(w, code, "profile_notifications.html", v)
}

// formRefused shows the page again with a field error next to form's
// field, or fails as usual for any other error.
func (u *UI) formRefused(w http.ResponseWriter, r *http.Request, v *view, ns NotificationSettings, d *profileData, form string, err error) {
	var fe *validation.FieldError
	var ce *validation.ConflictError
	switch {
	case errors.As(err, &fe):
		d.Err, d.Form = fe, form
		u.renderProfile(w, r, v, ns, http.StatusBadRequest, d)
	case errors.As(err, &ce):
		// A duplicate method: shown on the form that was refused.
		d.Err, d.Form = &validation.FieldError{Message: ce.Error()}, form
		u.renderProfile(w, r, v, ns, http.StatusConflict, d)
	default:
		u.fail(w, r, v, err)
	}
}

// addMethod is POST /profile/notifications/methods.
func (u *UI) addMethod(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	d := &profileData{User: profileUser(r, v),
		Add: addForm{Type: r.PostFormValue("type"), Value: r.PostFormValue("value"), Name: r.PostFormValue("name")}}
	added, err := ns.AddContactMethod(r.Context(), v.Actor, store.ContactMethod{User: d.User, Type: d.Add.Type, Value: d.Add.Value, Name: d.Add.Name})
	if err != nil {
		u.formRefused(w, r, v, ns, d, "add", fmt.Errorf("add a contact method for %s: %w", d.User, err))
		return
	}
	text := fmt.Sprintf("Added the %s contact method %s: enter the verification code sent to it.", added.Type, added.Value)
	if added.WebhookSecret != "" {
		// The secret is shown once, on this response, and never stored.
		d.Add, d.Secret = addForm{Type: notify.TypeEmail}, &added
		v.Flash = text
		u.renderProfile(w, r, v, ns, http.StatusOK, d)
		return
	}
	u.setFlash(w, r, flash{Text: text})
	http.Redirect(w, r, profileURL(v, d.User), http.StatusSeeOther)
}

// verifyMethod is POST /profile/notifications/methods/{id}/verify.
func (u *UI) verifyMethod(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	code := r.PostFormValue("code")
	d := &profileData{User: profileUser(r, v), Add: addForm{Type: notify.TypeEmail}, Verify: map[int64]string{id: code}}
	c, err := ns.VerifyContactMethod(r.Context(), v.Actor, id, code)
	if err != nil {
		u.formRefused(w, r, v, ns, d, d.VerifyForm(id), fmt.Errorf("verify contact method %d: %w", id, err))
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("Verified the %s contact method %s: it now receives pages.", c.Type, c.Value)})
	http.Redirect(w, r, profileURL(v, c.User), http.StatusSeeOther)
}

// testMethod is POST /profile/notifications/methods/{id}/test.
func (u *UI) testMethod(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	text := "Test sent: it is on its way to the contact method."
	if _, err := ns.TestContactMethod(r.Context(), v.Actor, id); err != nil {
		var ce *validation.ConflictError
		if !errors.As(err, &ce) {
			u.fail(w, r, v, fmt.Errorf("test contact method %d: %w", id, err))
			return
		}
		text = ce.Error()
	}
	u.setFlash(w, r, flash{Text: text})
	http.Redirect(w, r, profileURL(v, profileUser(r, v)), http.StatusSeeOther)
}

// deleteMethod is POST /profile/notifications/methods/{id}/delete.
func (u *UI) deleteMethod(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if err := ns.DeleteContactMethod(r.Context(), v.Actor, id); err != nil {
		u.fail(w, r, v, fmt.Errorf("remove contact method %d: %w", id, err))
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("Removed contact method %d and its notification rules.", id)})
	http.Redirect(w, r, profileURL(v, profileUser(r, v)), http.StatusSeeOther)
}

var delayKey = regexp.MustCompile(`^delay\.(\d+)$`)

// saveRules is POST /profile/notifications/rules: the table's rows
// replace all of the person's rules.
func (u *UI) saveRules(w http.ResponseWriter, r *http.Request, v *view) {
	ns, ok := u.notifications(w, r, v)
	if !ok {
		return
	}
	d := &profileData{User: profileUser(r, v), Add: addForm{Type: notify.TypeEmail}}
	rules, fields, err := parseRules(r)
	if err == nil {
		_, err = ns.SetNotificationRules(r.Context(), v.Actor, d.User, rules)
		err = ruleFieldError(err, fields)
	}
	if err != nil {
		u.formRefused(w, r, v, ns, d, "rules", fmt.Errorf("notification rules of %s: %w", d.User, err))
		return
	}
	u.setFlash(w, r, flash{Text: "Saved the notification rules."})
	http.Redirect(w, r, profileURL(v, d.User), http.StatusSeeOther)
}

// parseRules reads the rules table: delay.<method id> = "0, 10". fields
// names each rule's input, for the service's errors, which name rules by
// their index.
func parseRules(r *http.Request) ([]store.NotificationRule, []string, error) {
	if err := r.ParseForm(); err != nil {
		return nil, nil, validation.NewFieldError("form", "cannot read the form: %v", err)
	}
	var keys []string
	for k := range r.PostForm {
		if delayKey.MatchString(k) {
			keys = append(keys, k)
		}
	}
	// Rules go in method order, so that the service's index-named
	// errors and the stored order do not depend on map order.
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.ParseInt(delayKey.FindStringSubmatch(a)[1], 10, 64)
		y, _ := strconv.ParseInt(delayKey.FindStringSubmatch(b)[1], 10, 64)
		return int(x - y)
	})
	var rules []store.NotificationRule
	var fields []string
	for _, k := range keys {
		id, err := strconv.ParseInt(delayKey.FindStringSubmatch(k)[1], 10, 64)
		if err != nil {
			return nil, nil, validation.NewFieldError(k, "names no contact method")
		}
		seen := map[int]bool{}
		for _, part := range strings.Split(r.PostForm.Get(k), ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil, nil, validation.NewFieldError(k, "must be minutes, such as 0 or 0, 10; %q is not a number", part)
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			rules = append(rules, store.NotificationRule{ContactMethodID: id, DelayMinutes: n})
			fields = append(fields, k)
		}
	}
	return rules, fields, nil
}

var ruleIndex = regexp.MustCompile(`^rules\[(\d+)\]\.`)

// ruleFieldError renames the service's rules[i].delay_minutes to the
// table's input for rule i, so that it shows next to its row.
func ruleFieldError(err error, fields []string) error {
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if m := ruleIndex.FindStringSubmatch(fe.Field); m != nil {
		if i, _ := strconv.Atoi(m[1]); i < len(fields) {
			return &validation.FieldError{Field: fields[i], Message: fe.Message}
		}
	}
	return err
}

// pageLog is a page's notification log, for its panel on the item page
// (a template function, as itemPage is). A failure to read it is logged
// and shows no list: the item page matters more.
func (u *UI) pageLog(v *view, pageID int64) []store.NotificationLogEntry {
	if u.o.Pager == nil || v == nil || v.req == nil {
		return nil
	}
	log, err := u.o.Pager.NotificationLog(v.req.Context(), v.Actor, store.NotificationFilter{PageID: pageID, Limit: pageLogSize})
	if err != nil {
		u.log.Warn("item page: page notifications", "page", pageID, "err", err)
		return nil
	}
	return log
}

// profileFuncs are the notifications templates' functions.
func (u *UI) profileFuncs() template.FuncMap {
	return template.FuncMap{
		"pageLog": u.pageLog,
		"ms":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	}
}
