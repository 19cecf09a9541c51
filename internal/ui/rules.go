package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Rules manages automation rules (internal/rules.Service). Reads need a
// signed-in user; Save checks for an admin itself.
type Rules interface {
	List(ctx context.Context, actor auth.Actor) ([]store.StoredRule, error)
	Get(ctx context.Context, actor auth.Actor, id int64) (store.StoredRule, error)
	Save(ctx context.Context, actor auth.Actor, id int64, d automation.Definition) (automation.Rule, error)
	Versions(ctx context.Context, actor auth.Actor, id int64) ([]store.RuleVersion, error)
	Preview(ctx context.Context, actor auth.Actor, d automation.Definition, days int) (rules.Preview, error)
	Noise(ctx context.Context, actor auth.Actor, days, limit int) (rules.NoiseReport, error)
}

// noiseRows is how many of the noisiest kinds the rules page lists.
const noiseRows = 10

// expiryLayout is what an <input type="datetime-local"> sends; the form
// says the time is UTC.
const expiryLayout = "2006-01-02T15:04"

type ruleRow struct {
	store.StoredRule
	Expiry string // "expires in 3 days", "expired", ""
	Stale  bool   // expired
}

type rulesListData struct {
	Rules []ruleRow
	// Noise is the last 30 days' noise; NoiseErr says why it is missing.
	Noise    rules.NoiseReport
	NoiseErr string
}

// ruleForm is the editor: what the form holds, so that a refused save
// keeps every input.
type ruleForm struct {
	ID         int64
	Def        automation.Definition
	Builder    automation.Builder
	CELMode    bool // the condition was written by hand: the builder is ignored
	SourcesTxt string
	ExpiresTxt string
	Days       int
	Preview    *rules.Preview
	// Err is the refused save's field error, shown next to its field.
	Err      *validation.FieldError
	Versions []store.RuleVersion
	// What the selects offer.
	Properties      []automation.Property
	Operators       []string
	AllOperators    []string
	Triggers        []automation.Trigger
	ActionKinds     []string
	Classifications []string
	Severities      []string
	States          []string
}

// FieldErr is the message for field (or for anything under it:
// "actions[0]" gets "actions[0].reason"), or "".
func (f *ruleForm) FieldErr(field string) string {
	if f.Err == nil {
		return ""
	}
	e := f.Err.Field
	if e == field || strings.HasPrefix(e, field+".") || strings.HasPrefix(e, field+"[") {
		return f.Err.Message
	}
	return ""
}

// HasTrigger reports whether the form has trigger t ticked.
func (f *ruleForm) HasTrigger(t automation.Trigger) bool {
	return slices.Contains(f.Def.Triggers, string(t))
}

// Lines joins a list for a textarea.
func (f *ruleForm) Lines(s []string) string { return strings.Join(s, "\n") }

// Comma joins a list for a one-line input.
func (f *ruleForm) Comma(s []string) string { return strings.Join(s, ", ") }

func (u *UI) rulesOff(w http.ResponseWriter, r *http.Request, v *view) bool {
	if u.o.Rules == nil {
		u.fail(w, r, v, fmt.Errorf("automation rules: %w", validation.ErrNotFound))
		return true
	}
	return false
}

// expiryText says when a rule stops matching, as the list shows it.
func expiryText(now time.Time, at *time.Time) (string, bool) {
	if at == nil {
		return "", false
	}
	d := at.Sub(now)
	switch {
	case d <= 0:
		return "expired", true
	case d < time.Hour:
		return fmt.Sprintf("expires in %d min", max(1, int(d.Minutes()))), false
	case d < 48*time.Hour:
		return fmt.Sprintf("expires in %d hours", int(d.Hours())), false
	}
	return fmt.Sprintf("expires in %d days", int(d.Hours()/24)), false
}

func (u *UI) rulesList(w http.ResponseWriter, r *http.Request, v *view) {
	if u.rulesOff(w, r, v) {
		return
	}
	rs, err := u.o.Rules.List(r.Context(), v.Actor)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	now := u.clock.Now()
	d := rulesListData{Rules: make([]ruleRow, len(rs))}
	for i, sr := range rs {
		d.Rules[i].StoredRule = sr
		d.Rules[i].Expiry, d.Rules[i].Stale = expiryText(now, sr.ExpiresAt)
	}
	// The noise report helps, but the rules page works without it.
	if d.Noise, err = u.o.Rules.Noise(r.Context(), v.Actor, 0, noiseRows); err != nil {
		u.log.Warn("noise statistics", "err", err)
		d.NoiseErr = "Noise statistics are unavailable: " + err.Error()
	}
	v.Title, v.Nav, v.Data = "Automation rules", "rules", d
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "rules.html", v)
}

// newForm is an empty editor with what the selects offer.
func (u *UI) newForm() *ruleForm {
	f := &ruleForm{Days: 30, Properties: automation.BuilderProperties(), Operators: automation.Operators,
		AllOperators: append(slices.Clone(automation.Operators), automation.OpGreater, automation.OpLess),
		Triggers:     automation.Triggers, ActionKinds: automation.ActionKinds, Classifications: automation.Classifications,
		Severities: []string{"informational", "low", "medium", "high", "critical"}, Builder: automation.Builder{Match: "all"}}
	if p := u.o.Items.Process(); p != nil {
		f.States = p.StateNames()
	}
	return f
}

func (u *UI) ruleNew(w http.ResponseWriter, r *http.Request, v *view) {
	if u.rulesOff(w, r, v) {
		return
	}
	f := u.newForm()
	// A new rule starts disabled: preview it, then enable it.
	f.Def = automation.Definition{Triggers: []string{string(automation.AlertCreated)},
		Actions: []automation.ActionSpec{{Type: automation.ActTags}}}
	if s := r.URL.Query().Get("from_item"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			u.fail(w, r, v, validation.NewFieldError("from_item", "must be an item id"))
			return
		}
		if err := u.suppressSimilar(r.Context(), v.Actor, id, f); err != nil {
			u.fail(w, r, v, err)
			return
		}
	} else if q := r.URL.Query(); q.Get("similar_title") != "" {
		// A noise suggestion: the same proposal, disabled until the
		// analyst has previewed it.
		d := rules.Similar(q.Get("similar_title"), q.Get("similar_source"), q.Get("similar_entity"), u.clock.Now(),
			"Proposed by the noise report.")
		f.Builder, d.Builder = *d.Builder, nil
		f.Def = d
		f.ExpiresTxt = d.ExpiresAt.Format(expiryLayout)
	}
	u.renderRuleForm(w, r, v, http.StatusOK, f)
}

// suppressSimilar fills f with a rule that closes items like item id as
// false positives for a week (rules.Similar), enabled: the analyst
// previews it and confirms.
func (u *UI) suppressSimilar(ctx context.Context, actor auth.Actor, id int64, f *ruleForm) error {
	it, err := u.o.Items.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	d := rules.Similar(it.Title, it.Source, it.KeyEntity, u.clock.Now(), fmt.Sprintf("Proposed from item #%d.", it.ID))
	d.Enabled = true
	f.Builder, d.Builder = *d.Builder, nil
	f.Def = d
	f.ExpiresTxt = d.ExpiresAt.Format(expiryLayout)
	return nil
}

func (u *UI) ruleEdit(w http.ResponseWriter, r *http.Request, v *view) {
	if u.rulesOff(w, r, v) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	sr, err := u.o.Rules.Get(r.Context(), v.Actor, id)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	f := u.newForm()
	f.ID, f.Def = id, sr.Definition
	if sr.Builder != nil {
		f.Builder = *sr.Builder
		// A condition that is not the builder's was written by hand.
		if cel, err := sr.Builder.CEL(); err != nil || cel != sr.Condition {
			f.CELMode = true
		}
	} else if sr.Condition != "" {
		f.CELMode = true
	}
	f.SourcesTxt = strings.Join(sr.Sources, ", ")
	if sr.ExpiresAt != nil {
		f.ExpiresTxt = sr.ExpiresAt.UTC().Format(expiryLayout)
	}
	v.Flash = u.takeFlash(w, r).Text
	u.renderRuleForm(w, r, v, http.StatusOK, f)
}

func (u *UI) renderRuleForm(w http.ResponseWriter, r *http.Request, v *view, code int, f *ruleForm) {
	if f.ID != 0 {
		vs, err := u.o.Rules.Versions(r.Context(), v.Actor, f.ID)
		if err != nil {
			u.fail(w, r, v, err)
			return
		}
		f.Versions = vs
	}
	if len(f.Builder.Rows) == 0 {
		// One empty row to start from.
		f.Builder.Rows = []automation.BuilderRow{{Property: "title", Operator: automation.OpContains}}
	}
	if len(f.Def.Actions) == 0 {
		f.Def.Actions = []automation.ActionSpec{{Type: automation.ActTags}}
	}
	if f.Def.Condition == "" && !f.CELMode {
		if cel, err := f.Builder.CEL(); err == nil {
			f.Def.Condition = cel
		}
	}
	v.Nav, v.Data = "rules", f
	v.Title = "New rule"
	if f.ID != 0 {
		v.Title = "Rule: " + f.Def.Name
	}
	u.render(w, code, "rules_edit.html", v)
}

// parseRuleForm reads the editor. Rows and actions arrive as parallel
// lists of fields (every action block carries every field, hidden or
// not), so that the form works without JavaScript too. It reads every
// field even after a bad one, so that a refused form keeps all its input.
func parseRuleForm(r *http.Request, f *ruleForm) error {
	var bad error
	if err := r.ParseForm(); err != nil {
		return validation.NewFieldError("form", "cannot read the form: %v", err)
	}
	p := r.PostForm
	d := &f.Def
	d.Name, d.Description = p.Get("name"), p.Get("description")
	d.Enabled, d.Stop = p.Get("enabled") != "", p.Get("stop") != ""
	if s := strings.TrimSpace(p.Get("order")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			bad = validation.NewFieldError("order", "must be a whole number")
		}
		d.Order = n
	}
	d.Triggers = p["triggers"]
	f.SourcesTxt = p.Get("sources")
	d.Sources = splitList(f.SourcesTxt)
	f.ExpiresTxt = strings.TrimSpace(p.Get("expires_at"))
	if f.ExpiresTxt != "" {
		t, err := time.ParseInLocation(expiryLayout, f.ExpiresTxt, time.UTC)
		if err != nil && bad == nil {
			bad = validation.NewFieldError("expires_at", "must be a date and time (YYYY-MM-DDTHH:MM, UTC)")
		} else if err == nil {
			d.ExpiresAt = &t
		}
	}
	if n, err := strconv.Atoi(p.Get("days")); err == nil && n > 0 {
		f.Days = n
	}
	f.Builder = automation.Builder{Match: p.Get("match")}
	props, ops, vals := p["row_property"], p["row_operator"], p["row_values"]
	for i := range props {
		row := automation.BuilderRow{Property: props[i], Operator: at(ops, i), Values: splitList(at(vals, i))}
		if row.Property == "" || (len(row.Values) == 0 && row.Property != "comment_added") {
			continue // an untouched row
		}
		f.Builder.Rows = append(f.Builder.Rows, row)
	}
	f.CELMode = p.Get("cel_mode") == "cel"
	if f.CELMode {
		d.Condition, d.Builder = p.Get("condition"), nil
	} else {
		b := f.Builder
		d.Condition, d.Builder = "", &b
	}
	d.Actions = nil
	for i, typ := range p["act_type"] {
		a := automation.ActionSpec{Type: typ, Assignee: at(p["act_assignee"], i), State: at(p["act_state"], i),
			Reason: at(p["act_reason"], i), Severity: at(p["act_severity"], i),
			Add: splitList(at(p["act_add"], i)), Remove: splitList(at(p["act_remove"], i)),
			Tasks: splitLines(at(p["act_tasks"], i)), Text: at(p["act_text"], i),
			Classification: at(p["act_classification"], i), Name: at(p["act_name"], i), Target: at(p["act_target"], i)}
		// Only the fields of the chosen type count: the hidden ones keep
		// whatever the form had.
		d.Actions = append(d.Actions, onlyFields(a))
	}
	return bad
}

// onlyFields keeps the fields action type a.Type uses.
func onlyFields(a automation.ActionSpec) automation.ActionSpec {
	o := automation.ActionSpec{Type: a.Type}
	switch a.Type {
	case automation.ActAssign:
		o.Assignee = a.Assignee
	case automation.ActMove:
		o.State, o.Reason = a.State, a.Reason
	case automation.ActSeverity:
		o.Severity = a.Severity
	case automation.ActTags:
		o.Add, o.Remove = a.Add, a.Remove
	case automation.ActTasks:
		o.Tasks = a.Tasks
	case automation.ActComment:
		o.Text = a.Text
	case automation.ActClose, automation.ActRemove:
		o.Classification, o.Reason = a.Classification, a.Reason
	case automation.ActPlaybook:
		o.Name = a.Name
	case automation.ActPage:
		o.Target = a.Target
	}
	return o
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// splitList splits values written one per line or separated by commas.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// splitLines splits one item a line (tasks may hold commas).
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ruleSave is POST /rules (a new rule) and POST /rules/{id}.
func (u *UI) ruleSave(w http.ResponseWriter, r *http.Request, v *view) {
	if u.rulesOff(w, r, v) || !u.admin(w, r, v) {
		return
	}
	f := u.newForm()
	if r.PathValue("id") != "" {
		id, err := pathID(r, "id")
		if err != nil {
			u.fail(w, r, v, err)
			return
		}
		f.ID = id
	}
	err := parseRuleForm(r, f)
	var rule automation.Rule
	if err == nil {
		rule, err = u.o.Rules.Save(r.Context(), v.Actor, f.ID, f.Def)
	}
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 {
			u.fail(w, r, v, err)
			return
		}
		// Re-render the form as it was sent, the message by its field.
		var fe *validation.FieldError
		if errors.As(err, &fe) {
			f.Err = fe
		}
		v.Error = msg
		u.renderRuleForm(w, r, v, code, f)
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("Saved rule %q as version %d.", rule.Name, rule.Version)})
	http.Redirect(w, r, fmt.Sprintf("/rules/%d", rule.ID), http.StatusSeeOther)
}

// rulePreview is POST /rules/preview: what the form's rule would have
// done over the last days. Scripts get the preview fragment; a page
// without JavaScript gets the editor with the preview under it.
func (u *UI) rulePreview(w http.ResponseWriter, r *http.Request, v *view) {
	if u.rulesOff(w, r, v) {
		return
	}
	f := u.newForm()
	if s := r.URL.Query().Get("id"); s != "" {
		f.ID, _ = strconv.ParseInt(s, 10, 64)
	}
	err := parseRuleForm(r, f)
	var p rules.Preview
	if err == nil {
		p, err = u.o.Rules.Preview(r.Context(), v.Actor, f.Def, f.Days)
	}
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 || isScript(r) {
			u.fail(w, r, v, err)
			return
		}
		var fe *validation.FieldError
		if errors.As(err, &fe) {
			f.Err = fe
		}
		v.Error = msg
		u.renderRuleForm(w, r, v, code, f)
		return
	}
	f.Preview = &p
	if isScript(r) {
		u.renderData(w, http.StatusOK, "rules-preview", f)
		return
	}
	u.renderRuleForm(w, r, v, http.StatusOK, f)
}

// ruleCEL is POST /rules/cel: the builder's rows as CEL, written by
// automation.Builder.CEL so that the Go code stays the one source of
// truth; a 400 with the message when a row is wrong.
func (u *UI) ruleCEL(w http.ResponseWriter, r *http.Request, v *view) {
	f := u.newForm()
	if err := parseRuleForm(r, f); err != nil {
		u.fail(w, r, v, err)
		return
	}
	cel, err := f.Builder.CEL()
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 {
			u.fail(w, r, v, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		w.Write([]byte(msg))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(cel))
}

// ruleRowView and ruleActView are one builder row and one action block as
// their templates get them; Index is -1 in the <template> that rules.js
// clones.
type ruleRowView struct {
	Form  *ruleForm
	Row   automation.BuilderRow
	Index int
}

type ruleActView struct {
	Form  *ruleForm
	Act   automation.ActionSpec
	Index int
}

var operatorLabels = map[string]string{
	automation.OpEquals: "equals", automation.OpNotEquals: "does not equal",
	automation.OpContains: "contains", automation.OpNotContains: "does not contain",
	automation.OpStartsWith: "starts with", automation.OpNotStartsWith: "does not start with",
	automation.OpEndsWith: "ends with", automation.OpNotEndsWith: "does not end with",
	automation.OpGreater: "greater than", automation.OpLess: "less than",
}

// ruleFuncs are the editor's template functions.
func ruleFuncs() template.FuncMap {
	return template.FuncMap{
		"rowOf": func(f *ruleForm, r any, i int) ruleRowView {
			row, _ := r.(automation.BuilderRow)
			if row.Property == "" {
				row = automation.BuilderRow{Property: "title", Operator: automation.OpContains}
			}
			return ruleRowView{Form: f, Row: row, Index: i}
		},
		"actOf": func(f *ruleForm, a any, i int) ruleActView {
			act, _ := a.(automation.ActionSpec)
			if act.Type == "" {
				act.Type = automation.ActTags
			}
			return ruleActView{Form: f, Act: act, Index: i}
		},
		"opLabel": func(op string) string {
			if l, ok := operatorLabels[op]; ok {
				return l
			}
			return op
		},
		"classLabel": automation.ClassificationPhrase,
		"pct":        func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"span":       spanText,
	}
}

// spanText is a median time to close, "" when nothing closed.
func spanText(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
