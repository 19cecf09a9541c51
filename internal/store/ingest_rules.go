package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// OutcomeSuppressed: a new alert that a rule suppressed. It is stored and
// counted, and no work item is made for it.
const OutcomeSuppressed Outcome = "suppressed"

// ruleWork is what a creation rule run left for an item, written after
// the batch's items exist.
type ruleWork struct {
	itemID int64
	res    *automation.Result
}

// automate runs the creation rules on a new alert's item before it is
// written, inside the ingest transaction: a suppressed alert never shows
// as New on a board. The alert's rules (alert.created) run first, then
// the item's (item.created), each seeing what the earlier left.
func (ing *ingester) automate(a *Prepared, itemID int64) *automation.Result {
	if ing.rules == nil || ing.rules.Len() == 0 {
		return nil
	}
	it := workitem.Item{ID: itemID, Type: ing.proc.TypeFor(a.Source), Title: a.Title, State: ing.proc.Initial(),
		Severity: a.Severity, Source: a.Source, AlertCount: 1}
	now := fromUS(ing.now)
	var total *automation.Result
	for _, t := range []automation.Trigger{automation.AlertCreated, automation.ItemCreated} {
		ev := &automation.Event{Trigger: t, Source: a.Source, Alert: &a.Alert, Item: it, Actor: ing.actor}
		res := ing.rules.Evaluate(ev, now)
		if total == nil {
			total = res
		} else {
			total.Item = res.Item
			total.Hits = append(total.Hits, res.Hits...)
			total.Errors = append(total.Errors, res.Errors...)
			total.Suppressed = res.Suppressed
			total.Moves = append(total.Moves, res.Moves...)
			total.Tasks = append(total.Tasks, res.Tasks...)
			total.Comments = append(total.Comments, res.Comments...)
			total.Deferred = append(total.Deferred, res.Deferred...)
			total.Stopped = res.Stopped
		}
		it = res.Item
		if total.Suppressed != nil || total.Stopped {
			break
		}
	}
	ing.tallyRules(total)
	return total
}

func (ing *ingester) tallyRules(res *automation.Result) {
	if ing.ruleTally == nil {
		ing.ruleTally = map[int64]*ruleTally{}
	}
	get := func(id int64) *ruleTally {
		t := ing.ruleTally[id]
		if t == nil {
			t = &ruleTally{}
			ing.ruleTally[id] = t
		}
		return t
	}
	for _, h := range res.Hits {
		t := get(h.RuleID)
		t.hits++
		if h.Closed {
			t.closed++
		}
	}
	if res.Suppressed != nil {
		get(res.Suppressed.RuleID).suppressed++
	}
	for _, e := range res.Errors {
		get(e.RuleID).err = e.Err
	}
}

// ruleEntries puts a run's explanation on the item's timeline: every hit
// with the rule's name and version, its condition, its actions and its
// expiry, and every rule that failed to evaluate.
func (ing *ingester) ruleEntries(itemID int64, res *automation.Result) {
	for _, e := range res.Errors {
		b, _ := json.Marshal(e)
		ing.entries.add(itemID, ing.now, fmt.Sprintf("rule:%s@v%d", e.Name, e.Version), workitem.KindRule, e.Message(), "", string(b))
	}
	for i := range res.Hits {
		h := &res.Hits[i]
		b, _ := json.Marshal(h)
		ing.entries.add(itemID, ing.now, fmt.Sprintf("rule:%s@v%d", h.Name, h.Version), workitem.KindRule, h.Message(), "", string(b))
	}
}

// applyRuleWork writes what creation rules did beyond the item row:
// assignee, closing time, tags, tasks, comments, and counters.
func (ing *ingester) applyRuleWork(ctx context.Context) error {
	for _, w := range ing.ruleWork {
		it := w.res.Item
		var closed any
		if ing.proc.Terminal(it.State) {
			closed = ing.now
		}
		if _, err := ing.tx.ExecContext(ctx, ing.db.q(`UPDATE workitems SET assignee = ?, closed_at = ? WHERE id = ?`), it.Assignee, closed, w.itemID); err != nil {
			return fmt.Errorf("rule effects on item %d: %w", w.itemID, err)
		}
		for _, tag := range it.Tags {
			if _, err := ing.tx.ExecContext(ctx, ing.db.q(`INSERT INTO workitem_tags (workitem_id, tag) VALUES (?, ?)`), w.itemID, tag); err != nil {
				return fmt.Errorf("rule tag on item %d: %w", w.itemID, err)
			}
		}
		for _, t := range w.res.Tasks {
			if _, err := ing.tx.ExecContext(ctx, ing.db.q(`INSERT INTO tasks (workitem_id, title, created_at, updated_at) VALUES (?, ?, ?, ?)`),
				w.itemID, t.Title, ing.now, ing.now); err != nil {
				return fmt.Errorf("rule task on item %d: %w", w.itemID, err)
			}
		}
		var msgs []outbox.Message
		if n := len(w.res.Moves); n > 0 && w.res.Moves[n-1].To != ing.proc.Initial() {
			last := w.res.Moves[n-1]
			msgs = append(msgs, automation.WriteBackMessage(w.itemID, automation.WriteBack{From: ing.proc.Initial(), To: last.To, Reason: last.Reason, Rule: last.Rule}))
		}
		msgs = append(msgs, automation.DeferredMessages(w.itemID, w.res.Deferred)...)
		if len(msgs) > 0 {
			if _, err := ing.db.enqueue(ctx, ing.tx, w.itemID, msgs); err != nil {
				return fmt.Errorf("rule work on item %d: %w", w.itemID, err)
			}
		}
		for _, c := range w.res.Comments {
			if _, err := ing.tx.ExecContext(ctx, ing.db.q(`INSERT INTO comments (workitem_id, at, author, body) VALUES (?, ?, ?, ?)`),
				w.itemID, ing.now, c.Rule, c.Text); err != nil {
				return fmt.Errorf("rule comment on item %d: %w", w.itemID, err)
			}
		}
	}
	for ruleID, ids := range ing.suppressed {
		for _, id := range ids {
			if _, err := ing.tx.ExecContext(ctx, ing.db.q(`UPDATE alerts SET suppressed_by = ? WHERE id = ?`), ruleID, id); err != nil {
				return fmt.Errorf("suppressed alert %d: %w", id, err)
			}
		}
	}
	if len(ing.ruleTally) > 0 {
		return ing.db.recordRuleRun(ctx, ing.tx, ing.now, ing.ruleTally)
	}
	return nil
}
