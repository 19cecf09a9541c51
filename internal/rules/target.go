package rules

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TargetStore is what the automation outbox target needs.
type TargetStore interface {
	GetWorkItem(ctx context.Context, id int64) (workitem.Item, error)
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
}

// OutboxTarget delivers the "automation" outbox messages: it plans the
// write-backs of a creation rule's close (Sentinel, Graph, Defender) now
// that the item and its links are committed, and runs extension actions.
type OutboxTarget struct {
	st      TargetStore
	planner workitem.Planner
	runners map[string]automation.Runner
}

// Use makes r run the extension actions of its kind (on-call's "page"),
// for this target only: each app wires its own.
func (t *OutboxTarget) Use(r automation.Runner) *OutboxTarget {
	if t.runners == nil {
		t.runners = map[string]automation.Runner{}
	}
	t.runners[r.Kind()] = r
	return t
}

// NewTarget returns the target; planner may be nil (nothing to write back).
func NewTarget(st TargetStore, planner workitem.Planner) *OutboxTarget {
	return &OutboxTarget{st: st, planner: planner}
}

// Send handles one message; it is idempotent because what it queues has
// idempotency keys.
func (t *OutboxTarget) Send(ctx context.Context, m outbox.Message) error {
	switch m.Op {
	case automation.OpWriteBack:
		var w automation.WriteBack
		if err := json.Unmarshal(m.Payload, &w); err != nil {
			return fmt.Errorf("write-back payload: %w", err)
		}
		if t.planner == nil {
			return nil
		}
		it, err := t.st.GetWorkItem(ctx, m.WorkItemID)
		if err != nil {
			return err
		}
		msgs, err := t.planner.Plan(ctx, it, w.From, w.To, w.Reason)
		if err != nil {
			return &outbox.RetryableError{Err: fmt.Errorf("plan write-back: %w", err)}
		}
		if len(msgs) == 0 {
			return nil
		}
		entries := make([]workitem.Entry, len(msgs))
		for i, q := range msgs {
			q.WorkItemID = m.WorkItemID
			msgs[i] = q
			entries[i] = workitem.Entry{WorkItemID: m.WorkItemID, Actor: w.Rule, Kind: workitem.KindSync,
				Message: fmt.Sprintf("queued: %s %s on %s", q.Target, q.Op, q.Resource), Data: map[string]any{"target": q.Target, "op": q.Op}}
		}
		_, err = t.st.Enqueue(ctx, msgs, entries)
		return err
	case automation.ActPlaybook, automation.ActPage:
		var d automation.DeferredAction
		if err := json.Unmarshal(m.Payload, &d); err != nil {
			return fmt.Errorf("%s payload: %w", m.Op, err)
		}
		if r, ok := t.runners[m.Op]; ok {
			return r.Run(ctx, m.WorkItemID, d)
		}
		if ext, ok := automation.ExtensionFor(m.Op); ok {
			if r, ok := ext.(automation.Runner); ok {
				return r.Run(ctx, m.WorkItemID, d)
			}
		}
		what := d.Action.Name
		if m.Op == automation.ActPage {
			what = d.Action.Target
		}
		return t.st.AppendTimeline(ctx, m.WorkItemID, d.Rule, workitem.KindRule,
			fmt.Sprintf("%s %s not run: no module that runs %s actions is enabled", m.Op, what, m.Op), d)
	}
	return fmt.Errorf("automation target: unknown op %q on %s", m.Op, m.Resource)
}
