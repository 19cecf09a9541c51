// Package twoway keeps vigil and the systems it syncs with in agreement:
// pollers that pull Sentinel incidents, Defender for Cloud alerts and
// Graph alerts with delta windows, the Defender↔Sentinel reconciler, the
// inbound moves that make a work item follow its source, and the mirror
// that creates an external tracker's record for each new item. Writes to
// the outside go through the outbox (package outbox); connectors are in
// package connector/….
//
// Each worker here is an engine module: a Name and an idempotent
// UpdateAll(ctx), run on a ticker by Run.
package twoway

import (
	"context"
	"log/slog"
	"time"
)

// Module is one background worker.
type Module interface {
	Name() string
	UpdateAll(ctx context.Context) error
}

// Run calls m.UpdateAll every interval until ctx is done; a failed pass is
// logged and retried on the next tick.
func Run(ctx context.Context, m Module, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.UpdateAll(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sync pass failed", "module", m.Name(), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
