package ui

// Escalation policies: the list, and the policy editor (services are in
// oncall_service.go).
//
// The editor is a plain form whose fields are named by the API's own
// paths (steps[0].delay_minutes, steps[0].targets[1].name), so that a
// refused save's field error lands next to the field it names. Adding
// and removing steps and targets are submit buttons (op=add-step,
// op=remove-step-2, ...) that re-render the form unsaved: no JavaScript
// is needed.

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

	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/validation"
)

type policyRow struct {
	paging.Policy
	UsedBy    []string
	UpdatedBy string
	Broken    string // a definition that no longer decodes
}

// policiesList is GET /oncall/policies.
func (u *UI) policiesList(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	if n := strings.TrimSpace(r.URL.Query().Get("new")); n != "" {
		// The list's "new policy" form names the policy; the editor
		// opens empty for a name not taken yet.
		http.Redirect(w, r, "/oncall/policies/"+url.PathEscape(n), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	defs, err := u.o.Pager.List(ctx, v.Actor, paging.KindPolicy)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	svcs, err := u.o.Pager.List(ctx, v.Actor, paging.KindService)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	used := map[string][]string{}
	for _, d := range svcs {
		var s paging.Service
		if json.Unmarshal(d.Definition, &s) == nil {
			used[s.Policy] = append(used[s.Policy], d.Name)
		}
	}
	rows := make([]policyRow, len(defs))
	for i, d := range defs {
		rows[i].Name, rows[i].UpdatedBy, rows[i].UsedBy = d.Name, d.UpdatedBy, used[d.Name]
		if err := json.Unmarshal(d.Definition, &rows[i].Policy); err != nil {
			rows[i].Broken = err.Error()
		}
	}
	v.Title, v.Nav, v.Data = "Escalation policies", "oncall", rows
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "oncall_policies.html", v)
}

// policyForm is the editor's content, as text, so that a refused form
// shows what was typed.
type policyForm struct {
	Name        string
	New         bool // no policy of this name yet
	Description string
	Repeat      string
	Steps       []stepForm
	Err         *validation.FieldError
	// Offered in the target name's list.
	Schedules, Teams []string
	TargetTypes      []string
	UpdatedBy        string
	Version          int
}

type stepForm struct {
	Delay   string
	Targets []paging.Target
}

// FieldErr is the message for field, or "".
func (f *policyForm) FieldErr(field string) string {
	if f.Err != nil && f.Err.Field == field {
		return f.Err.Message
	}
	return ""
}

// OtherErr is an error that names no field the form shows next to it.
func (f *policyForm) OtherErr() string {
	if f.Err == nil {
		return ""
	}
	if f.Err.Field == "repeat" || f.Err.Field == "description" || strings.HasPrefix(f.Err.Field, "steps[") {
		return ""
	}
	return f.Err.Error()
}

// policyEdit is GET /oncall/policies/{name}: the editor for admins, the
// same form read-only for everyone else.
func (u *UI) policyEdit(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	name := r.PathValue("name")
	f := &policyForm{Name: name, Repeat: "0"}
	def, err := u.o.Pager.Get(r.Context(), v.Actor, paging.KindPolicy, name)
	switch {
	case errors.Is(err, validation.ErrNotFound) && v.IsAdmin():
		f.New = true
		f.Steps = []stepForm{{Delay: "5", Targets: []paging.Target{{Type: paging.TargetSchedule}}}}
	case err != nil:
		u.fail(w, r, v, err)
		return
	default:
		var p paging.Policy
		if err := json.Unmarshal(def.Definition, &p); err != nil {
			u.fail(w, r, v, fmt.Errorf("policy %q: %w", name, err))
			return
		}
		f.Description, f.Repeat, f.UpdatedBy, f.Version = p.Description, strconv.Itoa(p.Repeat), def.UpdatedBy, def.Version
		for _, s := range p.Steps {
			f.Steps = append(f.Steps, stepForm{Delay: strconv.Itoa(s.DelayMinutes), Targets: s.Targets})
		}
	}
	v.Flash = u.takeFlash(w, r).Text
	u.renderPolicy(w, r, v, http.StatusOK, f)
}

func (u *UI) renderPolicy(w http.ResponseWriter, r *http.Request, v *view, code int, f *policyForm) {
	f.TargetTypes = []string{paging.TargetUser, paging.TargetSchedule, paging.TargetTeam}
	for kind, dst := range map[string]*[]string{paging.KindSchedule: &f.Schedules, paging.KindTeam: &f.Teams} {
		if defs, err := u.o.Pager.List(r.Context(), v.Actor, kind); err == nil {
			for _, d := range defs {
				*dst = append(*dst, d.Name)
			}
		}
	}
	for i := range f.Steps {
		if len(f.Steps[i].Targets) == 0 {
			f.Steps[i].Targets = []paging.Target{{Type: paging.TargetSchedule}}
		}
	}
	v.Title, v.Nav, v.Data = "Escalation policy: "+f.Name, "oncall", f
	u.render(w, code, "oncall_policy.html", v)
}

var (
	stepKey = regexp.MustCompile(`^steps\[(\d+)\]\.(delay_minutes|targets\[(\d+)\]\.(type|name))$`)
	opKey   = regexp.MustCompile(`^(add-step|remove-step|add-target|remove-target)(?:-(\d+))?(?:-(\d+))?$`)
)

// maxSteps bounds the indexes a form may send: a forged steps[999999]
// must not allocate a million rows.
const maxSteps, maxTargets = 50, 50

// parsePolicyForm reads the editor's indexed fields into f, in index
// order; gaps (a removed row) close up.
func parsePolicyForm(r *http.Request, f *policyForm) error {
	if err := r.ParseForm(); err != nil {
		return validation.NewFieldError("form", "cannot read the form: %v", err)
	}
	p := r.PostForm
	f.Description, f.Repeat = strings.TrimSpace(p.Get("description")), strings.TrimSpace(p.Get("repeat"))
	type tkey struct{ step, target int }
	delays := map[int]string{}
	targets := map[tkey]*paging.Target{}
	var stepIdx []int
	tIdx := map[int][]int{}
	for k, vals := range p {
		m := stepKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if i >= maxSteps {
			return validation.NewFieldError("steps", "at most %d steps", maxSteps)
		}
		if !slices.Contains(stepIdx, i) {
			stepIdx = append(stepIdx, i)
		}
		if m[2] == "delay_minutes" {
			delays[i] = strings.TrimSpace(vals[0])
			continue
		}
		j, _ := strconv.Atoi(m[3])
		if j >= maxTargets {
			return validation.NewFieldError(fmt.Sprintf("steps[%d].targets", i), "at most %d targets", maxTargets)
		}
		t := targets[tkey{i, j}]
		if t == nil {
			t = &paging.Target{}
			targets[tkey{i, j}] = t
			tIdx[i] = append(tIdx[i], j)
		}
		if m[4] == "type" {
			t.Type = vals[0]
		} else {
			t.Name = strings.TrimSpace(vals[0])
		}
	}
	slices.Sort(stepIdx)
	f.Steps = nil
	for _, i := range stepIdx {
		s := stepForm{Delay: delays[i]}
		js := tIdx[i]
		slices.Sort(js)
		for _, j := range js {
			s.Targets = append(s.Targets, *targets[tkey{i, j}])
		}
		f.Steps = append(f.Steps, s)
	}
	return nil
}

// policyJSON turns the form into the API's policy; a number that is not
// one is refused by its field. Target rows left empty are dropped.
func (f *policyForm) policyJSON() (json.RawMessage, error) {
	p := paging.Policy{Name: f.Name, Description: f.Description, Steps: []paging.Step{}}
	n, err := 0, error(nil)
	if f.Repeat != "" {
		n, err = strconv.Atoi(f.Repeat)
	}
	if err != nil {
		return nil, validation.NewFieldError("repeat", "must be a whole number")
	}
	p.Repeat = n
	for i, s := range f.Steps {
		d, err := strconv.Atoi(s.Delay)
		if err != nil {
			return nil, validation.NewFieldError(fmt.Sprintf("steps[%d].delay_minutes", i), "must be a whole number of minutes")
		}
		st := paging.Step{DelayMinutes: d, Targets: []paging.Target{}}
		for _, t := range s.Targets {
			if t.Name != "" {
				st.Targets = append(st.Targets, t)
			}
		}
		p.Steps = append(p.Steps, st)
	}
	return json.Marshal(p)
}

// policySave is POST /oncall/policies/{name}: op "save" (the default)
// saves through Pager.Put; the row buttons change the form and show it
// again, unsaved.
func (u *UI) policySave(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) || !u.admin(w, r, v) {
		return
	}
	f := &policyForm{Name: r.PathValue("name"), New: r.PostFormValue("new") != ""}
	if err := parsePolicyForm(r, f); err != nil {
		u.fail(w, r, v, err)
		return
	}
	if op := r.PostFormValue("op"); op != "" && op != "save" {
		if !f.apply(op) {
			u.fail(w, r, v, validation.NewFieldError("op", "unknown action %q", op))
			return
		}
		u.renderPolicy(w, r, v, http.StatusOK, f)
		return
	}
	raw, err := f.policyJSON()
	var created bool
	if err == nil {
		_, created, err = u.o.Pager.Put(r.Context(), v.Actor, paging.KindPolicy, f.Name, raw)
	}
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 || code == http.StatusForbidden {
			u.fail(w, r, v, err)
			return
		}
		var fe *validation.FieldError
		if errors.As(err, &fe) {
			f.Err = fe
		} else {
			f.Err = &validation.FieldError{Field: "policy", Message: msg}
		}
		v.Error = msg
		u.renderPolicy(w, r, v, code, f)
		return
	}
	verb := "Saved"
	if created {
		verb = "Created"
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("%s escalation policy %q.", verb, f.Name)})
	http.Redirect(w, r, "/oncall/policies/"+url.PathEscape(f.Name), http.StatusSeeOther)
}

// apply runs a row button: add-step, remove-step-I, add-target-I,
// remove-target-I-J.
func (f *policyForm) apply(op string) bool {
	m := opKey.FindStringSubmatch(op)
	if m == nil {
		return false
	}
	i, j := -1, -1
	if m[2] != "" {
		i, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		j, _ = strconv.Atoi(m[3])
	}
	switch m[1] {
	case "add-step":
		if len(f.Steps) < maxSteps {
			f.Steps = append(f.Steps, stepForm{Delay: "5", Targets: []paging.Target{{Type: paging.TargetSchedule}}})
		}
	case "remove-step":
		if i >= 0 && i < len(f.Steps) {
			f.Steps = slices.Delete(f.Steps, i, i+1)
		}
	case "add-target":
		if i >= 0 && i < len(f.Steps) && len(f.Steps[i].Targets) < maxTargets {
			f.Steps[i].Targets = append(f.Steps[i].Targets, paging.Target{Type: paging.TargetUser})
		}
	case "remove-target":
		if i >= 0 && i < len(f.Steps) && j >= 0 && j < len(f.Steps[i].Targets) {
			f.Steps[i].Targets = slices.Delete(f.Steps[i].Targets, j, j+1)
		}
	}
	return true
}
