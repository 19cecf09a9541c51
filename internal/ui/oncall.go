package ui

// On-call pages: who is on call, a schedule's calendar (a week or a
// month) with overrides made from it, escalation policies and services.
//
// Decisions where the issue is silent:
//   - Times on a schedule's pages are in the schedule's own time zone,
//     whoever looks at them: a rota is agreed in one zone, and a shift
//     reads "09:00–17:00" for everyone.
//   - An override made from the calendar replaces one user for the
//     clicked block (week) or day (month); the form may widen or narrow
//     the period. It is appended to the schedule's definition and saved
//     through Pager.Put, so the API's validation is the one that holds.
//   - An override is removed from the list under the calendar. Overrides
//     have no id, so the form names one by its stored fields (kind, users,
//     start and end), and the first equal one goes. Only current and
//     upcoming ones offer Remove: past ones are the record of who was on
//     call.
//   - Every signed-in role reads everything here; only admins see the
//     override and policy forms (Pager.Put refuses anyone else anyway).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Pager is on-call as the UI uses it (internal/paging.Pager).
type Pager interface {
	NotificationSettings
	Put(ctx context.Context, actor auth.Actor, kind, name string, raw json.RawMessage) (store.OnCallDef, bool, error)
	Get(ctx context.Context, actor auth.Actor, kind, name string) (store.OnCallDef, error)
	List(ctx context.Context, actor auth.Actor, kind string) ([]store.OnCallDef, error)
	Delete(ctx context.Context, actor auth.Actor, kind, name string) error
	WhoIsOnCall(ctx context.Context, actor auth.Actor, at time.Time) ([]paging.OnCall, error)
	Shifts(ctx context.Context, actor auth.Actor, name string, from, to time.Time) ([]oncall.Shift, error)
	Pages(ctx context.Context, actor auth.Actor, f store.PageFilter) ([]store.Page, error)
	Acknowledge(ctx context.Context, actor auth.Actor, id int64, responder string) (store.Page, error)
	Resolve(ctx context.Context, actor auth.Actor, id int64) (store.Page, error)
}

// localLayout is an <input type="datetime-local"> value.
const localLayout = "2006-01-02T15:04"

// dateLayout is the calendar's ?start=.
const dateLayout = "2006-01-02"

func (u *UI) pagerOff(w http.ResponseWriter, r *http.Request, v *view) bool {
	if u.o.Pager == nil {
		u.fail(w, r, v, fmt.Errorf("on-call: %w", validation.ErrNotFound))
		return true
	}
	return false
}

// shiftView is a shift as a page shows it, in the schedule's zone.
type shiftView struct {
	oncall.Shift
	From, To string // local "Mon 2 Mar 09:00"
	Override bool
}

func viewShift(sh oncall.Shift, loc *time.Location) shiftView {
	return shiftView{Shift: sh, From: sh.Start.In(loc).Format("Mon 2 Jan 15:04"), To: sh.End.In(loc).Format("Mon 2 Jan 15:04"),
		Override: sh.Source == oncall.SourceOverride}
}

type onCallRow struct {
	Schedule string
	TimeZone string
	Users    []string
	Next     []shiftView
}

// oncallNow is GET /oncall: every schedule, who is on call now, and the
// next shifts.
func (u *UI) oncallNow(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	ctx := r.Context()
	now := u.clock.Now()
	who, err := u.o.Pager.WhoIsOnCall(ctx, v.Actor, now)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	zones := map[string]string{}
	if defs, err := u.o.Pager.List(ctx, v.Actor, paging.KindSchedule); err == nil {
		for _, d := range defs {
			if sc, err := decodeSchedule(d); err == nil {
				zones[d.Name] = sc.TimeZone
			}
		}
	}
	rows := make([]onCallRow, len(who))
	for i, oc := range who {
		loc := zoneOf(zones[oc.Schedule])
		rows[i] = onCallRow{Schedule: oc.Schedule, TimeZone: loc.String(), Users: oc.Users}
		for _, sh := range oc.Next {
			rows[i].Next = append(rows[i].Next, viewShift(sh, loc))
		}
	}
	v.Title, v.Nav, v.Data = "Who is on call", "oncall", rows
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "oncall.html", v)
}

func zoneOf(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// decodeSchedule reads a stored schedule for display (its time zone and
// overrides); the stored definition was normalized when it was saved.
func decodeSchedule(d store.OnCallDef) (oncall.Schedule, error) {
	var sc oncall.Schedule
	if err := json.Unmarshal(d.Definition, &sc); err != nil {
		return sc, fmt.Errorf("schedule %q: %w", d.Name, err)
	}
	if sc.TimeZone == "" {
		sc.TimeZone = "UTC"
	}
	return sc, nil
}

// calDay is one day of the calendar, with the shifts that touch it
// clipped to it.
type calDay struct {
	Date    time.Time // local midnight
	Key     string    // YYYY-MM-DD
	InMonth bool
	Today   bool
	Blocks  []calBlock
	// Users on call at some time of the day: who a month cell's
	// override form may replace.
	Users []string
}

// calBlock is a shift's part within one day.
type calBlock struct {
	User     string
	Layer    string
	Override bool
	From, To string // local HH:MM of the clipped part ("24:00" at midnight)
	// FromVal and ToVal prefill the override form with the clipped part.
	FromVal, ToVal string
	Full           string // the whole shift, for the title
}

// overrideForm is the override form as sent, kept when it is refused.
type overrideForm struct {
	Replaces, User, From, To string
	Err                      *validation.FieldError
}

// FieldErr is the message for field, or "".
func (f *overrideForm) FieldErr(field string) string {
	if f == nil || f.Err == nil {
		return ""
	}
	if f.Err.Field == field {
		return f.Err.Message
	}
	return ""
}

// OtherErr is the message of an error that names none of the form's
// fields.
func (f *overrideForm) OtherErr() string {
	if f == nil || f.Err == nil {
		return ""
	}
	switch f.Err.Field {
	case "replaces", "user", "from", "to":
		return ""
	case "":
		return f.Err.Message
	}
	return f.Err.Error()
}

type scheduleData struct {
	Name      string
	TimeZone  string
	View      string // week or month
	Title     string // "Week of 2 Mar 2026", "March 2026"
	Start     string // this view's ?start=
	Prev      string
	Next      string
	Today     string
	Weeks     [][]calDay // month: rows of 7; week: one row
	Overrides []overrideRow
	Layers    []oncall.Rotation
	OnCallNow []string
	Users     []string // whom an override may name (admins)
	Form      *overrideForm
}

type overrideRow struct {
	oncall.Override
	From, To string
	Past     bool
	// StartVal and EndVal are the override's identity for its Remove
	// form, exact to the nanosecond.
	StartVal, EndVal string
}

// scheduleCal is GET /oncall/schedules/{name}?view=week|month&start=.
func (u *UI) scheduleCal(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	u.renderSchedule(w, r, v, http.StatusOK, nil)
}

func (u *UI) renderSchedule(w http.ResponseWriter, r *http.Request, v *view, code int, form *overrideForm) {
	ctx := r.Context()
	name := r.PathValue("name")
	def, err := u.o.Pager.Get(ctx, v.Actor, paging.KindSchedule, name)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	sc, err := decodeSchedule(def)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	loc := zoneOf(sc.TimeZone)
	// FormValue: the query of a GET, or the refused form's fields.
	d := scheduleData{Name: name, TimeZone: loc.String(), View: r.FormValue("view"), Layers: sc.Layers, Form: form}
	if d.View != "month" {
		d.View = "week"
	}
	now := u.clock.Now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	day := today
	if s := r.FormValue("start"); s != "" {
		t, err := time.ParseInLocation(dateLayout, s, loc)
		if err != nil {
			u.fail(w, r, v, validation.NewFieldError("start", "must be a date such as 2026-03-02"))
			return
		}
		day = t
	}
	var first time.Time // the grid's first day
	var days int
	switch d.View {
	case "month":
		m1 := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, loc)
		first = mondayOf(m1)
		last := m1.AddDate(0, 1, -1)
		days = int(dayNumber(last)-dayNumber(first)) + 1
		days = (days + 6) / 7 * 7
		d.Title, d.Start = m1.Format("January 2006"), m1.Format(dateLayout)
		d.Prev, d.Next = m1.AddDate(0, -1, 0).Format(dateLayout), m1.AddDate(0, 1, 0).Format(dateLayout)
	default:
		first, days = mondayOf(day), 7
		d.Title, d.Start = "Week of "+first.Format("2 Jan 2006"), first.Format(dateLayout)
		d.Prev, d.Next = first.AddDate(0, 0, -7).Format(dateLayout), first.AddDate(0, 0, 7).Format(dateLayout)
	}
	d.Today = today.Format(dateLayout)
	end := first.AddDate(0, 0, days)
	shifts, err := u.o.Pager.Shifts(ctx, v.Actor, name, first, end)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	var row []calDay
	for i := range days {
		ds := first.AddDate(0, 0, i)
		cd := calDay{Date: ds, Key: ds.Format(dateLayout), InMonth: d.View == "week" || ds.Month() == day.Month(),
			Today: ds.Equal(today)}
		cd.Blocks, cd.Users = dayBlocks(shifts, ds, ds.AddDate(0, 0, 1), loc)
		row = append(row, cd)
		if len(row) == 7 {
			d.Weeks, row = append(d.Weeks, row), nil
		}
	}
	for _, o := range sc.Overrides {
		d.Overrides = append(d.Overrides, overrideRow{Override: o, From: o.Start.In(loc).Format("Mon 2 Jan 2006 15:04"),
			To: o.End.In(loc).Format("Mon 2 Jan 2006 15:04"), Past: !o.End.After(u.clock.Now()),
			StartVal: o.Start.UTC().Format(time.RFC3339Nano), EndVal: o.End.UTC().Format(time.RFC3339Nano)})
	}
	if who, err := u.o.Pager.WhoIsOnCall(ctx, v.Actor, u.clock.Now()); err == nil {
		for _, oc := range who {
			if oc.Schedule == name {
				d.OnCallNow = oc.Users
			}
		}
	}
	if v.IsAdmin() {
		d.Users = u.userChoices(ctx, v, sc)
	}
	v.Title, v.Nav, v.Data = "Schedule: "+name, "oncall", d
	if code == http.StatusOK {
		v.Flash = u.takeFlash(w, r).Text
	}
	u.render(w, code, "oncall_schedule.html", v)
}

// userChoices are whom an override may put on call: the enabled users
// and the schedule's participants (who may have no account yet).
func (u *UI) userChoices(ctx context.Context, v *view, sc oncall.Schedule) []string {
	var out []string
	if users, err := u.o.Accounts.Users(ctx, v.Actor); err == nil {
		for _, us := range users {
			if !us.Disabled {
				out = append(out, strings.ToLower(us.Email))
			}
		}
	}
	for _, l := range sc.Layers {
		for _, p := range l.Participants {
			out = append(out, strings.ToLower(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mondayOf is the local midnight of the Monday on or before t.
func mondayOf(t time.Time) time.Time {
	back := (int(t.Weekday()) + 6) % 7
	return time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, t.Location())
}

// dayNumber counts days by calendar date, so that a 23- or 25-hour day
// still counts as one.
func dayNumber(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// dayBlocks clips shifts to [from, to) (a local day).
func dayBlocks(shifts []oncall.Shift, from, to time.Time, loc *time.Location) ([]calBlock, []string) {
	var out []calBlock
	var users []string
	for _, sh := range shifts {
		if !sh.Start.Before(to) || !sh.End.After(from) {
			continue
		}
		s, e := maxT(sh.Start, from), minT(sh.End, to)
		b := calBlock{User: sh.User, Layer: sh.Layer, Override: sh.Source == oncall.SourceOverride,
			From: s.In(loc).Format("15:04"), To: e.In(loc).Format("15:04"),
			FromVal: s.In(loc).Format(localLayout), ToVal: e.In(loc).Format(localLayout),
			Full: sh.Start.In(loc).Format("Mon 2 Jan 15:04") + " – " + sh.End.In(loc).Format("Mon 2 Jan 15:04")}
		if e.Equal(to) {
			b.To = "24:00"
		}
		out = append(out, b)
		if !slices.Contains(users, sh.User) {
			users = append(users, sh.User)
		}
	}
	return out, users
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// overridesField matches an error in the appended override, e.g.
// "overrides[3].user" or "overrides[3].start".
var overridesField = regexp.MustCompile(`^overrides\[\d+\]\.?(.*)$`)

// addOverride is POST /oncall/schedules/{name}/overrides: it appends a
// replace override to the schedule and saves it; 303 back to the
// calendar with a flash, or the calendar again with the field's error.
func (u *UI) addOverride(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) || !u.admin(w, r, v) {
		return
	}
	ctx := r.Context()
	name := r.PathValue("name")
	def, err := u.o.Pager.Get(ctx, v.Actor, paging.KindSchedule, name)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	sc, err := decodeSchedule(def)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	loc := zoneOf(sc.TimeZone)
	f := &overrideForm{Replaces: strings.TrimSpace(r.PostFormValue("replaces")), User: strings.TrimSpace(r.PostFormValue("user")),
		From: r.PostFormValue("from"), To: r.PostFormValue("to")}
	o := oncall.Override{Kind: oncall.OverrideReplace, Replaces: f.Replaces, User: f.User}
	var bad error
	if o.Start, err = time.ParseInLocation(localLayout, f.From, loc); err != nil {
		bad = validation.NewFieldError("from", "must be a date and time (YYYY-MM-DDTHH:MM, %s)", loc)
	} else if o.End, err = time.ParseInLocation(localLayout, f.To, loc); err != nil {
		bad = validation.NewFieldError("to", "must be a date and time (YYYY-MM-DDTHH:MM, %s)", loc)
	} else if strings.EqualFold(o.User, o.Replaces) && o.User != "" {
		bad = validation.NewFieldError("user", "must be someone other than %s", o.Replaces)
	}
	if bad == nil {
		var raw json.RawMessage
		if raw, err = appendOverride(def.Definition, o); err != nil {
			u.fail(w, r, v, err)
			return
		}
		_, _, bad = u.o.Pager.Put(ctx, v.Actor, paging.KindSchedule, name, raw)
	}
	if bad != nil {
		code, msg := errorStatus(bad)
		if code >= 500 || code == http.StatusForbidden || code == http.StatusNotFound {
			u.fail(w, r, v, bad)
			return
		}
		var fe *validation.FieldError
		if errors.As(bad, &fe) {
			f.Err = overrideFieldErr(fe)
		} else {
			f.Err = &validation.FieldError{Field: "", Message: msg}
		}
		v.Error = msg
		u.renderSchedule(w, r, v, code, f)
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("%s replaces %s on %s from %s to %s (%s).", o.User, o.Replaces, name,
		o.Start.In(loc).Format("Mon 2 Jan 15:04"), o.End.In(loc).Format("Mon 2 Jan 15:04"), loc)})
	back(w, r, scheduleURL(name, r.PostFormValue("view"), r.PostFormValue("start")))
}

// removeOverride is POST /oncall/schedules/{name}/overrides/remove: it
// takes the override the form identifies (kind, user, replaces, from and
// to, as stored: overrides have no id) out of the schedule and saves it
// through Pager.Put, as addOverride saves, so the change is the admin's
// like any other; 303 back to the calendar with a flash. An override no
// longer there (removed in another tab) is said in the flash, not an
// error page.
func (u *UI) removeOverride(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) || !u.admin(w, r, v) {
		return
	}
	ctx := r.Context()
	name := r.PathValue("name")
	want := oncall.Override{Kind: r.PostFormValue("kind"), User: r.PostFormValue("user"), Replaces: r.PostFormValue("replaces")}
	var err error
	if want.Start, err = time.Parse(time.RFC3339Nano, r.PostFormValue("from")); err != nil {
		u.fail(w, r, v, validation.NewFieldError("from", "must be an RFC 3339 time"))
		return
	}
	if want.End, err = time.Parse(time.RFC3339Nano, r.PostFormValue("to")); err != nil {
		u.fail(w, r, v, validation.NewFieldError("to", "must be an RFC 3339 time"))
		return
	}
	def, err := u.o.Pager.Get(ctx, v.Actor, paging.KindSchedule, name)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	sc, err := decodeSchedule(def)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	loc := zoneOf(sc.TimeZone)
	dest := scheduleURL(name, r.PostFormValue("view"), r.PostFormValue("start"))
	raw, found, err := removeOverrideJSON(def.Definition, want)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if !found {
		u.setFlash(w, r, flash{Text: "That override is no longer on the schedule; nothing was changed."})
		back(w, r, dest)
		return
	}
	if _, _, err := u.o.Pager.Put(ctx, v.Actor, paging.KindSchedule, name, raw); err != nil {
		u.fail(w, r, v, fmt.Errorf("remove an override from schedule %q: %w", name, err))
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("Removed the %s override (%s) on %s from %s to %s (%s).", want.Kind, overrideWho(want), name,
		want.Start.In(loc).Format("Mon 2 Jan 15:04"), want.End.In(loc).Format("Mon 2 Jan 15:04"), loc)})
	back(w, r, dest)
}

// overrideWho says whom an override is about, for a flash.
func overrideWho(o oncall.Override) string {
	switch {
	case o.User != "" && o.Replaces != "":
		return o.User + " for " + o.Replaces
	case o.User != "":
		return o.User
	}
	return o.Replaces
}

// removeOverrideJSON takes the first override equal to o out of a stored
// schedule's JSON, keeping every other field as it was stored; found is
// false when there is none.
func removeOverrideJSON(def json.RawMessage, o oncall.Override) (json.RawMessage, bool, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, false, fmt.Errorf("read schedule: %w", err)
	}
	var list []json.RawMessage
	if raw, ok := m["overrides"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, false, fmt.Errorf("read overrides: %w", err)
		}
	}
	for i, raw := range list {
		var got oncall.Override
		if err := json.Unmarshal(raw, &got); err != nil {
			return nil, false, fmt.Errorf("read override %d: %w", i, err)
		}
		if got.Kind != o.Kind || !strings.EqualFold(got.User, o.User) || !strings.EqualFold(got.Replaces, o.Replaces) ||
			!got.Start.Equal(o.Start) || !got.End.Equal(o.End) {
			continue
		}
		list = slices.Delete(list, i, i+1)
		var err error
		if m["overrides"], err = json.Marshal(list); err != nil {
			return nil, false, fmt.Errorf("encode overrides: %w", err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, false, fmt.Errorf("encode schedule: %w", err)
		}
		return b, true, nil
	}
	return nil, false, nil
}

// overrideFieldErr names the form's field for an error in the saved
// override: the API's start and end are the form's from and to.
func overrideFieldErr(fe *validation.FieldError) *validation.FieldError {
	m := overridesField.FindStringSubmatch(fe.Field)
	if m == nil {
		return fe
	}
	field := map[string]string{"start": "from", "end": "to"}[m[1]]
	if field == "" {
		field = m[1]
	}
	return &validation.FieldError{Field: field, Message: fe.Message}
}

// appendOverride adds o to a stored schedule's JSON, keeping every other
// field as it was stored.
func appendOverride(def json.RawMessage, o oncall.Override) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, fmt.Errorf("read schedule: %w", err)
	}
	var list []json.RawMessage
	if raw, ok := m["overrides"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("read overrides: %w", err)
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode override: %w", err)
	}
	list = append(list, b)
	if m["overrides"], err = json.Marshal(list); err != nil {
		return nil, fmt.Errorf("encode overrides: %w", err)
	}
	return json.Marshal(m)
}

func pathEscape(s string) string { return url.PathEscape(s) }

func scheduleURL(name, view, start string) string {
	p := "/oncall/schedules/" + pathEscape(name)
	q := []string{}
	if view == "month" {
		q = append(q, "view=month")
	}
	if start != "" {
		if _, err := time.Parse(dateLayout, start); err == nil {
			q = append(q, "start="+start)
		}
	}
	if len(q) > 0 {
		p += "?" + strings.Join(q, "&")
	}
	return p
}

// FromVal and ToVal prefill a month cell's override form with the day.
func (d calDay) FromVal() string { return d.Date.Format(localLayout) }

// ToVal is the next local midnight.
func (d calDay) ToVal() string { return d.Date.AddDate(0, 0, 1).Format(localLayout) }

// overrideFormView is one override form on the calendar: the one at the
// top (choose whom to replace), one per block of the week, one per day
// of the month.
type overrideFormView struct {
	View     *view
	Data     scheduleData
	ID       string // unique per form, for the labels
	Replaces string // fixed; "" offers Choices
	Choices  []string
	Pick     string
	From, To string
	Form     *overrideForm
}

// overrideFormOf builds a form; form is the refused form (top form only)
// or nil.
func overrideFormOf(v *view, d scheduleData, replaces, from, to string, form any, choices []string) overrideFormView {
	f, _ := form.(*overrideForm)
	o := overrideFormView{View: v, Data: d, Replaces: replaces, Choices: choices, From: from, To: to, Form: f}
	if f != nil {
		o.Pick, o.From, o.To = f.Replaces, f.From, f.To
	} else {
		o.Form = &overrideForm{}
	}
	h := fnv.New32a()
	h.Write([]byte(replaces + "|" + from + "|" + to))
	o.ID = fmt.Sprintf("ovr-%x", h.Sum32())
	return o
}

// oncallFuncs are the on-call templates' functions.
func (u *UI) oncallFuncs() template.FuncMap {
	return template.FuncMap{
		"schedURL": scheduleURL,
		"ovr":      overrideFormOf,
		"pageCard": func(v *view, p store.Page, back string) pageCardView {
			return pageCardView{View: v, Page: p, Back: back}
		},
		"pathPart":   pathEscape,
		"itemPage":   u.itemPage,
		"pageAge":    func(p store.Page) string { return u.age(p.CreatedAt) },
		"canRespond": func(v *view) bool { return v.Actor.Role.Allows(auth.ActionTriage) },
		"stepField":  func(i int, f string) string { return fmt.Sprintf("steps[%d].%s", i, f) },
		"targetField": func(i, j int, f string) string {
			return fmt.Sprintf("steps[%d].targets[%d].%s", i, j, f)
		},
	}
}
