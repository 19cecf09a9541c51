package twoway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/vigil-soc/vigil/internal/connector/ticket"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Tracker spells vigil's work-item changes as one external tracker's
// outbox messages (Azure Boards, Freshdesk, ServiceNow).
type Tracker interface {
	// Target is the outbox target and the external_refs system name.
	Target() string
	// Create is the message that creates the tracker's record for it.
	Create(it workitem.Item) (outbox.Message, error)
	// Update is the message that carries a move to the tracker.
	Update(it workitem.Item, from, to, reason string) (outbox.Message, error)
	// Comment is the message that copies a comment to the tracker.
	Comment(it workitem.Item, text string) (outbox.Message, error)
}

// MirrorStore is what the mirror reads and writes.
type MirrorStore interface {
	WorkItemIDsAfter(ctx context.Context, after int64, limit int) ([]int64, error)
	GetWorkItem(ctx context.Context, id int64) (workitem.Item, error)
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
	Cursors
}

// Mirror keeps one external tracker's records in step with work items:
// as an engine module it queues a create for each new item; as a
// workitem.Planner it queues an update with each move.
type Mirror struct {
	tracker Tracker
	store   MirrorStore
	proc    *workitem.Process
	log     *slog.Logger
}

// NewMirror returns the mirror for one tracker.
func NewMirror(t Tracker, st MirrorStore, proc *workitem.Process, log *slog.Logger) *Mirror {
	return &Mirror{tracker: t, store: st, proc: proc, log: log.With("component", "mirror", "target", t.Target())}
}

// Name identifies the module.
func (m *Mirror) Name() string { return "mirror:" + m.tracker.Target() }

// Kind says what the module is, for the health page.
func (m *Mirror) Kind() string { return "mirror" }

// UpdateAll queues a create for every item created since the last pass.
// The create's
// idempotency key is the item's, so a pass repeated after a crash queues
// nothing twice.
func (m *Mirror) UpdateAll(ctx context.Context) error {
	cursor := "mirror:" + m.tracker.Target() + ":after"
	v, err := m.store.Cursor(ctx, cursor)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(v, 10, 64)
	// Turning a mirror on for a board that already has history copies the
	// open items only; from then on every new item is mirrored, even one
	// closed before the pass saw it, since its moves are queued too.
	first := v == ""
	for {
		ids, err := m.store.WorkItemIDsAfter(ctx, after, 500)
		if err != nil || len(ids) == 0 {
			return err
		}
		var msgs []outbox.Message
		var entries []workitem.Entry
		for _, id := range ids {
			it, err := m.store.GetWorkItem(ctx, id)
			if err != nil {
				return err
			}
			if first && m.proc.Terminal(it.State) {
				continue
			}
			msg, err := m.tracker.Create(it)
			if err != nil {
				return fmt.Errorf("mirror work item %d: %w", id, err)
			}
			msg.WorkItemID = it.ID
			msg.IdemKey = fmt.Sprintf("mirror:%s:create:%d", m.tracker.Target(), it.ID)
			msgs = append(msgs, msg)
			entries = append(entries, workitem.Entry{Actor: "vigil", Kind: workitem.KindSync,
				Message: fmt.Sprintf("queued write-back: %s %s (mirror this item)", msg.Target, msg.Op),
				Data:    map[string]string{"target": msg.Target, "op": msg.Op, "idem_key": msg.IdemKey}})
		}
		if len(msgs) > 0 {
			if _, err := m.store.Enqueue(ctx, msgs, entries); err != nil {
				return fmt.Errorf("queue mirror creates: %w", err)
			}
		}
		after = ids[len(ids)-1]
		if err := m.store.SetCursor(ctx, cursor, strconv.FormatInt(after, 10)); err != nil {
			return err
		}
	}
}

// Plan implements workitem.Planner: every move is carried to the tracker.
func (m *Mirror) Plan(_ context.Context, it workitem.Item, from, to, reason string) ([]outbox.Message, error) {
	msg, err := m.tracker.Update(it, from, to, reason)
	if err != nil {
		return nil, err
	}
	msg.WorkItemID = it.ID
	msg.IdemKey = fmt.Sprintf("workitem:%d:rev:%d:%s:%s", it.ID, it.Rev, msg.Target, msg.Op)
	return []outbox.Message{msg}, nil
}

// PlanComment implements workitem.ChangePlanner: comments are copied to
// the tracker.
func (m *Mirror) PlanComment(_ context.Context, it workitem.Item, c workitem.Comment) ([]outbox.Message, error) {
	msg, err := m.tracker.Comment(it, fmt.Sprintf("%s (in vigil): %s", c.Author, c.Body))
	if err != nil {
		return nil, err
	}
	msg.WorkItemID = it.ID
	msg.IdemKey = fmt.Sprintf("workitem:%d:comment:{comment}:%s", it.ID, msg.Target)
	return []outbox.Message{msg}, nil
}

// PlanAssign implements workitem.ChangePlanner; trackers keep their own
// assignment (their users are not vigil's).
func (m *Mirror) PlanAssign(context.Context, workitem.Item, string, string) ([]outbox.Message, error) {
	return nil, nil
}

// Tickets spells work-item changes for a helpdesk mirror: Freshdesk or
// ServiceNow, whose connectors take the same payloads (package ticket).
type Tickets struct {
	// System is "freshdesk" or "servicenow".
	System string
	// BaseURL is vigil's address, for the link back on each ticket.
	BaseURL string
}

// Target implements Tracker.
func (t Tickets) Target() string { return t.System }

// Create implements Tracker.
func (t Tickets) Create(it workitem.Item) (outbox.Message, error) {
	b, err := json.Marshal(ticket.Create{WorkItemID: it.ID, Title: it.Title, Severity: string(it.Severity), State: it.State,
		URL: t.itemURL(it.ID), Description: fmt.Sprintf("Mirrored from vigil work item %d (%s, %d alerts).", it.ID, it.Source, it.AlertCount)})
	return outbox.Message{Target: t.System, Op: ticket.OpCreate, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: b}, err
}

// Update implements Tracker.
func (t Tickets) Update(it workitem.Item, from, to, reason string) (outbox.Message, error) {
	b, err := json.Marshal(ticket.Update{WorkItemID: it.ID, From: from, State: to, Severity: string(it.Severity), Reason: reason, Title: it.Title})
	return outbox.Message{Target: t.System, Op: ticket.OpUpdate, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: b}, err
}

func (t Tickets) itemURL(id int64) string { return Boards{BaseURL: t.BaseURL}.itemURL(id) }

// Comment implements Tracker.
func (t Tickets) Comment(it workitem.Item, text string) (outbox.Message, error) {
	b, err := json.Marshal(ticket.Comment{WorkItemID: it.ID, Message: text})
	return outbox.Message{Target: t.System, Op: ticket.OpComment, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: b}, err
}
