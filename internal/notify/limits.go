package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Rate limits and bundling, as GoAlert has them: a phone gets at most so
// many texts and calls in a window, and pages that wait for the window
// to open go out together, as one message. The counts come from the
// notification log, so they hold across instances and restarts.

// Limit is at most N sends per Per.
type Limit struct {
	N   int
	Per time.Duration
}

// Limits are a channel's rate limits: PerMethod for each contact method
// (one phone), PerChannel for the provider account as a whole.
type Limits struct {
	PerMethod  []Limit
	PerChannel []Limit
}

// Limited is a channel with rate limits.
type Limited interface {
	Limits() Limits
}

// Bundling is a channel that can carry several pages in one message
// (SMS): pages held back by a rate limit then go out together.
type Bundling interface {
	Bundles() bool
}

// BundledPage is one more page carried by a bundled notification.
type BundledPage struct {
	PageID     int64  `json:"page_id"`
	WorkItemID int64  `json:"work_item_id"`
	Title      string `json:"title"`
	Urgency    string `json:"urgency"`
	ID         string `json:"notification_id"`
}

// Ledger is what rate limits and bundling read and write: the
// notification log and the outbox.
type Ledger interface {
	SentSince(ctx context.Context, contactMethodID int64, channel string, since time.Time) (toMethod, onChannel int, err error)
	LastSent(ctx context.Context, contactMethodID int64, n int) (time.Time, error)
	PendingOutbox(ctx context.Context, target, resource string) ([]outbox.Message, error)
	GetOutbox(ctx context.Context, id int64) (outbox.Message, error)
	CompleteOutbox(ctx context.Context, id int64) error
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
}

// rateLimitPrefix marks a message the rate limit held back: such a
// message may join a bundle although it is not due yet.
const rateLimitPrefix = "rate limit: "

// hold returns when n may be sent under ch's limits, or the zero time
// for now.
func (t *Target) hold(ctx context.Context, ch Channel, n Notification, now time.Time) (time.Time, string, error) {
	l, ok := ch.(Limited)
	if !ok || n.Kind == KindVerify { // a code the person is waiting for is never held
		return time.Time{}, "", nil
	}
	lim := l.Limits()
	if o, ok := t.overrides[ch.Type()]; ok {
		lim = o
	}
	var until time.Time
	var why string
	for _, x := range lim.PerMethod {
		toMethod, _, err := t.ledger.SentSince(ctx, n.To.ID, ch.Type(), now.Add(-x.Per))
		if err != nil {
			return time.Time{}, "", err
		}
		if toMethod < x.N {
			continue
		}
		oldest, err := t.ledger.LastSent(ctx, n.To.ID, x.N)
		if err != nil {
			return time.Time{}, "", err
		}
		if at := oldest.Add(x.Per); at.After(until) {
			until, why = at, fmt.Sprintf("%s%d %s per %s to one contact method", rateLimitPrefix, x.N, ch.Type(), x.Per)
		}
	}
	for _, x := range lim.PerChannel {
		_, onChannel, err := t.ledger.SentSince(ctx, n.To.ID, ch.Type(), now.Add(-x.Per))
		if err != nil {
			return time.Time{}, "", err
		}
		if onChannel < x.N {
			continue
		}
		if at := now.Add(x.Per / time.Duration(x.N)); at.After(until) {
			until, why = at, fmt.Sprintf("%s%d %s per %s on the channel", rateLimitPrefix, x.N, ch.Type(), x.Per)
		}
	}
	if !until.After(now) {
		return time.Time{}, "", nil
	}
	return until, why, nil
}

// bundle adds to n the other page notifications for the same contact
// method that the rate limit holds back; notifications delayed by a
// person's rules are not pulled forward.
func (t *Target) bundle(ctx context.Context, m outbox.Message, n *Notification, now time.Time) ([]outbox.Message, error) {
	pending, err := t.ledger.PendingOutbox(ctx, TargetName, m.Resource)
	if err != nil {
		return nil, err
	}
	var joined []outbox.Message
	for _, o := range pending {
		// Only what the rate limit held back joins: without a limit in
		// play each page keeps its own text, as the person expects.
		if o.ID == m.ID || !strings.HasPrefix(o.LastError, rateLimitPrefix) {
			continue
		}
		var other Notification
		if json.Unmarshal(o.Payload, &other) != nil || other.Kind != KindPage || other.PageID == n.PageID {
			continue
		}
		n.Bundle = append(n.Bundle, BundledPage{PageID: other.PageID, WorkItemID: other.WorkItemID, Title: other.Title,
			Urgency: other.Urgency, ID: other.ID})
		joined = append(joined, o)
	}
	return joined, nil
}

// bundled completes the notifications that went out inside n, and says
// so on their items' timelines and in the notification log.
func (t *Target) bundled(ctx context.Context, n Notification, r Receipt, joined []outbox.Message, took time.Duration) {
	for i, o := range joined {
		if err := t.ledger.CompleteOutbox(ctx, o.ID); err != nil {
			t.log.Error("bundled notification", "outbox_id", o.ID, "err", err)
			continue
		}
		b := n.Bundle[i]
		if t.record != nil {
			other := n
			other.ID, other.PageID, other.WorkItemID, other.Title, other.Bundle = b.ID, b.PageID, b.WorkItemID, b.Title, nil
			if err := t.record.RecordSend(ctx, other, r, nil, false, took); err != nil {
				t.log.Error("notification log", "notification", b.ID, "err", err)
			}
		}
		if b.WorkItemID != 0 {
			msg := fmt.Sprintf("page #%d: sent to %s (contact method %d) bundled with page #%d (notification %s)", b.PageID, n.To.Type, n.To.ID, n.PageID, n.ID)
			if err := t.ledger.AppendTimeline(ctx, b.WorkItemID, "vigil", "sync", msg, map[string]any{"bundled_into": n.ID}); err != nil {
				t.log.Error("bundled notification timeline", "outbox_id", o.ID, "err", err)
			}
		}
	}
}
