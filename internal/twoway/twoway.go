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
	Cycle{Modules: modules, Interval: interval, After: after, Log: log}.Run(ctx)
}

// RunCycleWithHealth is RunCycle recording each module's passes in h
// (nil records nothing).
func RunCycleWithHealth(ctx context.Context, modules []Module, interval time.Duration, after func(), log *slog.Logger, h *Health) {
	Cycle{Modules: modules, Interval: interval, After: after, Log: log, Health: h}.Run(ctx)
}

// Cycle is the engine's loop (see RunCycle) with everything it can be
// given.
type Cycle struct {
	Modules  []Module
	Interval time.Duration
	// After runs at the end of each cycle (poking the outbox sender).
	After func()
	Log   *slog.Logger
	// Health records each module's passes; nil records nothing.
	Health *Health
	// Activity collects the changes the modules note (Note) and the
	// outbox sender's deliveries; nil gets a fresh one. What it holds at
	// the end of a cycle is logged as one info line.
	Activity *Activity
}

// Run runs the cycle until ctx is done.
//
// The engine runs every few seconds for as long as vigil runs, so its
// logs say only what changed: one info line per cycle that changed
// something ("sync cycle: 2 work items followed Sentinel, 3 writes
// delivered"), nothing for a quiet one, and each pass at debug. A module
// that starts failing, or fails differently, is a warning; the same
// failure again is debug, and its recovery is info, so an unreachable
// service is reported once, not every cycle.
func (c Cycle) Run(ctx context.Context) {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	act := c.Activity
	if act == nil {
		act = NewActivity()
	}
	mctx := WithActivity(ctx, act)
	c.Health.Register(c.Modules...)
	failing := map[string]string{} // module → its last error, while failing
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		start := time.Now()
		for _, m := range c.Modules {
			if ctx.Err() != nil {
				return
			}
			c.pass(mctx, m, log, failing)
		}
		if c.After != nil {
			c.After()
		}
		if summary := act.Drain(); summary != "" {
			log.Info("sync cycle: "+summary, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass runs one module's pass and logs its outcome: see Run.
func (c Cycle) pass(ctx context.Context, m Module, log *slog.Logger, failing map[string]string) {
	name := m.Name()
	start := time.Now()
	err := c.Health.Run(ctx, m)
	took := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		return // shutting down is not a failure
	}
	var text string
	if err != nil {
		text = c.Health.scrub(err.Error()) // a connector's error can carry a secret
	}
	prev, wasFailing := failing[name]
	switch {
	case err == nil && wasFailing:
		delete(failing, name)
		log.Info("sync pass recovered", "module", name, "took", took)
	case err == nil:
		log.Debug("sync pass", "module", name, "took", took)
	case wasFailing && prev == text:
		log.Debug("sync pass failed again", "module", name, "err", text)
	default:
		failing[name] = text
		log.Warn("sync pass failed", "module", name, "err", text)
	}
}
