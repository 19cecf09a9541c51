// Package rules manages automation rules: saving them with versions,
// installing the compiled set that the ingest runs, previewing a rule
// over stored alerts, and tidying expired rules. The evaluation itself is
// package automation's.
package rules

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Store is the persistence the service needs.
type Store interface {
	ListRules(ctx context.Context) ([]store.StoredRule, error)
	GetRule(ctx context.Context, id int64) (store.StoredRule, error)
	SaveRule(ctx context.Context, id int64, d automation.Definition, actor string) (automation.Rule, error)
	RuleVersions(ctx context.Context, id int64) ([]store.RuleVersion, error)
	DeleteExpiredRules(ctx context.Context, before time.Time) (int, error)
	EachAlertSince(ctx context.Context, since time.Time, withRaw bool, fn func(*alert.Alert) error) error
	SetRules(s *automation.Set)
}

// Retention is how long an expired rule stays, shown as expired, before
// the engine deletes it.
const Retention = 30 * 24 * time.Hour

// Service manages rules.
type Service struct {
	st    Store
	opts  automation.Options
	clock clock.Clock
	log   *slog.Logger
	items Items    // nil until Act
	act   ActStore // nil until Act
}

// New returns a service; call Reload to install the stored rules.
func New(st Store, proc *workitem.Process, clk clock.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, opts: automation.Options{Process: proc}, clock: clk, log: log.With("component", "rules")}
}

// Reload compiles the enabled rules and installs them for the ingest.
func (s *Service) Reload(ctx context.Context) (*automation.Set, error) {
	stored, err := s.st.ListRules(ctx)
	if err != nil {
		return nil, err
	}
	rs := make([]automation.Rule, len(stored))
	for i, r := range stored {
		rs[i] = r.Rule
	}
	set := automation.NewSet(rs, s.opts)
	for id, err := range set.Errors {
		s.log.Warn("rule does not compile; left out", "rule_id", id, "err", err)
	}
	s.st.SetRules(set)
	return set, nil
}

// Name is the engine module's name.
func (s *Service) Name() string { return "rules" }

// UpdateAll is the engine module: it deletes rules expired for longer
// than Retention. One instance at a time runs it; reloading is Watch's,
// on every instance.
func (s *Service) UpdateAll(ctx context.Context) error {
	n, err := s.st.DeleteExpiredRules(ctx, s.clock.Now().Add(-Retention))
	if err != nil {
		return fmt.Errorf("tidy expired rules: %w", err)
	}
	if n > 0 {
		s.log.Info("deleted rules expired for longer than the retention", "count", n, "retention", Retention.String())
	}
	return nil
}

// Watch returns a service that reloads the rules every interval until its
// context ends. Every instance that ingests runs one: another instance, or
// the CLI, may have changed the rules, and a rule's expiry is checked at
// evaluation, so a reload is only needed for edits.
func (s *Service) Watch(every time.Duration) func(ctx context.Context) {
	return func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-clock.After(s.clock, every):
			}
			if _, err := s.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reload rules", "err", err)
			}
		}
	}
}

// List returns every rule with its counters.
func (s *Service) List(ctx context.Context, actor auth.Actor) ([]store.StoredRule, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.ListRules(ctx)
}

// Get returns one rule.
func (s *Service) Get(ctx context.Context, actor auth.Actor, id int64) (store.StoredRule, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return store.StoredRule{}, err
	}
	return s.st.GetRule(ctx, id)
}

// Versions returns a rule's history, newest first.
func (s *Service) Versions(ctx context.Context, actor auth.Actor, id int64) ([]store.RuleVersion, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if _, err := s.st.GetRule(ctx, id); err != nil {
		return nil, err
	}
	return s.st.RuleVersions(ctx, id)
}

// Check normalizes and compiles a definition, and checks it against the
// process: a 400 naming the field when it is wrong.
func (s *Service) Check(d *automation.Definition) error {
	if err := d.Normalize(); err != nil {
		return err
	}
	if _, err := automation.Compile(d.Condition); err != nil {
		return err
	}
	p := s.opts.Process
	for i, a := range d.Actions {
		switch a.Type {
		case automation.ActMove:
			if p != nil && !p.Known(a.State) {
				return validation.NewFieldError(fmt.Sprintf("actions[%d].state", i), "unknown state %q (want one of %s)", a.State, strings.Join(p.StateNames(), ", "))
			}
		case automation.ActPlaybook, automation.ActPage:
			if e, ok := automation.ExtensionFor(a.Type); ok {
				if err := e.Check(a); err != nil {
					return validation.NewFieldError(fmt.Sprintf("actions[%d]", i), "%v", err)
				}
			}
		}
	}
	return nil
}

// Save creates (id 0) or updates a rule, as a new version, and installs
// the new set at once on this instance.
func (s *Service) Save(ctx context.Context, actor auth.Actor, id int64, d automation.Definition) (automation.Rule, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return automation.Rule{}, err
	}
	if err := s.Check(&d); err != nil {
		return automation.Rule{}, err
	}
	r, err := s.st.SaveRule(ctx, id, d, actor.String())
	if err != nil {
		return automation.Rule{}, err
	}
	if _, err := s.Reload(ctx); err != nil {
		return r, fmt.Errorf("rule saved, but reloading the rules failed: %w", err)
	}
	s.log.Info("rule saved", "rule_id", r.ID, "name", r.Name, "version", r.Version, "actor", actor.String())
	return r, nil
}

// Preview is what a rule would have done over stored alerts.
type Preview struct {
	Days     int            `json:"days"`
	Scanned  int            `json:"scanned"`
	Matched  int            `json:"matched"`
	ByAction map[string]int `json:"by_action"`
	Errors   int            `json:"errors"`
	// FirstError is the first evaluation error, for the form to show.
	FirstError string   `json:"first_error,omitempty"`
	Samples    []Sample `json:"samples"`
	TookMS     int64    `json:"took_ms"`
}

// Sample is one alert the rule would have matched.
type Sample struct {
	AlertID    int64     `json:"alert_id"`
	WorkItemID int64     `json:"workitem_id,omitempty"`
	Source     string    `json:"source"`
	Title      string    `json:"title"`
	Severity   string    `json:"severity"`
	At         time.Time `json:"at"`
	Actions    []string  `json:"actions"`
}

// MaxSamples caps a preview's sample.
const MaxSamples = 20

// rawVars are the vocabulary that only the payload holds (or that the
// payload adds to): a condition reading none of them is previewed
// without reading payloads.
var rawVars = []string{"provider", "alert_type", "labels", "tactics", "techniques", "analytic_rule_ids", "custom_details",
	"processes", "mailboxes", "tags", "accounts", "hosts", "product"}

// Preview evaluates d, as if enabled and without expiry, over the alerts
// created in the last days, as their creation triggers saw them: counts
// by action and a sample of the matches. Nothing is written.
func (s *Service) Preview(ctx context.Context, actor auth.Actor, d automation.Definition, days int) (Preview, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return Preview{}, err
	}
	if days <= 0 {
		days = 30
	}
	if days > 366 {
		return Preview{}, validation.NewFieldError("days", "at most 366")
	}
	d.Enabled, d.ExpiresAt, d.Stop = true, nil, false
	if err := s.Check(&d); err != nil {
		return Preview{}, err
	}
	start := time.Now()
	set := automation.NewSet([]automation.Rule{{ID: 1, Version: 0, Definition: d}}, s.opts)
	if err := set.Errors[1]; err != nil {
		return Preview{}, err
	}
	reads, err := automation.Reads(d.Condition)
	if err != nil {
		return Preview{}, err
	}
	withRaw := false
	for _, v := range reads {
		withRaw = withRaw || slices.Contains(rawVars, v)
	}
	p := Preview{Days: days, ByAction: map[string]int{}, Samples: []Sample{}}
	now := s.clock.Now()
	var triggers []automation.Trigger
	for _, t := range d.Triggers {
		if automation.Trigger(t).Creation() || automation.Trigger(t) == automation.AlertUpdated {
			triggers = append(triggers, automation.Trigger(t))
		}
	}
	if len(triggers) == 0 {
		return Preview{}, validation.NewFieldError("triggers", "a preview replays stored alerts: name alert.created, item.created, incident.created or alert.updated")
	}
	proc := s.opts.Process
	err = s.st.EachAlertSince(ctx, now.AddDate(0, 0, -days), withRaw, func(a *alert.Alert) error {
		p.Scanned++
		it := workitem.Item{ID: a.WorkItemID, Title: a.Title, Severity: a.Severity, Source: a.Source, AlertCount: 1}
		if proc != nil {
			it.Type, it.State = proc.TypeFor(a.Source), proc.Initial()
		}
		for _, t := range triggers {
			res := set.Evaluate(&automation.Event{Trigger: t, Source: a.Source, Alert: a, Item: it}, now)
			if len(res.Errors) > 0 {
				p.Errors++
				if p.FirstError == "" {
					p.FirstError = res.Errors[0].Err
				}
			}
			if len(res.Hits) == 0 {
				continue
			}
			p.Matched++
			var acts []string
			for _, ap := range res.Hits[0].Actions {
				p.ByAction[ap.Type]++
				acts = append(acts, ap.Summary)
			}
			if len(p.Samples) < MaxSamples {
				p.Samples = append(p.Samples, Sample{AlertID: a.ID, WorkItemID: a.WorkItemID, Source: a.Source, Title: a.Title,
					Severity: string(a.Severity), At: a.FirstSeen, Actions: acts})
			}
			break
		}
		return ctx.Err()
	})
	if err != nil {
		return Preview{}, fmt.Errorf("preview: %w", err)
	}
	p.TookMS = time.Since(start).Milliseconds()
	return p, nil
}

// Vocabulary lists the condition vocabulary and the builder's properties.
func Vocabulary() map[string]any {
	vars := slices.Clone(automation.Vocabulary)
	return map[string]any{"variables": vars, "properties": automation.BuilderProperties(), "operators": automation.Operators,
		"triggers": automation.Triggers, "actions": automation.ActionKinds, "classifications": automation.Classifications}
}
