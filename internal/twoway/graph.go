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
}

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
}

// GraphOptions configures a GraphPoller.
type GraphOptions struct {
	Filter string
	// LegacyProvider pulls the legacy security/alerts API, by provider
	// (e.g. ASC), instead of alerts_v2.
	LegacyProvider string
	Claim          bool
	Window         Window
	Clock          clock.Clock
	Logger         *slog.Logger
}

// NewGraphPoller returns the poller module.
func NewGraphPoller(api GraphAPI, in Ingester, st GraphStore, o GraphOptions) *GraphPoller {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &GraphPoller{api: api, ingest: in, store: st, filter: o.Filter, legacy: o.LegacyProvider, claim: o.Claim, window: o.Window.withDefaults(),
		clock: o.Clock, log: o.Logger.With("component", "graph-poller"), seen: map[string]time.Time{}}
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
				provider: a.VendorInformation.Provider, vendor: a.VendorInformation.Vendor, mapped: m, err: err})
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
		out = append(out, pulled{id: a.ID, updated: a.LastUpdateDateTime, isNew: a.Status == "new", mapped: m, err: err})
	}
	return out, nil
}

// UpdateAll runs one poll.
func (p *GraphPoller) UpdateAll(ctx context.Context) error {
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
	newMark := watermark
	var batch []alert.Alert
	var fresh []pulled
	for _, a := range list {
		if a.updated.After(newMark) {
			newMark = a.updated
		}
		if seen, ok := p.seen[a.id]; ok && !a.updated.After(seen) {
			continue
		}
		if a.err != nil {
			p.log.Warn("skipping unmappable alert", "alert", a.id, "err", a.err)
			continue
		}
		if err := a.mapped.Normalize(p.clock.Now()); err != nil {
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
	if newMark.After(watermark) {
		return p.store.SetCursor(ctx, p.cursorName(), newMark.UTC().Format(time.RFC3339Nano))
	}
	if watermark.IsZero() {
		return p.store.SetCursor(ctx, p.cursorName(), p.clock.Now().UTC().Format(time.RFC3339Nano))
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
