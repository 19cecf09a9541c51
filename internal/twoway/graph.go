package twoway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// GraphAPI is the part of Graph security the poller reads.
type GraphAPI interface {
	AlertsV2(ctx context.Context, q graph.Query) ([]graph.AlertV2, error)
	LegacyAlerts(ctx context.Context, q graph.LegacyQuery) ([]graph.LegacyAlert, error)
}

// pulled is one alert read from either Graph API, mapped.
type pulled struct {
	id       string
	updated  time.Time
	isNew    bool // still new at the source: to be claimed
	provider string
	vendor   string
	mapped   alert.Alert
	err      error
	// defender is the Defender for Cloud alert this one is (its name),
	// "" for other products.
	defender string
}

// DefenderAlerts changes the status of the alerts the Defender for Cloud
// connector stores (store.DB does).
type DefenderAlerts interface {
	ChangeAlertStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (store.StatusChange, error)
}

// defenderSource is the Defender connector's source.
const defenderSource = "defender"

// GraphStore keeps the poller's watermark and queues its claims.
type GraphStore interface {
	Cursors
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// Ingester stores alerts and creates their work items (ingest.Pipeline).
type Ingester interface {
	Submit(ctx context.Context, actor string, alerts []alert.Alert) ([]store.IngestResult, error)
}

// GraphPoller pulls Graph security alerts_v2 matching a filter and, with
// Claim, sets each new one inProgress at the source: the "pull and claim"
// flow that teams otherwise build with a Logic App.
//
// Claiming is exactly once, crash or no crash. The work item comes from
// ingest, whose dedup is a unique key in the database; the claim is an
// outbox message whose idempotency key is the alert's id; the watermark
// advances only after both are stored. A crash between the item and the
// claim leaves the watermark behind, the next poll reads the alert again,
// ingest finds the item it already made, and the claim is queued then.
type GraphPoller struct {
	api    GraphAPI
	ingest Ingester
	store  GraphStore
	filter string
	legacy string // provider for the legacy alerts API; "" uses alerts_v2
	claim  bool
	window Window
	clock  clock.Clock
	log    *slog.Logger
	seen   map[string]time.Time // alert id → lastUpdateDateTime last stored
	// defender, when set, holds the Defender connector's alerts.
	defender DefenderAlerts
	lastFull time.Time // the last poll that listed every open alert
}

// GraphOptions configures a GraphPoller.
type GraphOptions struct {
	Filter string
	// LegacyProvider pulls the legacy security/alerts API, by provider
	// (e.g. ASC), instead of alerts_v2.
	LegacyProvider string
	Claim          bool
	// Window.Overlap re-reads the last stretch of each delta;
	// Window.Resync is how often a poll also lists every open alert
	// (matching Filter), which repairs what a delta missed: a change
	// stamped with a lastUpdateDateTime before the watermark.
	Window Window
	// Defender is set when the Defender for Cloud connector runs too:
	// the store of its alerts (store.DB). A Defender for Cloud alert read
	// from Graph (alerts_v2 serviceSource microsoftDefenderForCloud, or a
	// legacy alert of provider ASC) is then the Defender connector's
	// alert, not one of its own: its status changes go to that alert, it
	// makes no work item and is not claimed, so that one finding is one
	// alert and one work item in vigil. Nil keeps such alerts as Graph's.
	Defender DefenderAlerts
	Clock    clock.Clock
	Logger   *slog.Logger
}

// NewGraphPoller returns the poller module.
func NewGraphPoller(api GraphAPI, in Ingester, st GraphStore, o GraphOptions) *GraphPoller {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &GraphPoller{api: api, ingest: in, store: st, filter: o.Filter, legacy: o.LegacyProvider, claim: o.Claim, window: o.Window.withDefaults(),
		clock: o.Clock, log: o.Logger.With("component", "graph-poller"), seen: map[string]time.Time{}, defender: o.Defender}
}

// Name identifies the module.
func (p *GraphPoller) Name() string { return "graph" }

// Kind says what the module is, for the health page.
func (p *GraphPoller) Kind() string { return "poller" }

// Budget reports the Graph client's request budget (none when the API
// is not a budgeted client, as in tests).
func (p *GraphPoller) Budget() Budget {
	b, ok := p.api.(interface {
		Budget() (used, limit int, window time.Duration)
	})
	if !ok {
		return Budget{}
	}
	used, limit, window := b.Budget()
	return Budget{Used: used, Limit: limit, Window: window}
}

func (p *GraphPoller) cursorName() string {
	if p.legacy != "" {
		return "graph:alerts:" + p.legacy + ":updated"
	}
	return "graph:alerts_v2:updated"
}

// read lists the alerts updated since (all open ones when since is zero)
// from the configured API.
func (p *GraphPoller) read(ctx context.Context, since time.Time) ([]pulled, error) {
	var out []pulled
	if p.legacy != "" {
		list, err := p.api.LegacyAlerts(ctx, graph.LegacyQuery{Since: since, Provider: p.legacy})
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			m, err := graph.MapLegacy(a)
			if since.IsZero() && !m.Status.Open() {
				continue // the first poll takes what is still open
			}
			out = append(out, pulled{id: a.ID, updated: a.LastModifiedDateTime.Time, isNew: a.Status == "newAlert",
				provider: a.VendorInformation.Provider, vendor: a.VendorInformation.Vendor, mapped: m, err: err,
				defender: graph.LegacyDefenderAlertName(a)})
		}
		return out, nil
	}
	q := graph.Query{Filter: p.filter, Since: since}
	if since.IsZero() {
		// The first poll takes what is still open, not the tenant's history.
		q.Filter = "status ne 'resolved'"
		if p.filter != "" {
			q.Filter = "(" + p.filter + ") and " + q.Filter
		}
	}
	list, err := p.api.AlertsV2(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		m, err := graph.Map(a)
		out = append(out, pulled{id: a.ID, updated: a.LastUpdateDateTime, isNew: a.Status == "new", mapped: m, err: err,
			defender: graph.DefenderAlertName(a)})
	}
	return out, nil
}

// UpdateAll runs one poll: the alerts updated since the watermark (less
// the overlap) and, when a resync is due, every open alert. The watermark
// advances only after the poll's alerts are stored.
func (p *GraphPoller) UpdateAll(ctx context.Context) error {
	now := p.clock.Now()
	mark, err := p.store.Cursor(ctx, p.cursorName())
	if err != nil {
		return err
	}
	var watermark, since time.Time
	if mark != "" {
		if watermark, err = time.Parse(time.RFC3339Nano, mark); err != nil {
			return fmt.Errorf("graph cursor %q: %w", mark, err)
		}
		since = watermark.Add(-p.window.Overlap)
	}
	list, err := p.read(ctx, since)
	if err != nil {
		return fmt.Errorf("graph alerts: %w", err)
	}
	// The first poll (no watermark) lists the open alerts already.
	full := since.IsZero() || p.lastFull.IsZero() || now.Sub(p.lastFull) >= p.window.Resync
	if full && !since.IsZero() {
		open, err := p.read(ctx, time.Time{})
		if err != nil {
			return fmt.Errorf("resync open graph alerts: %w", err)
		}
		// The delta's copy comes later and wins: it is as new or newer.
		list = append(open, list...)
	}
	newMark := watermark
	var batch []alert.Alert
	var fresh, linked []pulled
	done := map[string]bool{}
	for i := len(list) - 1; i >= 0; i-- { // the last copy read of an alert wins
		a := list[i]
		if done[a.id] {
			continue
		}
		done[a.id] = true
		if a.updated.After(newMark) {
			newMark = a.updated
		}
		// A resync passes what was seen: a change the delta missed may
		// carry a time no later than the one last stored, and the store's
		// change detection makes re-reading the rest free.
		if seen, ok := p.seen[a.id]; ok && !full && !a.updated.After(seen) {
			continue
		}
		if a.err != nil {
			p.log.Warn("skipping unmappable alert", "alert", a.id, "err", a.err)
			continue
		}
		if p.defender != nil && a.defender != "" {
			linked = append(linked, a)
			continue
		}
		if err := a.mapped.Normalize(now); err != nil {
			p.log.Warn("skipping invalid alert", "alert", a.id, "err", err)
			continue
		}
		batch, fresh = append(batch, a.mapped), append(fresh, a)
	}
	if len(batch) > 0 {
		results, err := p.ingest.Submit(ctx, "connector:graph", batch)
		if err != nil {
			return fmt.Errorf("store %d graph alerts: %w", len(batch), err)
		}
		if p.claim {
			if err := p.claimNew(ctx, fresh, results); err != nil {
				return err
			}
		}
		for _, a := range fresh {
			p.seen[a.id] = a.updated
		}
	}
	if err := p.updateLinked(ctx, linked); err != nil {
		return err
	}
	if full {
		p.lastFull = now
	}
	if newMark.After(watermark) {
		return p.store.SetCursor(ctx, p.cursorName(), newMark.UTC().Format(time.RFC3339Nano))
	}
	if watermark.IsZero() {
		return p.store.SetCursor(ctx, p.cursorName(), now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// updateLinked carries the status Graph shows for Defender for Cloud
// alerts to the Defender connector's alerts. One the Defender connector
// has not stored yet is left to it: it reads the finding itself, status
// included, and a resync or the overlap here tries again.
func (p *GraphPoller) updateLinked(ctx context.Context, alerts []pulled) error {
	for _, a := range alerts {
		ch, err := p.defender.ChangeAlertStatus(ctx, defenderSource, a.defender, a.mapped.Status, "connector:graph",
			"as Microsoft Graph shows Defender for Cloud alert "+a.id)
		if err != nil {
			return fmt.Errorf("status of Defender alert %s from graph alert %s: %w", a.defender, a.id, err)
		}
		if !ch.Found {
			p.log.Debug("Defender for Cloud alert not stored by the Defender connector yet", "alert", a.id, "defender_alert", a.defender)
			continue
		}
		p.seen[a.id] = a.updated
	}
	return nil
}

// claimNew queues "set inProgress" for each alert still new at the source.
func (p *GraphPoller) claimNew(ctx context.Context, alerts []pulled, results []store.IngestResult) error {
	var msgs []outbox.Message
	var entries []workitem.Entry
	for i, a := range alerts {
		if !a.isNew || i >= len(results) {
			continue
		}
		m := outbox.Message{WorkItemID: results[i].WorkItemID, Target: graph.Target, Op: graph.OpUpdate,
			Resource: a.id, IdemKey: "graph:claim:" + a.id}
		m.Payload, _ = json.Marshal(graph.UpdatePayload{Status: "inProgress"})
		if p.legacy != "" {
			m.Op = graph.OpLegacyUpdate
			m.Payload, _ = json.Marshal(graph.LegacyUpdatePayload{Status: "inProgress", Provider: a.provider, Vendor: a.vendor})
		}
		msgs = append(msgs, m)
		entries = append(entries, workitem.Entry{Actor: "graph-poller", Kind: workitem.KindSync,
			Message: fmt.Sprintf("claimed Graph alert %s: queued setting it inProgress at the source", a.id),
			Data:    map[string]string{"alert": a.id, "idem_key": m.IdemKey}})
	}
	if len(msgs) == 0 {
		return nil
	}
	if _, err := p.store.Enqueue(ctx, msgs, entries); err != nil {
		return fmt.Errorf("queue graph claims: %w", err)
	}
	return nil
}
