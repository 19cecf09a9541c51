package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Routing: a service with a condition receives the new work items whose
// alert matches it. The conditions are the automation vocabulary's CEL,
// evaluated by the automation engine as rules whose one action is "page
// this service", so routing and a rule's page action are one path.

// routesTTL is how long the compiled routes are trusted: another
// instance may have changed a service.
const routesTTL = 5 * time.Second

type routes struct {
	mu     sync.Mutex
	set    *automation.Set
	groups map[string][]string // service → group_by
	at     time.Time
}

func (s *Pager) routes(ctx context.Context) (*automation.Set, map[string][]string, error) {
	s.rt.mu.Lock()
	defer s.rt.mu.Unlock()
	now := s.o.Clock.Now()
	if s.rt.set != nil && now.Sub(s.rt.at) < routesTTL {
		return s.rt.set, s.rt.groups, nil
	}
	defs, err := s.st.ListOnCallDefs(ctx, KindService)
	if err != nil {
		return nil, nil, err
	}
	var rules []automation.Rule
	groups := map[string][]string{}
	for i, d := range defs {
		var sv Service
		if json.Unmarshal(d.Definition, &sv) != nil || sv.Condition == "" {
			continue
		}
		groups[sv.Name] = sv.GroupBy
		rules = append(rules, automation.Rule{ID: int64(i + 1), Version: d.Version, Definition: automation.Definition{
			Name: "route to " + sv.Name, Enabled: true, Order: i, Triggers: []string{string(automation.AlertCreated), string(automation.IncidentCreated)},
			Condition: sv.Condition, Actions: []automation.ActionSpec{{Type: automation.ActPage, Target: sv.Name}}}})
	}
	s.rt.set, s.rt.groups, s.rt.at = automation.NewSet(rules, automation.Options{Process: s.items.Process()}), groups, now
	return s.rt.set, groups, nil
}

// forget drops the compiled routes after a service changed here.
func (s *Pager) forget() {
	s.rt.mu.Lock()
	s.rt.set = nil
	s.rt.mu.Unlock()
}

// Ingested is the ingest's observer: each new work item whose alert a
// service's condition matches is paged on that service.
func (s *Pager) Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	var set *automation.Set
	var groups map[string][]string
	for i, r := range results {
		if (r.Outcome != store.OutcomeCreated && r.Outcome != store.OutcomeReopened) || r.WorkItemID == 0 || i >= len(alerts) {
			continue
		}
		if set == nil {
			var err error
			if set, groups, err = s.routes(ctx); err != nil {
				s.log.Warn("routes", "err", err)
				return
			}
			if set.Len() == 0 {
				return
			}
		}
		a := alerts[i]
		it := workitem.Item{ID: r.WorkItemID, Title: a.Title, Severity: a.Severity, Source: a.Source, AlertCount: 1}
		if p := s.items.Process(); p != nil {
			it.Type, it.State = p.TypeFor(a.Source), p.Initial()
		}
		res := set.Evaluate(&automation.Event{Trigger: automation.AlertCreated, Source: a.Source, Alert: &a, Item: it, Actor: "ingest"}, s.o.Clock.Now())
		for _, d := range res.Deferred {
			service := d.Action.Target
			if _, _, err := s.Trigger(ctx, auth.System, r.WorkItemID, service, "", groupKey(groups[service], &a)); err != nil {
				s.log.Warn("route to service", "service", service, "item", r.WorkItemID, "err", err)
			}
		}
	}
}

// IncidentUpdated is the store's incident observer: a new incident's work
// item is routed as a new alert's is.
func (s *Pager) IncidentUpdated(ctx context.Context, actor string, in alert.Incident, r store.IncidentResult) {
	if r.Outcome != store.OutcomeCreated && r.Outcome != store.OutcomeReopened {
		return
	}
	set, _, err := s.routes(ctx)
	if err != nil || set.Len() == 0 {
		return
	}
	it := workitem.Item{ID: r.WorkItemID, Title: in.Title, Severity: in.Severity, Source: in.Source, AlertCount: 1}
	if p := s.items.Process(); p != nil {
		it.Type, it.State = p.TypeFor(in.Source), p.Initial()
	}
	res := set.Evaluate(&automation.Event{Trigger: automation.IncidentCreated, Source: in.Source, Incident: &in, Item: it, Actor: actor}, s.o.Clock.Now())
	for _, d := range res.Deferred {
		if _, _, err := s.Trigger(ctx, auth.System, r.WorkItemID, d.Action.Target, "", ""); err != nil {
			s.log.Warn("route incident to service", "service", d.Action.Target, "item", r.WorkItemID, "err", err)
		}
	}
}

// groupKey is the values of the service's group_by for an alert: title,
// source, severity, key_entity, or labels.NAME (Alertmanager's labels).
func groupKey(by []string, a *alert.Alert) string {
	if len(by) == 0 {
		return ""
	}
	var labels map[string]any
	parts := make([]string, len(by))
	for i, k := range by {
		switch {
		case k == "title":
			parts[i] = a.Title
		case k == "source":
			parts[i] = a.Source
		case k == "severity":
			parts[i] = string(a.Severity)
		case k == "key_entity":
			parts[i] = alert.KeyEntity(a.Entities)
		case strings.HasPrefix(k, "labels."):
			if labels == nil {
				var raw struct {
					Labels map[string]any `json:"labels"`
				}
				_ = json.Unmarshal(a.Raw, &raw)
				labels = raw.Labels
				if labels == nil {
					labels = map[string]any{}
				}
			}
			parts[i] = fmt.Sprint(labels[strings.TrimPrefix(k, "labels.")])
		}
		parts[i] = k + "=" + parts[i]
	}
	return strings.Join(parts, ",")
}

// Run is the automation rules' "page" action (automation.Runner): it
// pages the service the action names for the item.
func (s *Pager) Run(ctx context.Context, itemID int64, d automation.DeferredAction) error {
	_, _, err := s.Trigger(ctx, auth.System, itemID, d.Action.Target, d.Action.Urgency, "")
	return err
}

// Kind names the automation action paging runs.
func (s *Pager) Kind() string { return automation.ActPage }

// Check validates a rule's page action when the rule is saved.
func (s *Pager) Check(a automation.ActionSpec) error { return nil }
