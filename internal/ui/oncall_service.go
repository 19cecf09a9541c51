package ui

// Services: the list, and the service editor.
//
// The editor follows the policy editor: a plain form whose fields are
// named by the API's own paths (condition, support_hours.start,
// maintenance[1].end), saved through Pager.Put so the API's validation is
// the one that holds, and a refused save's field error lands next to the
// field it names. Adding and removing maintenance windows are submit
// buttons (op=add-window, op=remove-window-2) that show the form again,
// unsaved; Save saves everything at once, including a window typed in the
// add row but not added yet, so that nothing typed is lost.
//
// Decisions where the issue is silent:
//   - Maintenance windows are instants; the add row's datetime-local
//     values are read in a time zone the viewer picks on the form, UTC
//     unless they pick another: there is no per-user time zone, and the
//     service's support-hours zone may not be the zone of whoever plans
//     the maintenance. Listed windows are shown in the same zone, so what
//     is typed and what is listed always agree.
//   - Support hours are "none" when time zone, start and end are all
//     empty; the day checkboxes alone do not make support hours.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/validation"
)

type servicesData struct {
	Services []serviceRow
}

type serviceRow struct {
	paging.Service
	Broken string
}

// servicesList is GET /oncall/services.
func (u *UI) servicesList(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	if n := strings.TrimSpace(r.URL.Query().Get("new")); n != "" {
		// As for policies: the list's "new service" form names the
		// service; the editor opens empty for a name not taken yet.
		http.Redirect(w, r, "/oncall/services/"+url.PathEscape(n), http.StatusSeeOther)
		return
	}
	defs, err := u.o.Pager.List(r.Context(), v.Actor, paging.KindService)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	d := servicesData{Services: make([]serviceRow, len(defs))}
	for i, def := range defs {
		d.Services[i].Name = def.Name
		if err := json.Unmarshal(def.Definition, &d.Services[i].Service); err != nil {
			d.Services[i].Broken = err.Error()
		}
	}
	v.Title, v.Nav, v.Data = "Services", "oncall", d
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "oncall_services.html", v)
}

// weekdayKeys are support hours' days, in the order the form shows them.
var weekdayKeys = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// serviceForm is the editor's content, as text, so that a refused form
// shows what was typed.
type serviceForm struct {
	Name        string
	New         bool // no service of this name yet
	Description string
	Policy      string
	Condition   string
	Urgency     string
	HighFrom    string
	// Support hours; all of TimeZone, Start and End empty is none.
	TimeZone, Start, End string
	Days                 []string
	GroupBy              string // comma-separated labels
	GroupWindow          string
	// Windows are the maintenance windows in the list; NewWindow is the
	// add row, as typed, read in WindowTZ.
	Windows   []paging.Window
	NewWindow windowInput
	WindowTZ  string
	Err       *validation.FieldError
	// Offered in the selects.
	Policies   []string
	Urgencies  []string
	Severities []string
	Weekdays   []string
	UpdatedBy  string
	Version    int
	now        time.Time
}

type windowInput struct{ Start, End, Reason string }

// FieldErr is the message for field, or "".
func (f *serviceForm) FieldErr(field string) string {
	if f.Err != nil && f.Err.Field == field {
		return f.Err.Message
	}
	return ""
}

// serviceFields are the fields the form shows errors next to.
var serviceFields = []string{"description", "policy", "condition", "urgency", "high_from", "support_hours.time_zone",
	"support_hours.days", "support_hours.start", "support_hours.end", "group_by", "group_window_minutes",
	"window_tz", "window.start", "window.end", "window.reason"}

// OtherErr is an error that names no field the form shows next to it.
func (f *serviceForm) OtherErr() string {
	if f.Err == nil {
		return ""
	}
	if slices.Contains(serviceFields, f.Err.Field) || windowKey.MatchString(f.Err.Field) {
		return ""
	}
	return f.Err.Error()
}

// HasDay reports whether day is checked.
func (f *serviceForm) HasDay(day string) bool { return slices.Contains(f.Days, day) }

// loc is the zone the maintenance windows are typed and shown in.
func (f *serviceForm) loc() *time.Location {
	if loc, err := windowZone(f.WindowTZ); err == nil {
		return loc
	}
	return time.UTC
}

// windowZone loads a zone the viewer chose; "Local" is refused, since
// it is the server's zone, which the viewer cannot know.
func windowZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, validation.NewFieldError("window_tz", "must be an IANA time zone such as Europe/Helsinki")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, validation.NewFieldError("window_tz", "must be an IANA time zone such as Europe/Helsinki")
	}
	return loc, nil
}

// Local shows a window's instant in the form's zone.
func (f *serviceForm) Local(t time.Time) string { return t.In(f.loc()).Format("Mon 2 Jan 2006 15:04") }

// WindowField is the name of one listed window's hidden field.
func (f *serviceForm) WindowField(i int, field string) string {
	return fmt.Sprintf("maintenance[%d].%s", i, field)
}

// Past reports whether a window is over.
func (f *serviceForm) Past(w paging.Window) bool { return !w.End.After(f.now) }

// serviceEdit is GET /oncall/services/{name}: the editor for admins, the
// same form read-only for everyone else.
func (u *UI) serviceEdit(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	name := r.PathValue("name")
	f := &serviceForm{Name: name, WindowTZ: "UTC"}
	// ?tz= is how a read-only viewer, whose form is disabled, picks the
	// zone the windows are shown in.
	if tz := strings.TrimSpace(r.URL.Query().Get("tz")); tz != "" {
		if _, err := windowZone(tz); err == nil {
			f.WindowTZ = tz
		}
	}
	def, err := u.o.Pager.Get(r.Context(), v.Actor, paging.KindService, name)
	switch {
	case errors.Is(err, validation.ErrNotFound) && v.IsAdmin():
		f.New, f.Urgency, f.HighFrom = true, "severity", string(alert.SeverityHigh)
		f.Days = slices.Clone(weekdayKeys[:5])
	case err != nil:
		u.fail(w, r, v, err)
		return
	default:
		var s paging.Service
		if err := json.Unmarshal(def.Definition, &s); err != nil {
			u.fail(w, r, v, fmt.Errorf("service %q: %w", name, err))
			return
		}
		f.fill(s)
		f.UpdatedBy, f.Version = def.UpdatedBy, def.Version
	}
	v.Flash = u.takeFlash(w, r).Text
	u.renderService(w, r, v, http.StatusOK, f)
}

// fill puts a stored service into the form.
func (f *serviceForm) fill(s paging.Service) {
	f.Description, f.Policy, f.Condition, f.Urgency, f.HighFrom = s.Description, s.Policy, s.Condition, s.Urgency, s.HighFrom
	if h := s.SupportHours; h != nil {
		f.TimeZone, f.Start, f.End = h.TimeZone, h.Start, h.End
		for _, d := range h.Days {
			f.Days = append(f.Days, strings.ToLower(d)[:min(3, len(d))])
		}
	}
	f.GroupBy = strings.Join(s.GroupBy, ", ")
	if s.GroupWindowMinutes != 0 {
		f.GroupWindow = strconv.Itoa(s.GroupWindowMinutes)
	}
	f.Windows = s.Maintenance
}

func (u *UI) renderService(w http.ResponseWriter, r *http.Request, v *view, code int, f *serviceForm) {
	if defs, err := u.o.Pager.List(r.Context(), v.Actor, paging.KindPolicy); err == nil {
		for _, d := range defs {
			f.Policies = append(f.Policies, d.Name)
		}
	}
	// A policy deleted since, or mistyped in a forged form, is still
	// offered, so that the select shows what the service names.
	if f.Policy != "" && !slices.Contains(f.Policies, f.Policy) {
		f.Policies = append(f.Policies, f.Policy)
	}
	f.Severities = nil
	for _, s := range alert.Severities {
		f.Severities = append(f.Severities, string(s))
	}
	f.Weekdays = weekdayKeys
	f.Urgencies = []string{"severity", paging.UrgencyHigh, paging.UrgencyLow}
	f.now = u.clock.Now()
	v.Title, v.Nav, v.Data = "Service: "+f.Name, "oncall", f
	u.render(w, code, "oncall_service.html", v)
}

var (
	windowKey   = regexp.MustCompile(`^maintenance\[(\d+)\]\.(start|end|reason)$`)
	windowOpKey = regexp.MustCompile(`^remove-window-(\d+)$`)
)

// maxWindows bounds the indexes a form may send, as maxSteps does.
const maxWindows = 200

// parseServiceForm reads the editor's fields into f; listed windows come
// back in index order.
func parseServiceForm(r *http.Request, f *serviceForm) error {
	if err := r.ParseForm(); err != nil {
		return validation.NewFieldError("form", "cannot read the form: %v", err)
	}
	p := r.PostForm
	trim := func(k string) string { return strings.TrimSpace(p.Get(k)) }
	f.Description, f.Policy, f.Condition = trim("description"), trim("policy"), strings.TrimSpace(p.Get("condition"))
	f.Urgency, f.HighFrom = trim("urgency"), trim("high_from")
	f.TimeZone, f.Start, f.End = trim("support_hours.time_zone"), trim("support_hours.start"), trim("support_hours.end")
	f.Days = nil
	for _, d := range p["support_hours.days"] {
		if slices.Contains(weekdayKeys, d) && !slices.Contains(f.Days, d) {
			f.Days = append(f.Days, d)
		}
	}
	f.GroupBy, f.GroupWindow = trim("group_by"), trim("group_window_minutes")
	f.WindowTZ = trim("window_tz")
	if f.WindowTZ == "" {
		f.WindowTZ = "UTC"
	}
	f.NewWindow = windowInput{Start: trim("window.start"), End: trim("window.end"), Reason: trim("window.reason")}
	rows := map[int]*paging.Window{}
	var idx []int
	for k, vals := range p {
		m := windowKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if i >= maxWindows {
			return validation.NewFieldError("maintenance", "at most %d windows", maxWindows)
		}
		w := rows[i]
		if w == nil {
			w = &paging.Window{}
			rows[i] = w
			idx = append(idx, i)
		}
		val := strings.TrimSpace(vals[0])
		switch m[2] {
		case "reason":
			w.Reason = val
		default:
			// Listed windows travel as RFC 3339 instants in hidden
			// fields, so the chosen zone never changes them.
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return validation.NewFieldError(k, "must be an RFC 3339 time")
			}
			if m[2] == "start" {
				w.Start = t
			} else {
				w.End = t
			}
		}
	}
	slices.Sort(idx)
	f.Windows = nil
	for _, i := range idx {
		f.Windows = append(f.Windows, *rows[i])
	}
	return nil
}

// newWindow reads the add row; ok is false when it was left empty.
func (f *serviceForm) newWindow() (paging.Window, bool, error) {
	n := f.NewWindow
	if n.Start == "" && n.End == "" && n.Reason == "" {
		return paging.Window{}, false, nil
	}
	loc, err := windowZone(f.WindowTZ)
	if err != nil {
		return paging.Window{}, false, err
	}
	w := paging.Window{Reason: n.Reason}
	if w.Start, err = time.ParseInLocation(localLayout, n.Start, loc); err != nil {
		return w, false, validation.NewFieldError("window.start", "must be a date and time (YYYY-MM-DDTHH:MM, %s)", loc)
	}
	if w.End, err = time.ParseInLocation(localLayout, n.End, loc); err != nil {
		return w, false, validation.NewFieldError("window.end", "must be a date and time (YYYY-MM-DDTHH:MM, %s)", loc)
	}
	if !w.End.After(w.Start) {
		return w, false, validation.NewFieldError("window.end", "must be after start")
	}
	return w, true, nil
}

// serviceJSON turns the form into the API's service; a number that is
// not one is refused by its field, and a filled add row joins the list.
func (f *serviceForm) serviceJSON() (json.RawMessage, error) {
	s := paging.Service{Name: f.Name, Description: f.Description, Policy: f.Policy, Condition: f.Condition,
		Urgency: f.Urgency, HighFrom: f.HighFrom, Maintenance: slices.Clone(f.Windows)}
	if f.TimeZone != "" || f.Start != "" || f.End != "" {
		s.SupportHours = &paging.SupportHours{TimeZone: f.TimeZone, Days: f.Days, Start: f.Start, End: f.End}
	}
	for l := range strings.SplitSeq(f.GroupBy, ",") {
		if l = strings.TrimSpace(l); l != "" {
			s.GroupBy = append(s.GroupBy, l)
		}
	}
	if f.GroupWindow != "" {
		n, err := strconv.Atoi(f.GroupWindow)
		if err != nil {
			return nil, validation.NewFieldError("group_window_minutes", "must be a whole number of minutes")
		}
		s.GroupWindowMinutes = n
	}
	w, ok, err := f.newWindow()
	if err != nil {
		return nil, err
	}
	if ok {
		s.Maintenance = append(s.Maintenance, w)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode service %q: %w", f.Name, err)
	}
	return b, nil
}

// formErr names the form's field for an error of the API's: a day's
// index is the day checkboxes, and the appended add row's window is the
// add row.
func (f *serviceForm) formErr(fe *validation.FieldError) *validation.FieldError {
	out := *fe
	if strings.HasPrefix(fe.Field, "support_hours.days[") {
		out.Field = "support_hours.days"
	}
	if m := windowKey.FindStringSubmatch(fe.Field); m != nil {
		if i, _ := strconv.Atoi(m[1]); i == len(f.Windows) {
			out.Field = "window." + m[2]
		}
	}
	return &out
}

// serviceSave is POST /oncall/services/{name}: op "save" (the default)
// saves through Pager.Put, "delete" deletes through Pager.Delete; the
// window buttons change the form and show it again, unsaved.
func (u *UI) serviceSave(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) || !u.admin(w, r, v) {
		return
	}
	f := &serviceForm{Name: r.PathValue("name"), New: r.PostFormValue("new") != ""}
	if err := parseServiceForm(r, f); err != nil {
		u.fail(w, r, v, err)
		return
	}
	op := r.PostFormValue("op")
	switch {
	case op == "delete":
		if err := u.o.Pager.Delete(r.Context(), v.Actor, paging.KindService, f.Name); err != nil {
			u.fail(w, r, v, fmt.Errorf("delete service %q: %w", f.Name, err))
			return
		}
		u.setFlash(w, r, flash{Text: fmt.Sprintf("Deleted service %q.", f.Name)})
		http.Redirect(w, r, "/oncall/services", http.StatusSeeOther)
		return
	case op == "add-window":
		nw, ok, err := f.newWindow()
		if err == nil && !ok {
			err = validation.NewFieldError("window.start", "is required")
		}
		if err != nil {
			u.refuseService(w, r, v, f, err)
			return
		}
		f.Windows, f.NewWindow = append(f.Windows, nw), windowInput{}
		u.renderService(w, r, v, http.StatusOK, f)
		return
	case op == "zone":
		// Shows the listed windows in another zone; nothing changes.
		if _, err := windowZone(f.WindowTZ); err != nil {
			u.refuseService(w, r, v, f, err)
			return
		}
		u.renderService(w, r, v, http.StatusOK, f)
		return
	case windowOpKey.MatchString(op):
		i, _ := strconv.Atoi(windowOpKey.FindStringSubmatch(op)[1])
		if i < len(f.Windows) {
			f.Windows = slices.Delete(f.Windows, i, i+1)
		}
		u.renderService(w, r, v, http.StatusOK, f)
		return
	case op != "" && op != "save":
		u.fail(w, r, v, validation.NewFieldError("op", "unknown action %q", op))
		return
	}
	raw, err := f.serviceJSON()
	var created bool
	if err == nil {
		_, created, err = u.o.Pager.Put(r.Context(), v.Actor, paging.KindService, f.Name, raw)
	}
	if err != nil {
		u.refuseService(w, r, v, f, err)
		return
	}
	verb := "Saved"
	if created {
		verb = "Created"
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("%s service %q.", verb, f.Name)})
	http.Redirect(w, r, "/oncall/services/"+url.PathEscape(f.Name), http.StatusSeeOther)
}

// refuseService shows the form again with err by its field, keeping what
// was typed; what is not the form's fault is the error page.
func (u *UI) refuseService(w http.ResponseWriter, r *http.Request, v *view, f *serviceForm, err error) {
	code, msg := errorStatus(err)
	if code >= 500 || code == http.StatusForbidden {
		u.fail(w, r, v, err)
		return
	}
	var fe *validation.FieldError
	if errors.As(err, &fe) {
		f.Err = f.formErr(fe)
	} else {
		f.Err = &validation.FieldError{Field: "service", Message: msg}
	}
	v.Error = msg
	u.renderService(w, r, v, code, f)
}
