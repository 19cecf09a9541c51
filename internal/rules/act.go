package rules

import (
	"context"

	"fmt"
	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Items is the work-item service, through which rules on update triggers
// act, so that every change is checked and on the timeline like a
// person's.
type Items interface {
	Get(ctx context.Context, actor auth.Actor, id int64) (workitem.Item, error)
	Update(ctx context.Context, actor auth.Actor, id int64, p workitem.Patch, ifRev int) (workitem.Item, error)
	Follow(ctx context.Context, id int64, to, origin, cause string, data any) (workitem.Item, bool, error)
	AddTask(ctx context.Context, actor auth.Actor, id int64, title string) (workitem.Task, error)
	Comment(ctx context.Context, actor auth.Actor, id int64, body string) (workitem.Comment, error)
}

// ActStore is what acting on update triggers needs of the store.
type ActStore interface {
	Rules() *automation.Set
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
	RecordRuleHits(ctx context.Context, res *automation.Result) error
}

// Actor is the identity a rule acts as: its Ref ("rule:name@v3"), which
// the loop guard recognizes.
func Actor(ref string) auth.Actor {
	return auth.Actor{Kind: "rule", Name: ref, Role: auth.RoleAdmin}
}

// Act makes the service run update triggers on the items service's
// committed changes; call items.Observe(svc) too.
func (s *Service) Act(items Items, st ActStore) {
	s.items, s.act = items, st
}

// Changed runs the rules whose triggers match a committed change. A
// change a rule made never triggers rules (the loop guard). Errors are
// logged and on the item's timeline: a rule never fails the change that
// triggered it.
func (s *Service) Changed(ctx context.Context, c workitem.Change) {
	if s.act == nil || automation.IsRuleActor(c.Actor) {
		return
	}
	set := s.act.Rules()
	if set == nil || set.Len() == 0 {
		return
	}
	ev := &automation.Event{Source: c.Item.Source, Item: c.Item, Actor: c.Actor}
	switch c.Kind {
	case workitem.ChangeMoved:
		ev.Trigger = automation.ItemMoved
		ev.Changes = []automation.Change{{Field: "state", From: c.From, To: c.To}}
	case workitem.ChangeAssigned:
		ev.Trigger = automation.ItemAssigned
		ev.Changes = []automation.Change{{Field: "assignee", From: c.From, To: c.To}}
		if c.Severity[0] != c.Severity[1] {
			ev.Changes = append(ev.Changes, automation.Change{Field: "severity", From: c.Severity[0], To: c.Severity[1]})
		}
	case workitem.ChangeCommented:
		ev.Trigger, ev.Comment = automation.ItemCommented, c.Comment
	default:
		return
	}
	before := c.Item
	res := set.Evaluate(ev, s.clock.Now())
	if err := s.apply(ctx, before, res); err != nil {
		s.log.Warn("rule actions failed", "item", c.Item.ID, "trigger", ev.Trigger, "err", err)
	}
}

// apply carries out a result on an existing item through the items
// service, and records the hits.
func (s *Service) apply(ctx context.Context, before workitem.Item, res *automation.Result) error {
	id := before.ID
	for _, e := range res.Errors {
		_ = s.act.AppendTimeline(ctx, id, fmt.Sprintf("rule:%s@v%d", e.Name, e.Version), workitem.KindRule, e.Message(), e)
	}
	if len(res.Hits) == 0 {
		return s.act.RecordRuleHits(ctx, res)
	}
	lead := Actor(fmt.Sprintf("rule:%s@v%d", res.Hits[0].Name, res.Hits[0].Version))
	for i := range res.Hits {
		h := &res.Hits[i]
		_ = s.act.AppendTimeline(ctx, id, fmt.Sprintf("rule:%s@v%d", h.Name, h.Version), workitem.KindRule, h.Message(), h)
	}
	var errs []string
	after := res.Item
	var p workitem.Patch
	if after.Assignee != before.Assignee {
		p.Assignee = &after.Assignee
	}
	if after.Severity != before.Severity {
		p.Severity = &after.Severity
	}
	if !slices.Equal(after.Tags, before.Tags) {
		tags := after.Tags
		p.Tags = &tags
	}
	if p.Assignee != nil || p.Severity != nil || p.Tags != nil {
		if _, err := s.items.Update(ctx, lead, id, p, 0); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, m := range res.Moves {
		if _, _, err := s.items.Follow(ctx, id, m.To, m.Rule, m.Reason, map[string]string{"rule": m.Rule, "classification": m.Classification}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, t := range res.Tasks {
		if _, err := s.items.AddTask(ctx, Actor(t.Rule), id, t.Title); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, c := range res.Comments {
		if _, err := s.items.Comment(ctx, Actor(c.Rule), id, c.Text); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if msgs := automation.DeferredMessages(id, res.Deferred); len(msgs) > 0 {
		if _, err := s.act.Enqueue(ctx, msgs, nil); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := s.act.RecordRuleHits(ctx, res); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("item %d: %s", id, strings.Join(errs, "; "))
	}
	return nil
}

// ItemGetter reads an item for the alert.updated trigger.
type ItemGetter interface {
	GetWorkItem(ctx context.Context, id int64) (workitem.Item, error)
}

// Ingested runs alert.updated rules on the changed alerts of a committed
// batch (the pipeline's observer). Creation triggers ran inside the
// batch's transaction.
func (s *Service) Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	if s.act == nil {
		return
	}
	set := s.act.Rules()
	if set == nil || !set.Has(automation.AlertUpdated) {
		return
	}
	get, ok := s.act.(ItemGetter)
	if !ok {
		return
	}
	for i, r := range results {
		if r.Outcome != store.OutcomeUpdated || r.WorkItemID == 0 || i >= len(alerts) {
			continue
		}
		it, err := get.GetWorkItem(ctx, r.WorkItemID)
		if err != nil {
			s.log.Warn("alert.updated rules: item", "item", r.WorkItemID, "err", err)
			continue
		}
		a := alerts[i]
		ev := &automation.Event{Trigger: automation.AlertUpdated, Source: a.Source, Alert: &a, Item: it, Actor: "ingest"}
		if r.PreviousStatus != "" && r.PreviousStatus != a.Status {
			ev.Changes = []automation.Change{{Field: "status", From: string(r.PreviousStatus), To: string(a.Status)}}
		}
		res := set.Evaluate(ev, s.clock.Now())
		if err := s.apply(ctx, it, res); err != nil {
			s.log.Warn("rule actions failed", "item", it.ID, "trigger", ev.Trigger, "err", err)
		}
	}
}

// IncidentUpdated runs incident.updated rules on an incident whose change
// was stored on its item (the store's incident observer), with what
// changed: status and severity, as Sentinel's PropertyChanged.
func (s *Service) IncidentUpdated(ctx context.Context, actor string, in alert.Incident, r store.IncidentResult) {
	if s.act == nil || r.Outcome != store.OutcomeUpdated {
		return
	}
	set := s.act.Rules()
	if set == nil || !set.Has(automation.IncidentUpdated) {
		return
	}
	get, ok := s.act.(ItemGetter)
	if !ok {
		return
	}
	it, err := get.GetWorkItem(ctx, r.WorkItemID)
	if err != nil {
		s.log.Warn("incident.updated rules: item", "item", r.WorkItemID, "err", err)
		return
	}
	ev := &automation.Event{Trigger: automation.IncidentUpdated, Source: in.Source, Incident: &in, Item: it, Actor: actor}
	if r.PreviousStatus != "" && r.PreviousStatus != in.Status {
		ev.Changes = append(ev.Changes, automation.Change{Field: "status", From: string(r.PreviousStatus), To: string(in.Status)})
	}
	if r.PreviousSeverity != "" && r.PreviousSeverity != in.Severity {
		ev.Changes = append(ev.Changes, automation.Change{Field: "severity", From: string(r.PreviousSeverity), To: string(in.Severity)})
	}
	res := set.Evaluate(ev, s.clock.Now())
	if err := s.apply(ctx, it, res); err != nil {
		s.log.Warn("rule actions failed", "item", it.ID, "trigger", ev.Trigger, "err", err)
	}
}
