package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
)

// Provider is the Receipt's provider name.
const Provider = "slack"

// Channel is the notify.Channel for contact methods of type "slack".
type Channel struct{ c *Client }

var (
	_ notify.Channel = (*Channel)(nil)
	_ notify.Limited = (*Channel)(nil)
)

// NewChannel returns the Slack channel posting through c.
func NewChannel(c *Client) *Channel { return &Channel{c: c} }

// Type is notify.TypeSlack.
func (ch *Channel) Type() string { return notify.TypeSlack }

// DefaultLimits follow chat.postMessage's documented limit, about one
// message a second to one channel, with a minute's burst allowed.
var DefaultLimits = notify.Limits{PerMethod: []notify.Limit{{N: 60, Per: time.Minute}}}

// Limits are DefaultLimits.
func (ch *Channel) Limits() notify.Limits { return DefaultLimits }

// Send posts n. A page is posted with its buttons. An acknowledged or
// resolved notification that names the page's message (UpdateOf) updates
// that message in place instead, and answers with its provider id; when
// Slack no longer has it (message_not_found) the new state is posted as
// a fresh message. Anything else is a plain text message: the subject
// (a verification code, a test) and the text.
func (ch *Channel) Send(ctx context.Context, n notify.Notification) (notify.Receipt, error) {
	r := notify.Receipt{Provider: Provider}
	if n.To.Value == "" {
		return r, fmt.Errorf("slack notification %s: contact method %d has no member or channel id", n.ID, n.To.ID)
	}
	var m Message
	switch n.Kind {
	case notify.KindPage:
		m = PageMessage(n, StateTriggered, "", n.CreatedAt)
	case notify.KindAcknowledged, notify.KindResolved:
		m = PageMessage(n, n.Kind, n.By, n.CreatedAt)
		if n.UpdateOf != "" {
			err := ch.Update(ctx, n.UpdateOf, n, n.Kind, n.By, n.CreatedAt)
			var ae *APIError
			if err == nil {
				r.ProviderID, r.Status = n.UpdateOf, notify.StatusSent
				return r, nil
			}
			if !errors.As(err, &ae) || ae.Code != "message_not_found" {
				return r, fmt.Errorf("slack notification %s: %w", n.ID, err)
			}
		}
	default:
		m = plainMessage(n)
	}
	p, err := ch.c.PostMessage(ctx, n.To.Value, m)
	if err != nil {
		return r, fmt.Errorf("slack notification %s to contact method %d: %w", n.ID, n.To.ID, err)
	}
	r.ProviderID, r.Status = p.Channel+"/"+p.TS, notify.StatusSent
	return r, nil
}

// Update re-renders the page message providerID (a Receipt's
// ProviderID, "channel/ts") for state.
func (ch *Channel) Update(ctx context.Context, providerID string, n notify.Notification, state, by string, at time.Time) error {
	channel, ts, err := SplitProviderID(providerID)
	if err != nil {
		return err
	}
	return ch.c.UpdateMessage(ctx, channel, ts, PageMessage(n, state, by, at))
}

// SplitProviderID splits a Receipt's ProviderID into channel and ts.
func SplitProviderID(providerID string) (channel, ts string, err error) {
	channel, ts, ok := strings.Cut(providerID, "/")
	if !ok || channel == "" || ts == "" {
		return "", "", fmt.Errorf("slack: provider id %q is not channel/ts", providerID)
	}
	return channel, ts, nil
}

// plainMessage is a verification code, a test, or a page update with no
// message to update: the subject in bold, then the text.
func plainMessage(n notify.Notification) Message {
	subject := strings.TrimSpace(strings.TrimPrefix(n.Subject, "[vigil] "))
	text := escape(strings.TrimSpace(n.Text))
	var s string
	switch {
	case subject != "" && text != "":
		s = "*" + escape(subject) + "*\n" + text
	case subject != "":
		s = escape(subject)
	default:
		s = text
	}
	if s == "" {
		s = "vigil notification " + n.ID
	}
	s = truncateEscaped(s, maxSection)
	return Message{Text: s, Blocks: []any{map[string]any{"type": "section", "text": mrkdwn(s, maxSection)}}}
}
