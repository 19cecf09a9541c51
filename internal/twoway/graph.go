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
	claim  bool
	window Window
	clock  clock.Clock
	log    *slog.Logger
	seen   map[string]time.Time // alert id → lastUpdateDateTime last stored
}

// GraphOptions configures a GraphPoller.
type GraphOptions struct {
	Filter string
	Claim  bool
	Window Window
	Clock  clock.Clock
	Logger *slog.Logger
}

// NewGraphPoller returns the poller module.
func NewGraphPoller(api GraphAPI, in Ingester, st GraphStore, o GraphOptions) *GraphPoller {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &GraphPoller{api: api, ingest: in, store: st, filter: o.Filter, claim: o.Claim, window: o.Window.withDefaults(),
		clock: o.Clock, log: o.Logger.With("component", "graph-poller"), seen: map[string]time.Time{}}
}

// Name identifies the module.
func (p *GraphPoller) Name() string { return "graph" }

const graphCursor = "graph:alerts_v2:updated"

// UpdateAll runs one poll.
func (p *GraphPoller) UpdateAll(ctx context.Context) error {
	mark, err := p.store.Cursor(ctx, graphCursor)
	if err != nil {
		return err
	}
	q := graph.Query{Filter: p.filter}
	var watermark time.Time
	if mark != "" {
		if watermark, err = time.Parse(time.RFC3339Nano, mark); err != nil {
			return fmt.Errorf("graph cursor %q: %w", mark, err)
		}
		q.Since = watermark.Add(-p.window.Overlap)
	} else {
		// The first poll takes what is still open, not the tenant's history.
		q.Filter = "status ne 'resolved'"
		if p.filter != "" {
			q.Filter = "(" + p.filter + ") and " + q.Filter
		}
	}
	list, err := p.api.AlertsV2(ctx, q)
	if err != nil {
		return fmt.Errorf("graph alerts: %w", err)
	}
	newMark := watermark
	var batch []alert.Alert
	var raw []graph.AlertV2
	for _, a := range list {
		updated := a.LastUpdateDateTime
		if updated.After(newMark) {
			newMark = updated
		}
		if seen, ok := p.seen[a.ID]; ok && !updated.After(seen) {
			continue
		}
		m, err := graph.Map(a)
		if err != nil {
			p.log.Warn("skipping unmappable alert", "alert", a.ID, "err", err)
			continue
		}
		if err := m.Normalize(p.clock.Now()); err != nil {
			p.log.Warn("skipping invalid alert", "alert", a.ID, "err", err)
			continue
		}
		batch, raw = append(batch, m), append(raw, a)
	}
	if len(batch) > 0 {
		results, err := p.ingest.Submit(ctx, "connector:graph", batch)
		if err != nil {
			return fmt.Errorf("store %d graph alerts: %w", len(batch), err)
		}
		if p.claim {
			if err := p.claimNew(ctx, raw, results); err != nil {
				return err
			}
		}
		for _, a := range raw {
			p.seen[a.ID] = a.LastUpdateDateTime
		}
	}
	if newMark.After(watermark) {
		return p.store.SetCursor(ctx, graphCursor, newMark.UTC().Format(time.RFC3339Nano))
	}
	if watermark.IsZero() {
		return p.store.SetCursor(ctx, graphCursor, p.clock.Now().UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// claimNew queues "set inProgress" for each alert still new at the source.
func (p *GraphPoller) claimNew(ctx context.Context, alerts []graph.AlertV2, results []store.IngestResult) error {
	var msgs []outbox.Message
	var entries []workitem.Entry
	payload, _ := json.Marshal(graph.UpdatePayload{Status: "inProgress"})
	for i, a := range alerts {
		if a.Status != "new" || i >= len(results) {
			continue
		}
		msgs = append(msgs, outbox.Message{WorkItemID: results[i].WorkItemID, Target: graph.Target, Op: graph.OpUpdate,
			Resource: a.ID, Payload: payload, IdemKey: "graph:claim:" + a.ID})
		entries = append(entries, workitem.Entry{Actor: "graph-poller", Kind: workitem.KindSync,
			Message: fmt.Sprintf("claimed Graph alert %s: queued setting it inProgress at the source", a.ID),
			Data:    map[string]string{"alert": a.ID, "idem_key": "graph:claim:" + a.ID}})
	}
	if len(msgs) == 0 {
		return nil
	}
	if _, err := p.store.Enqueue(ctx, msgs, entries); err != nil {
		return fmt.Errorf("queue graph claims: %w", err)
	}
	return nil
}
