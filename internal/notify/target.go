package notify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target "notify": it decodes the notification in a
// message's payload and hands it to the channel for its contact method
// type.
type Target struct {
	channels map[string]Channel
	prepare  Preparer
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
	t := &Target{channels: make(map[string]Channel, len(chs))}
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
		return fmt.Errorf("notify: no channel for contact method type %q", n.To.Type)
	}
	if t.prepare != nil {
		if err := t.prepare(ctx, &n); err != nil {
			return fmt.Errorf("notify: prepare outbox message %d: %w", m.ID, err)
		}
	}
	return ch.Send(ctx, n)
}
