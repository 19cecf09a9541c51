// Package inhibit is Alertmanager's inhibition in vigil's ingest: a
// firing alert matching an inhibit rule's source matchers suppresses the
// new alerts matching its target matchers that have the same values for
// the rule's equal labels. The inhibited alert is stored and listed (as
// inhibited), and makes no item; the inhibiting alert's item says on its
// timeline what it inhibited and by which rule.
//
// Decisions where Alertmanager is silent or vigil differs:
//   - Only Alertmanager alerts (source "alertmanager") take part: their
//     labels are what the matchers read.
//   - Inhibition is decided when an alert arrives, as vigil's suppression
//     rules are; Alertmanager re-evaluates on every notification. An alert
//     inhibited on arrival stays without an item until a new firing of it
//     is judged again.
//   - The firing sources are kept in memory, loaded from the store at
//     start, so that a restart forgets none.
//   - As in Alertmanager, an alert never inhibits itself.
package inhibit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/amconfig"
	"github.com/vigil-soc/vigil/internal/compat"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Store is what the stage reads at start and writes on the inhibitor's
// timeline.
type Store interface {
	LabelledAlerts(ctx context.Context, source string, fn func(store.LabelledAlert) error) error
	AlertBySource(ctx context.Context, source, sourceID string) (alert.Alert, error)
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
}

// Actor writes the timeline entries.
const Actor = "inhibition"

type source struct {
	labels map[string]string
	ends   time.Time // zero: no end given
}

// Stage is the ingest stage and its observer.
type Stage struct {
	rules []amconfig.InhibitRule
	st    Store
	now   func() time.Time
	log   *slog.Logger

	mu      sync.RWMutex
	sources map[string]source // fingerprint → firing alert matching some rule's source matchers
}

// New returns the stage for rules (none: it does nothing).
func New(rules []amconfig.InhibitRule, st Store, now func() time.Time, log *slog.Logger) *Stage {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Stage{rules: rules, st: st, now: now, log: log.With("component", "inhibition"), sources: map[string]source{}}
}

// Load fills the firing sources from the store.
func (s *Stage) Load(ctx context.Context) error {
	if len(s.rules) == 0 {
		return nil
	}
	return s.st.LabelledAlerts(ctx, compat.SourceAlertmanager, func(a store.LabelledAlert) error {
		p := payload(a.Raw)
		if s.isSource(p.Labels) {
			s.sources[a.Fingerprint] = source{labels: p.Labels, ends: p.EndsAt}
		}
		return nil
	})
}

type amPayload struct {
	Labels map[string]string `json:"labels"`
	EndsAt time.Time         `json:"endsAt"`
}

func payload(raw json.RawMessage) amPayload {
	var p amPayload
	_ = json.Unmarshal(raw, &p)
	return p
}

func (s *Stage) isSource(labels map[string]string) bool {
	for _, r := range s.rules {
		if amconfig.MatchLabels(r.SourceMatchers, labels) {
			return true
		}
	}
	return false
}

// Process implements ingest.Stage: it records the batch's firing sources
// (and forgets resolved ones), then marks the alerts they inhibit.
func (s *Stage) Process(_ context.Context, alerts []alert.Alert) ([]alert.Alert, error) {
	if len(s.rules) == 0 {
		return alerts, nil
	}
	labels := make([]map[string]string, len(alerts))
	s.mu.Lock()
	for i := range alerts {
		a := &alerts[i]
		if a.Source != compat.SourceAlertmanager {
			continue
		}
		p := payload(a.Raw)
		labels[i] = p.Labels
		if !s.isSource(p.Labels) {
			continue
		}
		if a.Status.Open() {
			s.sources[a.SourceID] = source{labels: p.Labels, ends: p.EndsAt}
		} else {
			delete(s.sources, a.SourceID)
		}
	}
	s.mu.Unlock()
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range alerts {
		a := &alerts[i]
		if labels[i] == nil || !a.Status.Open() {
			continue
		}
		if in := s.inhibitor(a.SourceID, labels[i], now); in != nil {
			a.Inhibited = in
		}
	}
	return alerts, nil
}

// inhibitor finds a firing source that inhibits an alert, in a stable
// order (rules in order, sources by fingerprint).
func (s *Stage) inhibitor(fp string, labels map[string]string, now time.Time) *alert.Inhibition {
	for ri, r := range s.rules {
		if !amconfig.MatchLabels(r.TargetMatchers, labels) {
			continue
		}
		var fps []string
		for sfp, src := range s.sources {
			if sfp == fp || (!src.ends.IsZero() && !src.ends.After(now)) {
				continue
			}
			if r.Inhibits(src.labels, labels) {
				fps = append(fps, sfp)
			}
		}
		if len(fps) > 0 {
			sort.Strings(fps)
			return &alert.Inhibition{Rule: ri, Source: fps[0]}
		}
	}
	return nil
}

// Ingested is the ingest's observer: each inhibited alert is written on
// the timeline of the item of the alert that inhibited it.
func (s *Stage) Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	for i, r := range results {
		if i >= len(alerts) || alerts[i].Inhibited == nil || r.Outcome != store.OutcomeSuppressed {
			continue
		}
		a, in := alerts[i], alerts[i].Inhibited
		src, err := s.st.AlertBySource(ctx, compat.SourceAlertmanager, in.Source)
		if err != nil || src.WorkItemID == 0 {
			continue // the inhibitor has no item of its own (it is itself held or suppressed)
		}
		rule := s.rules[in.Rule]
		msg := fmt.Sprintf("inhibited alert %d %q (%s) by inhibit_rules[%d]: this item's alert %s matches %s, the other matches %s, and they agree on %s; it makes no item while this one fires",
			r.AlertID, a.Title, a.SourceID, in.Rule, in.Source, matchers(rule.SourceMatchers), matchers(rule.TargetMatchers), orNone(rule.Equal))
		if err := s.st.AppendTimeline(ctx, src.WorkItemID, Actor, workitem.KindSync, msg,
			map[string]any{"inhibited_alert": r.AlertID, "rule": in.Rule}); err != nil {
			s.log.Warn("inhibition not written on the timeline", "item", src.WorkItemID, "err", err)
		}
	}
}

func matchers(ms []amconfig.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func orNone(ls []string) string {
	if len(ls) == 0 {
		return "no labels"
	}
	return strings.Join(slices.Clone(ls), ", ")
}
