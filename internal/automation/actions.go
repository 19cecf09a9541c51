package automation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/workitem"
)

type workitemItem = workitem.Item

// Extension is an action kind a later module supplies (ActPlaybook for
// enrichment, ActPage for on-call). It runs after the change commits,
// through the outbox, so that it is retried and never doubled; Check
// validates the action when a rule is saved.
type Extension interface {
	Kind() string
	Check(a ActionSpec) error
}

var (
	extensions = map[string]Extension{}
)

// RegisterExtension plugs an action kind in. Modules call it at start.
func RegisterExtension(e Extension) { extensions[e.Kind()] = e }

// ExtensionFor returns the registered extension for kind.
func ExtensionFor(kind string) (Extension, bool) {
	e, ok := extensions[kind]
	return e, ok
}

// apply runs a matched rule's actions on res.Item, in order.
func (s *Set) apply(c *Compiled, ev *Event, res *Result) Hit {
	hit := Hit{RuleID: c.ID, Name: c.Name, Version: c.Version, Condition: c.Condition, Trigger: ev.Trigger,
		ExpiresAt: c.ExpiresAt, Stop: c.Stop}
	ref := c.Ref()
	it := &res.Item
	for _, a := range c.Actions {
		ap := Applied{Type: a.Type}
		switch a.Type {
		case ActAssign:
			if a.Assignee == "" {
				ap.Summary = "unassigned"
			} else {
				ap.Summary = "assigned to " + a.Assignee
			}
			it.Assignee = a.Assignee
		case ActSeverity:
			ap.Summary = fmt.Sprintf("severity %s → %s", it.Severity, a.Severity)
			it.Severity = alert.Severity(a.Severity)
		case ActTags:
			tags := slices.Clone(it.Tags)
			for _, t := range a.Remove {
				tags = slices.DeleteFunc(tags, func(x string) bool { return x == t })
			}
			for _, t := range a.Add {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
			slices.Sort(tags)
			it.Tags = tags
			var bits []string
			if len(a.Add) > 0 {
				bits = append(bits, "tagged "+strings.Join(a.Add, ", "))
			}
			if len(a.Remove) > 0 {
				bits = append(bits, "untagged "+strings.Join(a.Remove, ", "))
			}
			ap.Summary = strings.Join(bits, ", ")
		case ActTasks:
			tasks := a.Tasks
			if a.Template != "" {
				tpl, ok := s.opts.Templates[a.Template]
				if !ok {
					ap.Error = fmt.Sprintf("no checklist template %q", a.Template)
				}
				tasks = append(slices.Clone(tpl), tasks...)
			}
			for _, t := range tasks {
				res.Tasks = append(res.Tasks, NewTask{Title: t, Rule: ref})
			}
			ap.Summary = fmt.Sprintf("added %d tasks", len(tasks))
			if a.Template != "" {
				ap.Summary += " from checklist " + a.Template
			}
		case ActComment:
			res.Comments = append(res.Comments, NewComment{Text: a.Text, Rule: ref})
			ap.Summary = "commented"
		case ActMove:
			s.move(it, res, a.State, a.Reason, "", ref, &ap)
		case ActClose, ActRemove:
			to := s.opts.CloseState
			if a.Type == ActRemove {
				to = s.opts.RemoveState
			}
			reason := ClassificationPhrase(a.Classification)
			if a.Reason != "" {
				reason += ": " + a.Reason
			}
			s.move(it, res, to, reason, a.Classification, ref, &ap)
			if ap.Error == "" {
				hit.Closed = true
				ap.Summary = fmt.Sprintf("%s as %s", strings.TrimSuffix(a.Type, "e")+"ed", ClassificationPhrase(a.Classification))
				if a.Type == ActRemove {
					ap.Summary = "removed as " + ClassificationPhrase(a.Classification)
				}
				if a.Reason != "" {
					ap.Summary += " (" + a.Reason + ")"
				}
			}
		case ActSuppress:
			if !ev.Trigger.Creation() {
				ap.Error = "suppress acts only when an item is created"
				break
			}
			ap.Summary = "suppressed: the alert is stored and counted, and no work item is made"
			res.Suppressed = &hit
		case ActPlaybook, ActPage:
			res.Deferred = append(res.Deferred, DeferredAction{RuleID: c.ID, Rule: ref, Action: a, Trigger: ev.Trigger})
			what := a.Name
			if a.Type == ActPage {
				what = a.Target
			}
			if _, ok := ExtensionFor(a.Type); ok {
				ap.Summary = fmt.Sprintf("%s %s queued", a.Type, what)
			} else {
				ap.Summary = fmt.Sprintf("%s %s queued; nothing is registered to run %s actions yet", a.Type, what, a.Type)
			}
		default:
			ap.Error = "unknown action"
		}
		hit.Actions = append(hit.Actions, ap)
	}
	if res.Suppressed != nil && res.Suppressed.RuleID == hit.RuleID {
		res.Suppressed = &hit
	}
	return hit
}

func (s *Set) move(it *workitemItem, res *Result, to, reason, class, ref string, ap *Applied) {
	p := s.opts.Process
	if to == "" || (p != nil && !p.Known(to)) {
		ap.Error = fmt.Sprintf("%q: %v", to, ErrNoState)
		return
	}
	if reason == "" {
		reason = "by " + ref
	}
	from := it.State
	if from == to {
		ap.Summary = "already " + to
		return
	}
	it.State = to
	res.Moves = append(res.Moves, Move{From: from, To: to, Reason: reason, Classification: class, Rule: ref})
	ap.Summary = fmt.Sprintf("moved %s → %s (%s)", from, to, reason)
}
