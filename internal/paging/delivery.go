package paging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The notification log and fall-through. Every send attempt is recorded
// with its provider's id, status and timing (RecordSend, called by the
// notify target); a provider's delivery callback moves the status on
// (DeliveryStatus). When a page's notification fails for good (a
// permanent error, the outbox giving up, or the provider reporting it
// undelivered) and the page is still unacknowledged, the person's next
// verified contact method that this page has not tried is notified at
// once: a dead phone number must not silence the pager until the next
// escalation step.

var _ notify.Recorder = (*Pager)(nil)

// RecordSend records one send attempt; a final failure of a page falls
// through to the person's next contact method.
func (s *Pager) RecordSend(ctx context.Context, n notify.Notification, r notify.Receipt, sendErr error, final bool, took time.Duration) error {
	e := store.NotificationLogEntry{ID: n.ID, ContactMethodID: n.To.ID, User: n.To.User, Channel: n.To.Type, Kind: n.Kind,
		PageID: n.PageID, WorkItemID: n.WorkItemID, Provider: r.Provider, ProviderID: r.ProviderID, Status: r.Status}
	if sendErr != nil {
		e.Error = sendErr.Error()
	}
	if e.Status == "" {
		e.Status = notify.StatusSent
	}
	if err := s.st.RecordSend(ctx, e, took); err != nil {
		return err
	}
	if final && n.Kind == notify.KindPage && n.PageID != 0 {
		return s.fallThrough(ctx, n.PageID, n.To.User, n.To.ID, fmt.Sprintf("%s failed", n.To.Type))
	}
	return nil
}

// DeliveryStatus applies a provider's delivery callback: the log, a
// timeline entry when the status moves, and a fall-through when a page's
// notification turns out undelivered.
func (s *Pager) DeliveryStatus(ctx context.Context, provider, providerID, status, errText string) error {
	e, moved, err := s.st.DeliveryStatus(ctx, provider, providerID, status, errText)
	if err != nil || !moved {
		return err
	}
	// Only a status that moved counts: providers repeat callbacks.
	s.o.Notifications.Add(e.Channel, status)
	if e.WorkItemID != 0 && e.Kind == notify.KindPage {
		msg := fmt.Sprintf("page #%d: %s to %s (contact method %d) %s (%s %s)", e.PageID, e.Channel, e.User, e.ContactMethodID, status, provider, providerID)
		if errText != "" {
			msg += ": " + errText
		}
		data := map[string]any{"notification": e.ID, "provider": provider, "provider_id": providerID, "status": status}
		if err := s.st.AppendTimeline(ctx, e.WorkItemID, Actor, workitem.KindPage, msg, data); err != nil {
			return err
		}
	}
	if notify.Final(status) && e.Kind == notify.KindPage && e.PageID != 0 {
		return s.fallThrough(ctx, e.PageID, e.User, e.ContactMethodID, fmt.Sprintf("%s %s", e.Channel, status))
	}
	return nil
}

// NotificationLog lists notifications, newest first.
func (s *Pager) NotificationLog(ctx context.Context, actor auth.Actor, f store.NotificationFilter) ([]store.NotificationLogEntry, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.NotificationLog(ctx, f)
}

// fallThrough notifies user's next untried verified contact method about
// a page that is still triggered.
func (s *Pager) fallThrough(ctx context.Context, pageID int64, user string, failed int64, why string) error {
	if user == "" {
		return nil
	}
	if _, err := s.keys.get(ctx); err != nil { // before the transaction: see Trigger
		return err
	}
	cms, err := s.st.ContactMethods(ctx, user)
	if err != nil {
		return err
	}
	log, err := s.st.NotificationLog(ctx, store.NotificationFilter{PageID: pageID, User: user, Limit: 500})
	if err != nil {
		return err
	}
	tried := map[int64]bool{failed: true}
	for _, e := range log {
		tried[e.ContactMethodID] = true
	}
	var next *store.ContactMethod
	for i := range cms {
		if cms[i].Verified() && !tried[cms[i].ID] {
			next = &cms[i]
			break
		}
	}
	now := s.o.Clock.Now()
	_, err = s.st.UpdatePage(ctx, pageID, func(p *store.Page) (store.PageEffects, error) {
		if p.State != store.PageTriggered {
			return store.PageEffects{}, store.ErrPageUnchanged
		}
		if next == nil {
			return store.PageEffects{Entries: []workitem.Entry{{Actor: Actor, Kind: workitem.KindPage,
				Message: fmt.Sprintf("page #%d: %s for %s, who has no other contact method to try", p.ID, why, user)}}}, nil
		}
		it, err := s.items.Get(ctx, pagingActor(), p.WorkItemID)
		if err != nil {
			return store.PageEffects{}, err
		}
		m, err := s.notification(ctx, *p, it, *next, fmt.Sprintf("ft%d", failed), 0, now)
		if err != nil {
			return store.PageEffects{}, err
		}
		return store.PageEffects{Messages: []outbox.Message{m}, Entries: []workitem.Entry{{Actor: Actor, Kind: workitem.KindPage,
			Message: fmt.Sprintf("page #%d: %s for %s; trying their %s (contact method %d) now", p.ID, why, user, next.Type, next.ID)}}}, nil
	})
	if errors.Is(err, store.ErrPageUnchanged) {
		return nil
	}
	if err == nil && s.o.Poke != nil {
		s.o.Poke()
	}
	return err
}

// maskNumber keeps a phone number's last four digits, for texts people
// other than its owner may read.
func maskNumber(n string) string {
	if len(n) <= 4 {
		return n
	}
	return strings.Repeat("•", 3) + n[len(n)-4:]
}
