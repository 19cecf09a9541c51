package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Store is the persistence the sender needs.
type Store interface {
	ClaimOutbox(ctx context.Context, lease time.Duration, limit int) ([]Message, error)
	CompleteOutbox(ctx context.Context, id int64) error
	RescheduleOutbox(ctx context.Context, id int64, next time.Time, errText string) error
	FailOutbox(ctx context.Context, id int64, errText string) error
	// DeferOutbox moves a message's next attempt without counting one
	// (a rate limit held it back; nothing was tried).
	DeferOutbox(ctx context.Context, id int64, next time.Time, reason string) error
	// AppendTimeline records an outcome on the item's timeline.
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
}

// Target delivers messages to one external system. Send must be
// idempotent: a message is sent again when a previous attempt's answer was
// lost.
type Target interface {
	Send(ctx context.Context, m Message) error
}

// RetryableError is a failure worth retrying (throttling, a 5xx, a
// network error, a role assignment still propagating), with the wait the
// service asked for, if any.
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// ConflictError says a write was not applied because the resource changed
// at the source in a way that makes it no longer valid (the incident was
// closed by someone else, say). The connector has already re-read the
// resource; the message is complete, and the conflict goes on the
// timeline instead of being retried.
type ConflictError struct {
	Reason string
}

func (e *ConflictError) Error() string { return "conflict: " + e.Reason }

// DeferError holds a message back until Until without counting an
// attempt: a rate limit of the target's own (a person's phone gets at
// most so many texts a minute), not a failure.
type DeferError struct {
	Until  time.Time
	Reason string
}

func (e *DeferError) Error() string { return "deferred: " + e.Reason }

// SkipError completes a message without sending it: what it would have
// said was already delivered another way (bundled into another
// notification). Reason goes on the timeline.
type SkipError struct {
	Reason string
}

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Sender is the engine module that delivers the outbox: each UpdateAll
// claims the due messages, sends them, and records every outcome.
type Sender struct {
	store   Store
	targets map[string]Target
	clock   clock.Clock
	log     *slog.Logger
	rnd     *rand.Rand
	lease   time.Duration
	poke    chan struct{}
	tally   Tally
}

// Tally counts outcomes for a periodic summary (the sync engine's
// twoway.Activity): a delivery is routine, so it is counted, not logged
// at info one line each.
type Tally interface {
	Note(one, many string, n int)
}

// CountInto makes the sender count every outcome into t; nil counts
// nothing. Call it before Run.
func (s *Sender) CountInto(t Tally) { s.tally = t }

func (s *Sender) count(one, many string) {
	if s.tally != nil {
		s.tally.Note(one, many, 1)
	}
}

// NewSender returns a sender for the given targets, keyed by Message.Target.
func NewSender(st Store, targets map[string]Target, clk clock.Clock, log *slog.Logger) *Sender {
	return &Sender{store: st, targets: targets, clock: clk, log: log.With("component", "outbox"),
		rnd: rand.New(rand.NewPCG(uint64(clk.Now().UnixNano()), 7)), lease: 2 * time.Minute,
		poke: make(chan struct{}, 1)}
}

// Name identifies the engine module.
func (s *Sender) Name() string { return "outbox" }

// UpdateAll sends every due message once. It is idempotent: with nothing
// due it does nothing.
func (s *Sender) UpdateAll(ctx context.Context) error {
	due, err := s.store.ClaimOutbox(ctx, s.lease, 100)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range due {
		if err := s.send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Sender) send(ctx context.Context, m Message) error {
	what := fmt.Sprintf("%s %s on %s", m.Target, m.Op, m.Resource)
	data := map[string]any{"outbox_id": m.ID, "target": m.Target, "op": m.Op, "resource": m.Resource, "attempt": m.Attempts + 1}
	t, ok := s.targets[m.Target]
	if !ok {
		return s.fail(ctx, m, what, data, fmt.Errorf("no connector for target %q", m.Target))
	}
	err := t.Send(ctx, m)
	if err == nil {
		if err := s.store.CompleteOutbox(ctx, m.ID); err != nil {
			return err
		}
		s.log.Debug("write-back done", "outbox_id", m.ID, "target", m.Target, "op", m.Op)
		s.count("write delivered", "writes delivered")
		return s.note(ctx, m, "write-back done: "+what, data)
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		if err := s.store.CompleteOutbox(ctx, m.ID); err != nil {
			return err
		}
		data["conflict"] = ce.Reason
		s.log.Debug("write-back not applied", "outbox_id", m.ID, "target", m.Target, "op", m.Op, "conflict", ce.Reason)
		s.count("write not applied (changed at the source)", "writes not applied (changed at the source)")
		return s.note(ctx, m, fmt.Sprintf("write-back not applied: %s changed at the source: %s", what, ce.Reason), data)
	}
	var de *DeferError
	if errors.As(err, &de) {
		if err := s.store.DeferOutbox(ctx, m.ID, de.Until, de.Reason); err != nil {
			return err
		}
		s.log.Debug("write-back deferred", "outbox_id", m.ID, "target", m.Target, "op", m.Op, "until", de.Until, "reason", de.Reason)
		// One line per hold, not per pass: a held message is claimed
		// again only when its time comes.
		data["deferred_until"] = de.Until
		return s.note(ctx, m, fmt.Sprintf("held until %s: %s (%s)", de.Until.UTC().Format("15:04:05"), what, de.Reason), data)
	}
	var se *SkipError
	if errors.As(err, &se) {
		if err := s.store.CompleteOutbox(ctx, m.ID); err != nil {
			return err
		}
		return s.note(ctx, m, fmt.Sprintf("not sent: %s (%s)", what, se.Reason), data)
	}
	var re *RetryableError
	if !errors.As(err, &re) {
		return s.fail(ctx, m, what, data, err)
	}
	if m.Attempts+1 >= MaxAttempts {
		return s.fail(ctx, m, what, data, fmt.Errorf("gave up after %d attempts: %w", m.Attempts+1, err))
	}
	wait := Backoff(m.Attempts+1, re.After, s.rnd)
	next := s.clock.Now().Add(wait)
	if err := s.store.RescheduleOutbox(ctx, m.ID, next, err.Error()); err != nil {
		return err
	}
	data["error"], data["retry_at"] = err.Error(), next
	s.log.Debug("write-back will be retried", "outbox_id", m.ID, "target", m.Target, "op", m.Op, "wait", wait, "err", err)
	s.count("write to retry", "writes to retry")
	return s.note(ctx, m, fmt.Sprintf("write-back will be retried in %s: %s (%v)", wait.Round(time.Second), what, err), data)
}

func (s *Sender) fail(ctx context.Context, m Message, what string, data map[string]any, err error) error {
	if ferr := s.store.FailOutbox(ctx, m.ID, err.Error()); ferr != nil {
		return ferr
	}
	s.log.Warn("write-back failed", "outbox_id", m.ID, "target", m.Target, "op", m.Op, "err", err)
	data["error"] = err.Error()
	return s.note(ctx, m, fmt.Sprintf("write-back failed: %s (%v); retry it from the outbox", what, err), data)
}

func (s *Sender) note(ctx context.Context, m Message, msg string, data map[string]any) error {
	if m.WorkItemID == 0 {
		return nil
	}
	return s.store.AppendTimeline(ctx, m.WorkItemID, "vigil", "sync", msg, data)
}

// Poke makes a running sender look for due messages now rather than at
// its next tick (something was just queued).
func (s *Sender) Poke() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Run calls UpdateAll every interval, or when poked, until ctx is done.
func (s *Sender) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.UpdateAll(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("outbox pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poke:
		}
	}
}
