package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target "notify": it decodes the notification in a
// message's payload and hands it to the channel for its contact method
// type.
type Target struct {
	channels map[string]Channel
	prepare  Preparer
	record   Recorder
	clock    func() time.Time
	log      *slog.Logger
	// ledger enables rate limits and bundling; overrides replace a
	// channel's own limits (configuration).
	ledger    Ledger
	overrides map[string]Limits
	// counter counts each attempt's outcome for Prometheus; nil: none.
	counter *Counter
}

// Limit enables rate limits and bundling over ledger; overrides replace
// the limits of the channels they name.
func (t *Target) Limit(l Ledger, overrides map[string]Limits) *Target {
	t.ledger, t.overrides = l, overrides
	return t
}

// Recorder keeps the notification log: every attempt, its provider id,
// status and timing. final says no retry will follow, so the person's
// next contact method may be tried. A recording error is logged, never
// returned to the outbox: the send itself happened, and a retry would
// send it twice.
type Recorder interface {
	RecordSend(ctx context.Context, n Notification, r Receipt, sendErr error, final bool, took time.Duration) error
}

// Record sets the recorder.
func (t *Target) Record(r Recorder, now func() time.Time, log *slog.Logger) *Target {
	t.record, t.clock, t.log = r, now, log
	return t
}

// Preparer completes a notification just before it is sent with what
// must not be stored in the outbox: a signed acknowledgement link, a
// verification code. Both are derived again from the notification's
// identity and a server key, so nothing secret waits in a payload.
type Preparer func(ctx context.Context, n *Notification) error

// Prepare sets the preparer.
func (t *Target) Prepare(p Preparer) *Target {
	t.prepare = p
	return t
}

var _ outbox.Target = (*Target)(nil)

// NewTarget returns a target dispatching to chs by Channel.Type; a later
// channel of the same type replaces an earlier one.
func NewTarget(chs ...Channel) *Target {
	t := &Target{channels: make(map[string]Channel, len(chs)), clock: time.Now, log: slog.Default()}
	for _, ch := range chs {
		t.channels[ch.Type()] = ch
	}
	return t
}

// Send delivers one outbox message. A payload that does not decode, an
// op that does not match the contact method, or a type with no channel
// are permanent errors: retrying cannot fix them.
func (t *Target) Send(ctx context.Context, m outbox.Message) error {
	var n Notification
	if err := json.Unmarshal(m.Payload, &n); err != nil {
		return fmt.Errorf("notify: decode outbox message %d: %w", m.ID, err)
	}
	if m.Op != opFor(n.To.Type) {
		return fmt.Errorf("notify: outbox message %d has op %q for a %q contact method", m.ID, m.Op, n.To.Type)
	}
	ch, ok := t.channels[n.To.Type]
	if !ok {
		// Nobody will ever get it: as failed as a send that was refused.
		t.counter.Add(n.To.Type, StatusFailed)
		return fmt.Errorf("notify: no channel for contact method type %q", n.To.Type)
	}
	var joined []outbox.Message
	if t.ledger != nil {
		now := t.clock()
		if b, ok := ch.(Bundling); ok && b.Bundles() {
			// An earlier message of this pass may have carried this one.
			if cur, err := t.ledger.GetOutbox(ctx, m.ID); err == nil && cur.State != outbox.Pending {
				return &outbox.SkipError{Reason: "already sent in a bundle"}
			}
		}
		until, why, err := t.hold(ctx, ch, n, now)
		if err != nil {
			return fmt.Errorf("notify: rate limit of outbox message %d: %w", m.ID, err)
		}
		if !until.IsZero() {
			return &outbox.DeferError{Until: until, Reason: why}
		}
		if b, ok := ch.(Bundling); ok && b.Bundles() && n.Kind == KindPage {
			if joined, err = t.bundle(ctx, m, &n, now); err != nil {
				return fmt.Errorf("notify: bundle outbox message %d: %w", m.ID, err)
			}
		}
	}
	if t.prepare != nil {
		if err := t.prepare(ctx, &n); err != nil {
			return fmt.Errorf("notify: prepare outbox message %d: %w", m.ID, err)
		}
	}
	if t.record == nil {
		_, err := ch.Send(ctx, n)
		status, _ := outcome(err, m.Attempts)
		t.counter.Add(n.To.Type, status)
		if err == nil && len(joined) > 0 {
			t.bundled(ctx, n, Receipt{}, joined, 0)
		}
		return err
	}
	start := t.clock()
	r, err := ch.Send(ctx, n)
	took := t.clock().Sub(start)
	if err == nil && len(joined) > 0 {
		defer t.bundled(ctx, n, r, joined, took)
	}
	if r.Provider == "" {
		r.Provider = ch.Type()
	}
	status, final := outcome(err, m.Attempts)
	if err != nil {
		r.Status = status
	}
	t.counter.Add(n.To.Type, status)
	if rerr := t.record.RecordSend(ctx, n, r, err, final, took); rerr != nil {
		t.log.Error("notification log", "notification", n.ID, "err", rerr)
	}
	return err
}

// outcome is the notification log's status of an attempt that ended with
// err, the message having been tried attempts times before: sent,
// retrying while the outbox will try again, failed when it will not.
func outcome(err error, attempts int) (status string, final bool) {
	var re *outbox.RetryableError
	switch {
	case err == nil:
		return StatusSent, false
	case errors.As(err, &re) && attempts+1 < outbox.MaxAttempts:
		return StatusRetrying, false
	}
	return StatusFailed, true
}
