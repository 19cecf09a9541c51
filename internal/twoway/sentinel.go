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
	// seen holds the etag last stored per incident, so that an unchanged
	// incident costs no alert lookup.
	seen     map[string]string
	lastFull time.Time
	pace     pacer
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
		window: o.Window.withDefaults(), closedState: o.ClosedState, noItems: o.NoWorkItems, seen: map[string]string{}}
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
	var list []*armsecurityinsights.Incident
	full := p.lastFull.IsZero() || now.Sub(p.lastFull) >= p.window.Resync
	if full {
		if list, err = p.api.OpenIncidents(ctx); err != nil {
			return fmt.Errorf("resync open incidents: %w", err)
		}
	}
	if !watermark.IsZero() {
		// The first poll has no watermark: it takes the open incidents
		// only, not the workspace's whole closed history.
		changed, err := p.api.IncidentsModifiedSince(ctx, watermark.Add(-p.window.Overlap))
		if err != nil {
			return fmt.Errorf("incidents modified since %s: %w", watermark.Format(time.RFC3339), err)
		}
		list = append(list, changed...)
	}

	newMark := watermark
	var errs []error
	done := map[string]bool{}
	for i := len(list) - 1; i >= 0; i-- { // newest read last wins: walk backwards, skip repeats
		inc := list[i]
		snap := sentinel.Describe(inc)
		if snap.Name == "" || done[snap.Name] {
			continue
		}
		done[snap.Name] = true
		if snap.LastModified.After(newMark) {
			newMark = snap.LastModified
		}
		if p.seen[snap.Name] == snap.ETag && snap.ETag != "" {
			continue
		}
		if err := p.store1(ctx, inc, snap); err != nil {
			errs = append(errs, err)
			continue
		}
		p.seen[snap.Name] = snap.ETag
	}
	if len(errs) > 0 {
		return fmt.Errorf("sentinel poll: %w", errors.Join(errs...))
	}
	if full {
		p.lastFull = now
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

// store1 stores one incident and makes its work item follow a closure.
func (p *SentinelPoller) store1(ctx context.Context, inc *armsecurityinsights.Incident, snap sentinel.Snapshot) error {
	if err := p.pace.wait(ctx); err != nil {
		return err
	}
	alerts, err := p.api.IncidentAlerts(ctx, snap.Name)
	if err != nil {
		return fmt.Errorf("alerts of incident %d: %w", snap.Number, err)
	}
	in, _, err := sentinel.Map(inc, alerts)
	if err != nil {
		return err
	}
	in.Ref, in.NoWorkItem = snap.ARMID, p.noItems
	if err := in.Normalize(p.clock.Now()); err != nil {
		return fmt.Errorf("incident %d: %w", snap.Number, err)
	}
	res, err := p.store.UpsertIncident(ctx, p.proc, "sentinel", in)
	if err != nil {
		return err
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
