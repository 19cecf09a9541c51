// Package twoway keeps vigil and the systems it syncs with in agreement:
// pollers that pull Sentinel incidents, Defender for Cloud alerts and
// Graph alerts with delta windows, the Defender↔Sentinel reconciler, the
// inbound moves that make a work item follow its source, and the mirror
// that creates an external tracker's record for each new item. Writes to
// the outside go through the outbox (package outbox); connectors are in
// package connector/….
//
// Each worker here is an engine module: a Name and an idempotent
// UpdateAll(ctx), run in order on a ticker by RunCycle, which can record
// each pass in a Health registry for the admin page.
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

// RunCycle runs modules one after the other, then calls after, every
// interval until ctx is done. Running the pollers before the reconciler
// and the mirror, and poking the outbox sender at the end, makes one
// cycle carry a change at a source all the way to its write-back: a
// Defender alert dismissed in the portal closes its Sentinel incident
// within one cycle, not after a poll, a reconcile and a send that each
// wait for their own ticker. A failed module is logged; the others run.
func RunCycle(ctx context.Context, modules []Module, interval time.Duration, after func(), log *slog.Logger) {
	RunCycleWithHealth(ctx, modules, interval, after, log, nil)
}

// RunCycleWithHealth is RunCycle recording each module's passes in h
// (nil records nothing).
func RunCycleWithHealth(ctx context.Context, modules []Module, interval time.Duration, after func(), log *slog.Logger, h *Health) {
	h.Register(modules...)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, m := range modules {
			if ctx.Err() != nil {
				return
			}
			if err := h.Run(ctx, m); err != nil && ctx.Err() == nil {
				log.Warn("sync pass failed", "module", m.Name(), "err", err)
			}
		}
		if after != nil {
			after()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
