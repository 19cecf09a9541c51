package twoway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// GraphIncidentsAPI is the part of Graph's security/incidents the poller
// reads.
type GraphIncidentsAPI interface {
	Incidents(ctx context.Context, q graph.IncidentQuery) ([]graph.Incident, error)
}

// GraphIncidentPoller pulls Graph's unified incidents (Defender XDR, and
// Sentinel's for a workspace in the Defender portal) with their alerts,
// one work item per incident. It pages by lastUpdateDateTime like the
// Sentinel poller pages by lastModifiedTimeUtc, with the same overlap and
// periodic resync of the open incidents.
//
// An incident Sentinel also shows is one incident in vigil (its link key,
// alert.Incident.LinkKey). Which view keeps it is configuration
// (sync.incident_api): the other is Secondary and only stores an
// incident the primary has not seen yet.
type GraphIncidentPoller struct {
	api         GraphIncidentsAPI
	store       IncidentStore
	items       Follower
	proc        *workitem.Process
	clock       clock.Clock
	log         *slog.Logger
	window      Window
	closedState string
	secondary   bool
	// seen holds the lastUpdateDateTime last stored per incident, so that
	// an unchanged incident read again by the overlap costs nothing.
	seen     map[string]time.Time
	lastFull time.Time
}

// GraphIncidentOptions configures a GraphIncidentPoller.
type GraphIncidentOptions struct {
	Window      Window
	ClosedState string
	// Secondary: Sentinel's view is the configured one for incidents
	// seen through both APIs.
	Secondary bool
	Clock     clock.Clock
	Logger    *slog.Logger
}

// NewGraphIncidentPoller returns the poller module.
func NewGraphIncidentPoller(api GraphIncidentsAPI, st IncidentStore, items Follower, proc *workitem.Process, o GraphIncidentOptions) *GraphIncidentPoller {
	if o.ClosedState == "" {
		o.ClosedState = "Closed"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &GraphIncidentPoller{api: api, store: st, items: items, proc: proc, clock: o.Clock,
		log: o.Logger.With("component", "graph-incident-poller"), window: o.Window.withDefaults(),
		closedState: o.ClosedState, secondary: o.Secondary, seen: map[string]time.Time{}}
}

// Name identifies the module.
func (p *GraphIncidentPoller) Name() string { return "graph:incidents" }

// Kind says what the module is, for the health page.
func (p *GraphIncidentPoller) Kind() string { return "poller" }

func (p *GraphIncidentPoller) cursorName() string { return "graph:incidents:updated" }

// UpdateAll runs one poll: the incidents updated since the watermark
// (less the overlap), and every open incident when a resync is due (the
// first poll takes only those, not the tenant's history).
func (p *GraphIncidentPoller) UpdateAll(ctx context.Context) error {
	now := p.clock.Now()
	mark, err := p.store.Cursor(ctx, p.cursorName())
	if err != nil {
		return err
	}
	var watermark time.Time
	if mark != "" {
		if watermark, err = time.Parse(time.RFC3339Nano, mark); err != nil {
			return fmt.Errorf("graph incidents cursor %q: %w", mark, err)
		}
	}
	var list []graph.Incident
	full := p.lastFull.IsZero() || now.Sub(p.lastFull) >= p.window.Resync
	if full {
		if list, err = p.api.Incidents(ctx, graph.IncidentQuery{Open: true}); err != nil {
			return fmt.Errorf("resync open incidents: %w", err)
		}
	}
	if !watermark.IsZero() {
		changed, err := p.api.Incidents(ctx, graph.IncidentQuery{Since: watermark.Add(-p.window.Overlap)})
		if err != nil {
			return fmt.Errorf("incidents updated since %s: %w", watermark.Format(time.RFC3339), err)
		}
		list = append(list, changed...)
	}
	newMark := watermark
	var held time.Time // the oldest change deferred: the watermark stays before it
	var errs []error
	done := map[string]bool{}
	for i := len(list) - 1; i >= 0; i-- { // the delta is read last: newest wins
		inc := list[i]
		if done[inc.ID] {
			continue
		}
		done[inc.ID] = true
		if inc.LastUpdateDateTime.After(newMark) {
			newMark = inc.LastUpdateDateTime
		}
		if s, ok := p.seen[inc.ID]; ok && !inc.LastUpdateDateTime.After(s) {
			continue
		}
		if err := p.store1(ctx, inc); errors.Is(err, errDeferred) {
			if held.IsZero() || inc.LastUpdateDateTime.Before(held) {
				held = inc.LastUpdateDateTime
			}
			continue // not marked seen, and the watermark holds: a later poll takes it up
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		p.seen[inc.ID] = inc.LastUpdateDateTime
	}
	if len(errs) > 0 {
		return fmt.Errorf("graph incident poll: %w", errors.Join(errs...))
	}
	if full {
		p.lastFull = now
	}
	if !held.IsZero() && !newMark.Before(held) {
		newMark = held.Add(-time.Nanosecond)
	}
	if newMark.After(watermark) {
		return p.store.SetCursor(ctx, p.cursorName(), newMark.UTC().Format(time.RFC3339Nano))
	}
	if watermark.IsZero() {
		return p.store.SetCursor(ctx, p.cursorName(), now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// store1 stores one incident and makes its work item follow its owner
// and a resolution done in the Defender portal.
func (p *GraphIncidentPoller) store1(ctx context.Context, inc graph.Incident) error {
	in, err := graph.MapIncident(inc)
	if err != nil {
		p.log.Warn("skipping unmappable incident", "incident", inc.ID, "err", err)
		return nil
	}
	in.Secondary = p.secondary
	if p.secondary && p.clock.Now().Sub(inc.CreatedDateTime) < secondaryWait {
		// The configured view has not had a poll to show this incident
		// yet: storing it here first would route and page it as Graph's.
		return errDeferred
	}
	if err := in.Normalize(p.clock.Now()); err != nil {
		p.log.Warn("skipping invalid incident", "incident", inc.ID, "err", err)
		return nil
	}
	res, err := p.store.UpsertIncident(ctx, p.proc, "graph", in)
	if err != nil {
		return fmt.Errorf("store incident %s: %w", inc.ID, err)
	}
	if res.Secondary || res.WorkItemID == 0 || p.items == nil {
		return nil
	}
	if a, ok := p.items.(Assigner); ok && inc.AssignedTo != "" {
		if _, moved, err := a.FollowAssignee(ctx, res.WorkItemID, strings.ToLower(inc.AssignedTo), "graph",
			fmt.Sprintf("incident %s assigned to %s in the Defender portal", inc.ID, inc.AssignedTo)); err != nil {
			return fmt.Errorf("follow incident %s's assignee: %w", inc.ID, err)
		} else if moved {
			p.log.Info("work item follows the Defender portal's assignee", "workitem", res.WorkItemID, "incident", inc.ID)
		}
	}
	if err := p.followComments(ctx, res.WorkItemID, inc); err != nil {
		return err
	}
	closedNow := !in.Status.Open() && (res.PreviousStatus == "" || res.PreviousStatus.Open())
	if !closedNow {
		return nil
	}
	cause := fmt.Sprintf("incident %s %s in the Defender portal", inc.ID, strings.ToLower(inc.Status))
	if inc.Classification != "" && inc.Classification != "unknown" {
		cause += " as " + inc.Classification
		if inc.Determination != "" && inc.Determination != "unknown" {
			cause += " (" + inc.Determination + ")"
		}
	}
	_, moved, err := p.items.Follow(ctx, res.WorkItemID, p.closedState, "graph", cause, map[string]any{
		"incident": inc.ID, "status": inc.Status, "classification": inc.Classification, "determination": inc.Determination})
	if err != nil {
		return fmt.Errorf("follow incident %s: %w", inc.ID, err)
	}
	if moved {
		p.log.Info("work item follows the Defender portal", "workitem", res.WorkItemID, "incident", inc.ID, "to", p.closedState)
	}
	return nil
}

// Commenter adds a comment made at a source to an item, once
// (*workitem.Service).
type Commenter interface {
	FollowComment(ctx context.Context, id int64, origin, author, body string, at time.Time) (workitem.Comment, bool, error)
}

// followComments copies the incident's comments that people made in the
// Defender portal (or in Sentinel, which shares them) to the item. Those
// vigil wrote carry its marker and are skipped.
func (p *GraphIncidentPoller) followComments(ctx context.Context, itemID int64, inc graph.Incident) error {
	c, ok := p.items.(Commenter)
	if !ok {
		return nil
	}
	for _, cm := range inc.Comments {
		if graph.HasMarker(cm.Comment) {
			continue
		}
		author := cm.CreatedByDisplayName
		if author == "" {
			author = "unknown"
		}
		if _, added, err := c.FollowComment(ctx, itemID, "graph", author, cm.Comment, cm.CreatedDateTime); err != nil {
			return fmt.Errorf("follow incident %s's comments: %w", inc.ID, err)
		} else if added {
			p.log.Info("work item gets a comment from the Defender portal", "workitem", itemID, "incident", inc.ID)
		}
	}
	return nil
}

// secondaryWait is how old an incident must be before the secondary view
// stores one that the configured view has not shown.
const secondaryWait = 2 * time.Minute

// errDeferred is store1's answer for an incident the secondary view leaves
// to a later poll; the poll does not mark it seen.
var errDeferred = errors.New("incident deferred to a later poll")
