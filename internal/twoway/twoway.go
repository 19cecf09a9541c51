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
	"fmt"
	"log/slog"
	"time"
)

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
	s := NewSequence(c)
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		s.UpdateAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sequence is one cycle as an engine module named "sync": the modules
// one after the other, each pass recorded in the cycle's Health, and the
// cycle's changes logged as one line. The engine runs it under one lock,
// so that one instance at a time polls Microsoft's APIs.
type Sequence struct {
	c       Cycle
	log     *slog.Logger
	act     *Activity
	failing map[string]string // module → its last error, while failing
}

// NewSequence returns c as a module. c.After runs at the end of each
// pass, before its changes are logged; c.Interval is the engine's
// business (engine.Spec) and is not used.
func NewSequence(c Cycle) *Sequence {
	s := &Sequence{c: c, log: c.Log, act: c.Activity, failing: map[string]string{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.act == nil {
		s.act = NewActivity()
	}
	c.Health.Register(c.Modules...)
	return s
}

// Name identifies the sequence's engine module and lock.
func (s *Sequence) Name() string { return "sync" }

// UpdateAll runs each module once, in order. A failed module is logged
// and the others run; the sequence itself fails only when every module
// failed, so that the engine's record says whether sync works at all.
func (s *Sequence) UpdateAll(ctx context.Context) error {
	start := time.Now()
	mctx := WithActivity(ctx, s.act)
	failed := 0
	for _, m := range s.c.Modules {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.c.pass(mctx, m, s.log, s.failing) {
			failed++
		}
	}
	if s.c.After != nil && ctx.Err() == nil {
		s.c.After()
	}
	if summary := s.act.Drain(); summary != "" {
		s.log.Info("sync cycle: "+summary, "took", time.Since(start).Round(time.Millisecond))
	}
	if failed > 0 && failed == len(s.c.Modules) {
		return fmt.Errorf("every sync module failed (%d)", failed)
	}
	return nil
}

// pass runs one module's pass, logs its outcome (see Run) and reports
// whether it succeeded.
func (c Cycle) pass(ctx context.Context, m Module, log *slog.Logger, failing map[string]string) bool {
	name := m.Name()
	start := time.Now()
	err := c.Health.Run(ctx, m)
	took := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		return true // shutting down is not a failure
	}
	var text string
	if err != nil {
		text = c.Health.Scrubbed(err.Error()) // a connector's error can carry a secret
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
	return err == nil
}
