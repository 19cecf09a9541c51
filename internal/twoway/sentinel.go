package twoway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// SentinelAPI is the part of a Sentinel workspace the poller reads.
type SentinelAPI interface {
	IncidentsModifiedSince(ctx context.Context, since time.Time) ([]*armsecurityinsights.Incident, error)
	OpenIncidents(ctx context.Context) ([]*armsecurityinsights.Incident, error)
	IncidentAlerts(ctx context.Context, name string) ([]*armsecurityinsights.SecurityAlert, error)
}

// SentinelBulkAPI is implemented by a workspace that can also read its
// open incidents with their alerts in a few queries (the Log Analytics
// query API, see sentinel.Client.OpenIncidentsWithAlerts): a full resync
// then costs a few requests instead of one alert lookup per incident.
type SentinelBulkAPI interface {
	OpenIncidentsWithAlerts(ctx context.Context) ([]sentinel.BulkIncident, error)
}

// IncidentStore stores incidents and the pollers' watermarks.
type IncidentStore interface {
	UpsertIncident(ctx context.Context, proc *workitem.Process, actor string, in alert.Incident) (store.IncidentResult, error)
	Cursors
}

// Cursors keep pollers' watermarks across restarts.
type Cursors interface {
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
}

// Assigner assigns a work item after its source (see
// workitem.Service.FollowAssignee).
type Assigner interface {
	FollowAssignee(ctx context.Context, id int64, assignee, origin, cause string) (workitem.Item, bool, error)
}

// Follower moves a work item after its source (see workitem.Service.Follow).
type Follower interface {
	Follow(ctx context.Context, id int64, to, origin, cause string, data any) (workitem.Item, bool, error)
}

// Window is how a poller pages through time.
type Window struct {
	// Overlap is how far before the last watermark each poll starts
	// again. An update that lands while a poll runs can carry a
	// modification time earlier than the newest one that poll saw; the
	// overlap reads it on the next poll, and the store's change detection
	// makes the re-read of everything else free.
	Overlap time.Duration
	// Resync is how often a poll also lists every open record, which
	// repairs anything a delta missed (a clock jump at the source, a
	// watermark saved by a crashed version).
	Resync time.Duration
}

// DefaultWindow is used for zero fields.
var DefaultWindow = Window{Overlap: 5 * time.Minute, Resync: time.Hour}

func (w Window) withDefaults() Window {
	if w.Overlap <= 0 {
		w.Overlap = DefaultWindow.Overlap
	}
	if w.Resync <= 0 {
		w.Resync = DefaultWindow.Resync
	}
	return w
}

// SentinelPoller pulls one workspace's incidents into vigil.
type SentinelPoller struct {
	api    SentinelAPI
	store  IncidentStore
	items  Follower
	proc   *workitem.Process
	clock  clock.Clock
	log    *slog.Logger
	name   string
	window Window
	// closedState is where an item goes when its incident is closed in
	// Sentinel: Closed, or Verification for teams that check first.
	closedState string
	noItems     bool
	// secondary: Graph's security/incidents is the configured view of
	// incidents seen through both APIs (alert.Incident.Secondary).
	secondary bool
	// seen holds the etag last stored per incident ("@" and the
	// modification time when it came from the tables, which hold no
	// etag), so that an unchanged incident costs no alert lookup.
	seen map[string]string
	// seenAt holds the modification time last stored per incident: the
	// tables the fast resync reads lag ARM by their ingestion delay, and
	// a row older than what a delta poll stored must not undo it.
	seenAt   map[string]time.Time
	lastFull time.Time
	pace     pacer
	// bulkWarned: the fast resync's fallback has been logged at Warn
	// once; later fallbacks log at Info.
	bulkWarned bool
}

// polled is an incident a poll read, with its alerts when the read
// brought them (bulk), nil when they are to be looked up.
type polled struct {
	inc    *armsecurityinsights.Incident
	alerts []*armsecurityinsights.SecurityAlert
	bulk   bool
}

// pacer spaces requests evenly at a rate per second, so that a first
// poll of a large workspace (one alert lookup per incident) stays inside
// Azure Resource Manager's read budget instead of meeting its 429s.
type pacer struct {
	every time.Duration
	next  time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p.every <= 0 {
		return nil
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.every)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SentinelOptions configures a SentinelPoller.
type SentinelOptions struct {
	// Name identifies the workspace in cursors and logs.
	Name        string
	Window      Window
	ClosedState string
	// NoWorkItems keeps incidents in the store without making work items
	// for them: the reconciler alone.
	NoWorkItems bool
	// Secondary leaves an incident alone when Graph's view of it is
	// stored already (sync.incident_api: graph).
	Secondary bool
	// RequestsPerSecond paces alert lookups (default 20, inside ARM's
	// read refill of 25 per second per subscription; negative: unpaced).
	RequestsPerSecond float64
	Clock             clock.Clock
	Logger            *slog.Logger
}

// NewSentinelPoller returns the poller module for one workspace.
func NewSentinelPoller(api SentinelAPI, st IncidentStore, items Follower, proc *workitem.Process, o SentinelOptions) *SentinelPoller {
	if o.ClosedState == "" {
		o.ClosedState = "Closed"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = 20
	}
	var every time.Duration
	if o.RequestsPerSecond > 0 {
		every = time.Duration(float64(time.Second) / o.RequestsPerSecond)
	}
	return &SentinelPoller{api: api, store: st, items: items, proc: proc, clock: o.Clock, pace: pacer{every: every},
		log: o.Logger.With("component", "sentinel-poller", "workspace", o.Name), name: o.Name,
		window: o.Window.withDefaults(), closedState: o.ClosedState, noItems: o.NoWorkItems, secondary: o.Secondary, seen: map[string]string{},
		seenAt: map[string]time.Time{}}
}

// Name identifies the module.
func (p *SentinelPoller) Name() string { return "sentinel:" + p.name }

// Kind says what the module is, for the health page.
func (p *SentinelPoller) Kind() string { return "poller" }

func (p *SentinelPoller) cursorName() string { return "sentinel:" + p.name + ":modified" }

// UpdateAll runs one poll: the incidents modified since the watermark
// (less the overlap), and every open incident when a resync is due. The
// watermark advances only when every incident of the poll was stored.
func (p *SentinelPoller) UpdateAll(ctx context.Context) error {
	now := p.clock.Now()
	mark, err := p.store.Cursor(ctx, p.cursorName())
	if err != nil {
		return err
	}
	var watermark time.Time
	if mark != "" {
		if watermark, err = time.Parse(time.RFC3339Nano, mark); err != nil {
			return fmt.Errorf("sentinel cursor %q: %w", mark, err)
		}
	}
	var list []polled
	full := p.lastFull.IsZero() || now.Sub(p.lastFull) >= p.window.Resync
	if full {
		if list, err = p.resyncList(ctx); err != nil {
			return err
		}
	}
	if !watermark.IsZero() {
		// The first poll has no watermark: it takes the open incidents
		// only, not the workspace's whole closed history.
		changed, err := p.api.IncidentsModifiedSince(ctx, watermark.Add(-p.window.Overlap))
		if err != nil {
			return fmt.Errorf("incidents modified since %s: %w", watermark.Format(time.RFC3339), err)
		}
		// After the resync's incidents: a delta read through ARM is
		// newer than the same incident read from the tables.
		for _, inc := range changed {
			list = append(list, polled{inc: inc})
		}
	}

	newMark := watermark
	var held time.Time // the oldest change deferred: the watermark stays before it
	var errs []error
	done := map[string]bool{}
	for i := len(list) - 1; i >= 0; i-- { // newest read last wins: walk backwards, skip repeats
		inc := list[i].inc
		snap := sentinel.Describe(inc)
		if snap.Name == "" || done[snap.Name] {
			continue
		}
		done[snap.Name] = true
		if snap.LastModified.After(newMark) {
			newMark = snap.LastModified
		}
		version := snap.ETag
		if list[i].bulk {
			// The tables hold no etag: the modification time stands in,
			// and a row no newer than what was stored is skipped.
			if at, ok := p.seenAt[snap.Name]; ok && !snap.LastModified.After(at) {
				continue
			}
			version = "@" + snap.LastModified.Format(time.RFC3339Nano)
		}
		if p.seen[snap.Name] == version && version != "" {
			continue
		}
		if err := p.store1(ctx, inc, list[i].alerts, snap); errors.Is(err, errDeferred) {
			if held.IsZero() || snap.LastModified.Before(held) {
				held = snap.LastModified
			}
			continue // not marked seen, and the watermark holds: a later poll takes it up
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		p.seen[snap.Name] = version
		if snap.LastModified.After(p.seenAt[snap.Name]) {
			p.seenAt[snap.Name] = snap.LastModified
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sentinel poll: %w", errors.Join(errs...))
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
		// An empty workspace: start the deltas from now.
		return p.store.SetCursor(ctx, p.cursorName(), now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// resyncList reads every open incident: through the workspace's tables
// when the API can (SentinelBulkAPI), else (or when that fails: no
// workspace id, no Log Analytics Reader role, the query API down) through
// ARM, with an alert lookup per incident later. The fast path is tried
// again at the next resync.
func (p *SentinelPoller) resyncList(ctx context.Context) ([]polled, error) {
	if b, ok := p.api.(SentinelBulkAPI); ok {
		bulk, err := b.OpenIncidentsWithAlerts(ctx)
		if err == nil {
			out := make([]polled, 0, len(bulk))
			for _, x := range bulk {
				out = append(out, polled{inc: x.Incident, alerts: x.Alerts, bulk: true})
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("resync open incidents: %w", err)
		}
		level, why := slog.LevelWarn, "the query API failed"
		switch {
		case errors.Is(err, sentinel.ErrNoWorkspaceID):
			level, why = slog.LevelInfo, "no workspace_id configured"
		case sentinel.IsAccessError(err):
			why = "the identity may not read the workspace (it needs Log Analytics Reader on it)"
		}
		if p.bulkWarned && level == slog.LevelWarn {
			level = slog.LevelInfo
		}
		p.bulkWarned = true
		p.log.Log(ctx, level, "full resync through ARM lookups: "+why, "err", err)
	}
	incs, err := p.api.OpenIncidents(ctx)
	if err != nil {
		return nil, fmt.Errorf("resync open incidents: %w", err)
	}
	out := make([]polled, 0, len(incs))
	for _, inc := range incs {
		out = append(out, polled{inc: inc})
	}
	return out, nil
}

// store1 stores one incident and makes its work item follow a closure.
// alerts are the incident's alerts when the read brought them; nil looks
// them up (paced).
func (p *SentinelPoller) store1(ctx context.Context, inc *armsecurityinsights.Incident, alerts []*armsecurityinsights.SecurityAlert, snap sentinel.Snapshot) error {
	if p.secondary && !snap.Created.IsZero() && p.clock.Now().Sub(snap.Created) < secondaryWait {
		// Graph is the configured view and has not had a poll to show this
		// incident yet: stored here first, it would be routed and paged as
		// Sentinel's.
		return errDeferred
	}
	if alerts == nil {
		if err := p.pace.wait(ctx); err != nil {
			return err
		}
		var err error
		if alerts, err = p.api.IncidentAlerts(ctx, snap.Name); err != nil {
			return fmt.Errorf("alerts of incident %d: %w", snap.Number, err)
		}
	}
	in, _, err := sentinel.Map(inc, alerts)
	if err != nil {
		return err
	}
	in.Ref, in.NoWorkItem, in.Secondary = snap.ARMID, p.noItems, p.secondary
	if err := in.Normalize(p.clock.Now()); err != nil {
		return fmt.Errorf("incident %d: %w", snap.Number, err)
	}
	res, err := p.store.UpsertIncident(ctx, p.proc, "sentinel", in)
	if err != nil {
		return err
	}
	if res.Secondary {
		return nil // Graph's view of this incident is the configured one
	}
	// An owner set in the portal becomes the item's assignee (and, through
	// the items service's observers, an open page's responder).
	if a, ok := p.items.(Assigner); ok && res.WorkItemID != 0 && snap.OwnerEmail != "" {
		if _, moved, err := a.FollowAssignee(ctx, res.WorkItemID, strings.ToLower(snap.OwnerEmail), "sentinel",
			fmt.Sprintf("incident %d's owner set in Sentinel", snap.Number)); err != nil {
			return fmt.Errorf("follow incident %d's owner: %w", snap.Number, err)
		} else if moved {
			p.log.Info("work item follows Sentinel's owner", "workitem", res.WorkItemID, "incident", snap.Number)
		}
	}
	closedNow := !in.Status.Open() && (res.PreviousStatus == "" || res.PreviousStatus.Open())
	if !closedNow || res.WorkItemID == 0 || p.items == nil {
		return nil
	}
	cause := fmt.Sprintf("incident %d closed in Sentinel as %s", snap.Number, snap.Classification)
	if snap.ClassificationReason != "" {
		cause += " (" + snap.ClassificationReason + ")"
	}
	if snap.ClassificationComment != "" {
		cause += ": " + snap.ClassificationComment
	}
	_, moved, err := p.items.Follow(ctx, res.WorkItemID, p.closedState, "sentinel", cause, map[string]any{
		"incident": snap.Name, "number": snap.Number, "classification": snap.Classification,
		"classification_reason": snap.ClassificationReason, "etag": snap.ETag})
	if err != nil {
		return fmt.Errorf("follow incident %d: %w", snap.Number, err)
	}
	if moved {
		p.log.Info("work item follows Sentinel", "workitem", res.WorkItemID, "incident", snap.Number, "to", p.closedState)
	}
	return nil
}
