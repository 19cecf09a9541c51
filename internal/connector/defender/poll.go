package defender

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Sink stores alerts; the ingest pipeline is one.
type Sink func(ctx context.Context, alerts []alert.Alert) error

// Poller copies Defender for Cloud alerts into vigil. Each pass lists the
// subscription's alerts and submits those that are new or changed since
// the last pass (by status and processing time), so that an unchanged
// alert does not add a version on every poll.
//
// This is the simple full-list pull the demo needs; delta polling with an
// overlap window, budgets and write-back belong to the sync engine.
type Poller struct {
	client *Client
	sink   Sink
	now    func() time.Time
	log    *slog.Logger
	seen   map[string]string // alert name → status and processing time last submitted
}

// NewPoller returns a poller that submits to sink.
func NewPoller(c *Client, sink Sink, log *slog.Logger, now func() time.Time) *Poller {
	return &Poller{client: c, sink: sink, now: now, log: log.With("component", "defender-poller"), seen: map[string]string{}}
}

// UpdateAll runs one pass. It is idempotent: a pass with nothing new
// submits nothing.
func (p *Poller) UpdateAll(ctx context.Context) error {
	list, err := p.client.Alerts(ctx)
	if err != nil {
		return err
	}
	var batch []alert.Alert
	var marks []string
	var names []string
	for _, a := range list {
		m, err := Map(a)
		if err != nil {
			p.log.Warn("skipping malformed alert", "err", err)
			continue
		}
		mark := string(m.Status) + "|" + m.LastSeen.Format(time.RFC3339Nano)
		if p.seen[m.SourceID] == mark {
			continue
		}
		if err := m.Normalize(p.now()); err != nil {
			p.log.Warn("skipping invalid alert", "alert", m.SourceID, "err", err)
			continue
		}
		batch = append(batch, m)
		marks = append(marks, mark)
		names = append(names, m.SourceID)
	}
	if len(batch) == 0 {
		return nil
	}
	if err := p.sink(ctx, batch); err != nil {
		return fmt.Errorf("submit %d defender alerts: %w", len(batch), err)
	}
	// Only what was stored counts as seen, so a failed pass is retried whole.
	for i, n := range names {
		p.seen[n] = marks[i]
	}
	p.log.Debug("defender alerts submitted", "count", len(batch))
	return nil
}

// Run polls every interval until ctx is done.
func (p *Poller) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.UpdateAll(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("defender poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
