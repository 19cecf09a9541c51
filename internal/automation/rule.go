// Package automation is vigil's rule engine: conditions in CEL over a
// documented vocabulary, ordered actions, expiry, and suppression. It is
// pure: it knows alerts and work items but no database. The ingest store
// calls it inside the ingest transaction for creation triggers; the
// rules service (internal/rules) calls it after commit for updates, and
// owns persistence, preview and statistics.
package automation

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Trigger is the kind of change a rule listens to.
type Trigger string

// Triggers, after Sentinel's "when incident is created / updated, when
// alert is created", extended to vigil's work items.
const (
	AlertCreated    Trigger = "alert.created"
	AlertUpdated    Trigger = "alert.updated"
	IncidentCreated Trigger = "incident.created"
	IncidentUpdated Trigger = "incident.updated"
	ItemCreated     Trigger = "item.created"
	ItemMoved       Trigger = "item.moved"
	ItemCommented   Trigger = "item.commented"
	ItemAssigned    Trigger = "item.assigned"
)

// Triggers lists every trigger.
var Triggers = []Trigger{AlertCreated, AlertUpdated, IncidentCreated, IncidentUpdated, ItemCreated, ItemMoved, ItemCommented, ItemAssigned}

// Creation reports whether t fires when a work item is about to be made,
// inside the ingest transaction (the only triggers that may suppress).
func (t Trigger) Creation() bool {
	return t == AlertCreated || t == IncidentCreated || t == ItemCreated
}

// Action kinds.
const (
	ActAssign   = "assign"   // assignee
	ActMove     = "move"     // state, reason
	ActSeverity = "severity" // severity
	ActTags     = "tags"     // add, remove
	ActTasks    = "tasks"    // tasks, or template
	ActComment  = "comment"  // text
	ActClose    = "close"    // classification, reason: to the process's closed state
	ActRemove   = "remove"   // classification, reason: to the process's removed state
	ActSuppress = "suppress" // store and count the alert, make no item
	// Extension points filled by later modules (enrichment, on-call): a
	// rule may name them now; until a module registers, a hit records
	// that nothing could run them.
	ActPlaybook = "playbook" // name
	ActPage     = "page"     // target (a service or escalation policy)
)

// ActionKinds lists the built-in action kinds.
var ActionKinds = []string{ActAssign, ActMove, ActSeverity, ActTags, ActTasks, ActComment, ActClose, ActRemove, ActSuppress, ActPlaybook, ActPage}

// Classifications, as Sentinel's incident classifications.
const (
	TruePositive   = "true_positive"
	BenignPositive = "benign_positive"
	FalsePositive  = "false_positive"
	Undetermined   = "undetermined"
)

// Classifications lists them.
var Classifications = []string{TruePositive, BenignPositive, FalsePositive, Undetermined}

// ClassificationPhrase is the reason phrase a classification puts first on
// a close, which the write-back maps to Sentinel's and Graph's own
// classification (see writeback.Closures).
func ClassificationPhrase(c string) string {
	return strings.ReplaceAll(c, "_", " ")
}

// ActionSpec is one action of a rule, as stored and as written in YAML.
type ActionSpec struct {
	Type           string   `json:"type" yaml:"type"`
	Assignee       string   `json:"assignee,omitempty" yaml:"assignee,omitempty"`
	State          string   `json:"state,omitempty" yaml:"state,omitempty"`
	Reason         string   `json:"reason,omitempty" yaml:"reason,omitempty"`
	Severity       string   `json:"severity,omitempty" yaml:"severity,omitempty"`
	Add            []string `json:"add,omitempty" yaml:"add,omitempty"`
	Remove         []string `json:"remove,omitempty" yaml:"remove,omitempty"`
	Tasks          []string `json:"tasks,omitempty" yaml:"tasks,omitempty"`
	Template       string   `json:"template,omitempty" yaml:"template,omitempty"`
	Text           string   `json:"text,omitempty" yaml:"text,omitempty"`
	Classification string   `json:"classification,omitempty" yaml:"classification,omitempty"`
	Name           string   `json:"name,omitempty" yaml:"name,omitempty"`
	Target         string   `json:"target,omitempty" yaml:"target,omitempty"`
	// Urgency overrides a page's urgency (high or low); empty follows
	// the service's rule for the item's severity.
	Urgency string `json:"urgency,omitempty" yaml:"urgency,omitempty"`
}

// BuilderRow is one row of the UI's condition builder: property, operator
// and one or more values (a row matches when any value does, or, for a
// negated operator, when none does).
type BuilderRow struct {
	Property string   `json:"property" yaml:"property"`
	Operator string   `json:"operator" yaml:"operator"`
	Values   []string `json:"values" yaml:"values"`
}

// Builder is the condition as the UI's builder holds it: rows joined by
// AND ("all") or OR ("any"), in groups joined the other way.
type Builder struct {
	// Match is "all" (rows AND-ed) or "any" (rows OR-ed).
	Match string       `json:"match" yaml:"match"`
	Rows  []BuilderRow `json:"rows" yaml:"rows"`
}

// Definition is a rule as users write it: in the API, in the UI, and in
// YAML files kept in git (vigil rules export / apply).
type Definition struct {
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Enabled     bool     `json:"enabled" yaml:"enabled"`
	Order       int      `json:"order" yaml:"order"`
	Triggers    []string `json:"triggers" yaml:"triggers"`
	// Sources limits the rule to alerts and items of these sources
	// (sentinel, defender, graph, alertmanager, pagerduty,
	// azure-monitor, api); empty means every source.
	Sources []string `json:"sources,omitempty" yaml:"sources,omitempty"`
	// Condition is CEL over the vocabulary (Vocabulary); empty matches
	// everything the triggers and sources let through. When Builder is
	// set and Condition is empty, the condition is the builder's.
	Condition string       `json:"condition,omitempty" yaml:"condition,omitempty"`
	Builder   *Builder     `json:"builder,omitempty" yaml:"builder,omitempty"`
	Actions   []ActionSpec `json:"actions" yaml:"actions"`
	// Stop ends the run: rules after this one do not run on a hit.
	Stop      bool       `json:"stop,omitempty" yaml:"stop,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" yaml:"expires_at,omitempty"`
	// StartsAt, when set, is when the rule begins to apply: before it the
	// rule is pending (an Alertmanager silence made for later).
	StartsAt *time.Time `json:"starts_at,omitempty" yaml:"starts_at,omitempty"`
	// Silence marks the rule as an Alertmanager silence: amtool and the
	// API v2 list and expire it, and its condition is made from its
	// matchers.
	Silence *Silence `json:"silence,omitempty" yaml:"silence,omitempty"`
}

// Silence is what an Alertmanager silence holds besides its times: its
// id, its label matchers, who made it and why.
type Silence struct {
	ID        string           `json:"id" yaml:"id"`
	Matchers  []SilenceMatcher `json:"matchers" yaml:"matchers"`
	CreatedBy string           `json:"created_by" yaml:"created_by"`
	Comment   string           `json:"comment" yaml:"comment"`
}

// SilenceMatcher is one label matcher, as Alertmanager's API writes it.
type SilenceMatcher struct {
	Name    string `json:"name" yaml:"name"`
	Value   string `json:"value" yaml:"value"`
	IsRegex bool   `json:"isRegex" yaml:"is_regex"`
	IsEqual bool   `json:"isEqual" yaml:"is_equal"`
}

// Rule is a stored definition with its identity and history.
type Rule struct {
	ID      int64 `json:"id"`
	Version int   `json:"version"`
	Definition
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Pending reports whether the rule has not started yet at now.
func (r *Rule) Pending(now time.Time) bool {
	return r.StartsAt != nil && now.Before(*r.StartsAt)
}

// Expired reports whether the rule's expiry has passed at now.
func (r *Rule) Expired(now time.Time) bool {
	return r.ExpiresAt != nil && !now.Before(*r.ExpiresAt)
}

// Ref names the rule and its version on timelines ("rule:Close pentest@v3").
func (r *Rule) Ref() string { return fmt.Sprintf("rule:%s@v%d", r.Name, r.Version) }

// Limits on definitions.
const (
	MaxName      = 200
	MaxCondition = 16 << 10
	MaxActions   = 32
	MaxRows      = 64
	MaxValues    = 256
	MaxText      = 8 << 10
)

// Normalize trims and checks d, and fills Condition from Builder. Field
// names in errors are the definition's JSON names ("actions[2].state").
// It does not compile the condition: Compile does, and reports CEL's
// message and position under "condition".
func (d *Definition) Normalize() error {
	d.Name = strings.TrimSpace(d.Name)
	switch {
	case d.Name == "":
		return validation.NewFieldError("name", "must not be empty")
	case len(d.Name) > MaxName:
		return validation.NewFieldError("name", "must be at most %d bytes", MaxName)
	case len(d.Description) > MaxText:
		return validation.NewFieldError("description", "must be at most %d bytes", MaxText)
	}
	if len(d.Triggers) == 0 {
		return validation.NewFieldError("triggers", "name at least one of %s", joinTriggers())
	}
	for i, t := range d.Triggers {
		if !slices.Contains(Triggers, Trigger(t)) {
			return validation.NewFieldError(fmt.Sprintf("triggers[%d]", i), "unknown trigger %q (want one of %s)", t, joinTriggers())
		}
	}
	slices.Sort(d.Triggers)
	d.Triggers = slices.Compact(d.Triggers)
	for i, s := range d.Sources {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			return validation.NewFieldError(fmt.Sprintf("sources[%d]", i), "must not be empty")
		}
		d.Sources[i] = s
	}
	slices.Sort(d.Sources)
	d.Sources = slices.Compact(d.Sources)
	if d.Builder != nil {
		if err := d.Builder.validate(); err != nil {
			return err
		}
		if strings.TrimSpace(d.Condition) == "" {
			cond, err := d.Builder.CEL()
			if err != nil {
				return err
			}
			d.Condition = cond
		}
	}
	d.Condition = strings.TrimSpace(d.Condition)
	if len(d.Condition) > MaxCondition {
		return validation.NewFieldError("condition", "must be at most %d bytes", MaxCondition)
	}
	if len(d.Actions) == 0 {
		return validation.NewFieldError("actions", "name at least one action")
	}
	if len(d.Actions) > MaxActions {
		return validation.NewFieldError("actions", "at most %d actions", MaxActions)
	}
	creationOnly := true
	for _, t := range d.Triggers {
		creationOnly = creationOnly && Trigger(t).Creation()
	}
	for i := range d.Actions {
		if err := d.Actions[i].normalize(fmt.Sprintf("actions[%d]", i), creationOnly); err != nil {
			return err
		}
	}
	if d.ExpiresAt != nil {
		t := d.ExpiresAt.UTC()
		d.ExpiresAt = &t
	}
	if d.StartsAt != nil {
		t := d.StartsAt.UTC()
		d.StartsAt = &t
		if d.ExpiresAt != nil && !d.ExpiresAt.After(t) {
			return validation.NewFieldError("expires_at", "must be after starts_at")
		}
	}
	return nil
}

func joinTriggers() string {
	s := make([]string, len(Triggers))
	for i, t := range Triggers {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (a *ActionSpec) normalize(field string, creationOnly bool) error {
	a.Type = strings.ToLower(strings.TrimSpace(a.Type))
	need := func(name, v string) error {
		if strings.TrimSpace(v) == "" {
			return validation.NewFieldError(field+"."+name, "is required for a %s action", a.Type)
		}
		if len(v) > MaxText {
			return validation.NewFieldError(field+"."+name, "must be at most %d bytes", MaxText)
		}
		return nil
	}
	switch a.Type {
	case ActAssign:
		a.Assignee = strings.TrimSpace(a.Assignee) // empty unassigns
	case ActMove:
		return need("state", a.State)
	case ActSeverity:
		if !alert.Severity(a.Severity).Valid() {
			return validation.NewFieldError(field+".severity", "unknown severity %q (want one of informational, low, medium, high, critical)", a.Severity)
		}
	case ActTags:
		if len(a.Add)+len(a.Remove) == 0 {
			return validation.NewFieldError(field+".add", "name a tag to add or remove")
		}
		for i, t := range a.Add {
			a.Add[i] = strings.ToLower(strings.TrimSpace(t))
			if a.Add[i] == "" || strings.ContainsAny(a.Add[i], ",\n\r\t") {
				return validation.NewFieldError(fmt.Sprintf("%s.add[%d]", field, i), "must be a non-empty tag without commas")
			}
		}
		for i, t := range a.Remove {
			a.Remove[i] = strings.ToLower(strings.TrimSpace(t))
		}
	case ActTasks:
		if len(a.Tasks) == 0 && a.Template == "" {
			return validation.NewFieldError(field+".tasks", "name tasks or a checklist template")
		}
		for i, t := range a.Tasks {
			if strings.TrimSpace(t) == "" {
				return validation.NewFieldError(fmt.Sprintf("%s.tasks[%d]", field, i), "must not be empty")
			}
		}
	case ActComment:
		return need("text", a.Text)
	case ActClose, ActRemove:
		if a.Classification == "" {
			a.Classification = Undetermined
		}
		if !slices.Contains(Classifications, a.Classification) {
			return validation.NewFieldError(field+".classification", "unknown classification %q (want one of %s)", a.Classification, strings.Join(Classifications, ", "))
		}
	case ActSuppress:
		if !creationOnly {
			return validation.NewFieldError(field+".type", "suppress acts only on creation triggers (alert.created, incident.created, item.created)")
		}
	case ActPlaybook:
		return need("name", a.Name)
	case ActPage:
		if a.Urgency != "" && a.Urgency != "high" && a.Urgency != "low" {
			return validation.NewFieldError(field+".urgency", "must be high or low, not %q", a.Urgency)
		}
		return need("target", a.Target)
	case "":
		return validation.NewFieldError(field+".type", "is required (one of %s)", strings.Join(ActionKinds, ", "))
	default:
		return validation.NewFieldError(field+".type", "unknown action %q (want one of %s)", a.Type, strings.Join(ActionKinds, ", "))
	}
	return nil
}
