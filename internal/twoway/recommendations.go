package twoway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Grouping of Defender for Cloud recommendations into work items.
const (
	// GroupByRecommendation: one Problem per recommendation, each
	// affected resource one alert of it.
	GroupByRecommendation = "recommendation"
	// GroupByResource: one Problem per recommendation and resource.
	GroupByResource = "resource"
)

// RecommendationAPI reads a subscription's assessments
// (*defender.Recommendations).
type RecommendationAPI interface {
	Assessments(ctx context.Context) ([]defender.Assessment, error)
	WithMetadata(ctx context.Context, a defender.Assessment) (defender.Assessment, error)
}

// RecommendationIngester stores recommendation alerts and settles them
// at their source's word (*ingest.Pipeline): SetStatus tells the reactor
// when that left an item resolved at its source, which moves the item to
// the process's on_source_resolved state.
type RecommendationIngester interface {
	Ingester
	SetStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (bool, error)
}

// RecommendationStore groups a recommendation's alerts under one item
// and writes the module's decisions on item timelines (*store.DB).
type RecommendationStore interface {
	UpsertIncident(ctx context.Context, proc *workitem.Process, actor string, in alert.Incident) (store.IncidentResult, error)
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
	AlertBySource(ctx context.Context, source, sourceID string) (alert.Alert, error)
}

// RecommendationOptions configures the module.
type RecommendationOptions struct {
	// Subscription names the module ("recommendations:<subscription>").
	Subscription string
	// Grouping is GroupByRecommendation (the default) or GroupByResource.
	Grouping string
	// ResyncEvery is how many passes apart the module acts on every
	// assessment, not only on those whose status changed (default 60).
	// The first pass after a start is always a resync.
	ResyncEvery int
	// Grace, with GroupByRecommendation, is how long a resource's alert
	// waits for its recommendation's item before it gets an item of its
	// own (the held-alerts module releases it): a safety net for when
	// the grouping write fails. Default 10 minutes.
	Grace time.Duration
	// Items and ClosedState: a Problem whose resources are all Healthy
	// again is moved to ClosedState (Closed, or Verification for a
	// person to confirm), as an alert resolved at its source is. Without
	// Items it moves only as the process's on_source_resolved says.
	Items       Follower
	ClosedState string
	Clock       clock.Clock
	Logger      *slog.Logger
}

// Recommendations is the engine module that makes Defender for Cloud's
// unhealthy assessments Problem items and resolves them when Defender
// for Cloud finds the resource Healthy.
type Recommendations struct {
	api    RecommendationAPI
	in     RecommendationIngester
	st     RecommendationStore
	proc   *workitem.Process
	opt    RecommendationOptions
	log    *slog.Logger
	actor  string
	passes int
	// seen is each assessment's status and status change as last acted
	// on, by source id: the delta between passes.
	seen map[string]seenAssessment
	// sev is each recommendation's severity, from its metadata: its
	// group's item has it.
	sev map[string]alert.Severity
}

type seenAssessment struct {
	status  string
	changed time.Time
}

// NewRecommendations returns the module.
func NewRecommendations(api RecommendationAPI, in RecommendationIngester, st RecommendationStore, proc *workitem.Process, o RecommendationOptions) (*Recommendations, error) {
	switch o.Grouping {
	case "":
		o.Grouping = GroupByRecommendation
	case GroupByRecommendation, GroupByResource:
	default:
		return nil, fmt.Errorf("recommendations grouping %q: want %q or %q", o.Grouping, GroupByRecommendation, GroupByResource)
	}
	if o.ResyncEvery <= 0 {
		o.ResyncEvery = 60
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recommendations{api: api, in: in, st: st, proc: proc, opt: o, actor: "connector:defender-recommendations",
		log: o.Logger.With("component", "recommendations", "subscription", o.Subscription), seen: map[string]seenAssessment{}, sev: map[string]alert.Severity{}}, nil
}

// Name identifies the module.
func (r *Recommendations) Name() string { return "recommendations:" + r.opt.Subscription }

// Kind says what the module is, for the health page.
func (r *Recommendations) Kind() string { return "poller" }

// Resync makes the next pass act on every assessment.
func (r *Recommendations) Resync() { r.passes = 0 }

// RecommendationSourceID is the alert source id of an assessment: its ARM
// id, lower-cased, as ARM ids are case-insensitive.
func RecommendationSourceID(assessmentID string) string { return strings.ToLower(assessmentID) }

// UpdateAll lists the assessments and acts on those that changed.
func (r *Recommendations) UpdateAll(ctx context.Context) error {
	list, err := r.api.Assessments(ctx)
	if err != nil {
		return err
	}
	resync := r.passes%r.opt.ResyncEvery == 0
	r.passes++
	var open []alert.Alert
	var settle []defender.Assessment
	touched := map[string]bool{} // recommendations whose group changed
	for _, a := range list {
		id := RecommendationSourceID(a.ID)
		prev, known := r.seen[id]
		if !resync && known && prev.status == a.Status && prev.changed.Equal(a.StatusChanged) {
			continue
		}
		switch a.Status {
		case defender.AssessmentUnhealthy:
			full, err := r.api.WithMetadata(ctx, a)
			if err != nil {
				// The item is still worth making; its severity is
				// then the default.
				r.log.Warn("no metadata for a recommendation", "assessment", a.Name, "err", err)
				full = a
			}
			al := r.alertOf(full)
			r.sev[a.Name] = al.Severity
			open = append(open, al)
			touched[a.Name] = true
		default:
			settle = append(settle, a)
			if known && prev.status == defender.AssessmentUnhealthy {
				touched[a.Name] = true
			}
		}
	}
	if err := r.submit(ctx, open); err != nil {
		return err
	}
	for _, a := range settle {
		if err := r.settle(ctx, a); err != nil {
			return err
		}
	}
	if r.opt.Grouping == GroupByRecommendation {
		if err := r.group(ctx, list, touched); err != nil {
			return err
		}
	}
	for _, a := range list {
		r.seen[RecommendationSourceID(a.ID)] = seenAssessment{status: a.Status, changed: a.StatusChanged}
	}
	if n := len(open) + len(settle); n > 0 {
		Note(ctx, "recommendation assessment changed", "recommendation assessments changed", n)
	}
	return nil
}

// alertOf maps an unhealthy assessment to its alert. A new status change
// to Unhealthy is a new firing: it opens a new item when the last one
// was closed.
func (r *Recommendations) alertOf(a defender.Assessment) alert.Alert {
	now := r.opt.Clock.Now().UTC()
	first := a.StatusChanged
	if first.IsZero() || first.After(now) {
		first = now
	}
	raw, _ := json.Marshal(a)
	// Each alert names its resource; a group's item has the
	// recommendation's name.
	title := a.DisplayName + ": " + path.Base(a.ResourceID)
	return alert.Alert{
		Source: defender.RecommendationSource, SourceID: RecommendationSourceID(a.ID),
		Product: "Microsoft Defender for Cloud", Title: title, Description: a.Description,
		Severity: recommendationSeverity(a.Severity), Status: alert.StatusNew,
		Entities:  []alert.Entity{{Kind: alert.EntityCloudResource, Value: strings.ToLower(a.ResourceID)}},
		FirstSeen: first, LastSeen: now, Raw: raw, Firing: a.StatusChanged.Format(time.RFC3339Nano),
	}
}

func recommendationSeverity(s string) alert.Severity {
	switch strings.ToLower(s) {
	case "high":
		return alert.SeverityHigh
	case "low":
		return alert.SeverityLow
	}
	return alert.SeverityMedium
}

func (r *Recommendations) submit(ctx context.Context, open []alert.Alert) error {
	if len(open) == 0 {
		return nil
	}
	if r.opt.Grouping == GroupByRecommendation {
		for i := range open {
			open[i].Grace = r.opt.Grace
		}
	}
	results, err := r.in.Submit(ctx, r.actor, open)
	if err != nil {
		return fmt.Errorf("submit recommendation alerts: %w", err)
	}
	if r.opt.Grouping != GroupByResource {
		return nil
	}
	for i, res := range results {
		if i >= len(open) || res.WorkItemID == 0 || res.Outcome != store.OutcomeCreated {
			continue
		}
		a := open[i]
		msg := fmt.Sprintf("Defender for Cloud assesses %s Unhealthy: one Problem per recommendation and resource (grouping %q)",
			path.Base(entityValue(a)), r.opt.Grouping)
		if err := r.st.AppendTimeline(ctx, res.WorkItemID, r.actor, workitem.KindAlert, msg,
			map[string]any{"assessment": a.SourceID, "grouping": r.opt.Grouping}); err != nil {
			return err
		}
	}
	return nil
}

func entityValue(a alert.Alert) string {
	if len(a.Entities) == 0 {
		return ""
	}
	return a.Entities[0].Value
}

// settle resolves the alert of an assessment found Healthy (dismisses it
// when NotApplicable: exempt or out of scope, not fixed). An assessment
// vigil never saw Unhealthy has no alert, and nothing happens.
func (r *Recommendations) settle(ctx context.Context, a defender.Assessment) error {
	status, why := alert.StatusResolved, "Defender for Cloud assesses the resource Healthy"
	if a.Status == defender.AssessmentNotApplicable {
		status, why = alert.StatusDismissed, "Defender for Cloud no longer applies the recommendation to the resource"
		if a.Cause != "" {
			why += " (" + a.Cause + ")"
		}
	}
	found, err := r.in.SetStatus(ctx, defender.RecommendationSource, RecommendationSourceID(a.ID), status, r.actor, why)
	if err != nil {
		return fmt.Errorf("settle recommendation alert %s: %w", a.ID, err)
	}
	if !found {
		return nil
	}
	r.log.Debug("recommendation settled at the source", "assessment", a.ID, "status", a.Status)
	if r.opt.Grouping != GroupByResource {
		return nil // the group's item follows in group
	}
	al, err := r.st.AlertBySource(ctx, defender.RecommendationSource, RecommendationSourceID(a.ID))
	if err != nil {
		return fmt.Errorf("settle recommendation alert %s: %w", a.ID, err)
	}
	return r.follow(ctx, al.WorkItemID, status, why+": "+path.Base(a.ResourceID), map[string]any{"assessment": a.ID, "status": a.Status})
}

// follow moves a Problem whose assessments are all settled at the
// source: resolved to ClosedState, dismissed (no longer applicable) to
// Removed.
func (r *Recommendations) follow(ctx context.Context, itemID int64, status alert.Status, cause string, data any) error {
	if r.opt.Items == nil || r.opt.ClosedState == "" || itemID == 0 {
		return nil
	}
	to := r.opt.ClosedState
	if status == alert.StatusDismissed {
		to = "Removed"
	}
	if !r.proc.Known(to) {
		return nil // a custom process without that state: on_source_resolved decides
	}
	_, moved, err := r.opt.Items.Follow(ctx, itemID, to, defender.RecommendationSource, cause, data)
	if err != nil {
		return fmt.Errorf("follow recommendation item %d: %w", itemID, err)
	}
	if moved {
		r.log.Info("recommendation item follows its assessments", "workitem", itemID, "to", to)
	}
	return nil
}

// group makes each touched recommendation one item: an incident of
// source defender-recommendation whose members are the resources'
// alerts. The incident is open while any resource is Unhealthy.
func (r *Recommendations) group(ctx context.Context, list []defender.Assessment, touched map[string]bool) error {
	byName := map[string][]defender.Assessment{}
	for _, a := range list {
		if touched[a.Name] {
			byName[a.Name] = append(byName[a.Name], a)
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	now := r.opt.Clock.Now().UTC()
	for _, name := range names {
		as := byName[name]
		in := alert.Incident{Source: defender.RecommendationSource, SourceID: strings.ToLower(name), Title: as[0].DisplayName,
			Severity: r.sev[name], Status: alert.StatusResolved, FirstSeen: now, LastSeen: now}
		if in.Severity == "" {
			in.Severity = alert.SeverityMedium
		}
		var unhealthy []string
		for _, a := range as {
			_, knew := r.seen[RecommendationSourceID(a.ID)]
			if a.Status != defender.AssessmentUnhealthy && !knew {
				continue
			}
			in.AlertRefs = append(in.AlertRefs, RecommendationSourceID(a.ID))
			if a.Status == defender.AssessmentUnhealthy {
				in.Status = alert.StatusNew
				unhealthy = append(unhealthy, path.Base(a.ResourceID))
				if !a.StatusChanged.IsZero() && a.StatusChanged.Before(in.FirstSeen) {
					in.FirstSeen = a.StatusChanged
				}
			}
		}
		if len(in.AlertRefs) == 0 {
			continue
		}
		raw, _ := json.Marshal(map[string]any{"assessmentName": name, "displayName": as[0].DisplayName, "unhealthy": unhealthy})
		in.Raw = raw
		res, err := r.st.UpsertIncident(ctx, r.proc, r.actor, in)
		if err != nil {
			return fmt.Errorf("group recommendation %s: %w", name, err)
		}
		if res.WorkItemID == 0 || res.Outcome == store.OutcomeUnchanged {
			continue
		}
		msg := fmt.Sprintf("Defender for Cloud: %d of %d assessed resources Unhealthy for this recommendation (grouping %q, one Problem per recommendation)",
			len(unhealthy), len(in.AlertRefs), r.opt.Grouping)
		if len(unhealthy) > 0 {
			msg += ": " + strings.Join(unhealthy, ", ")
		}
		if err := r.st.AppendTimeline(ctx, res.WorkItemID, r.actor, workitem.KindIncident, msg,
			map[string]any{"assessment": name, "unhealthy": unhealthy, "grouping": r.opt.Grouping}); err != nil {
			return err
		}
		if len(unhealthy) == 0 {
			if err := r.follow(ctx, res.WorkItemID, alert.StatusResolved,
				"Defender for Cloud assesses every resource of this recommendation Healthy or not applicable",
				map[string]any{"assessment": name}); err != nil {
				return err
			}
		}
	}
	return nil
}
