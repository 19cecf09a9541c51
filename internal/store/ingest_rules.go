package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
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
	if in := a.Alert.Inhibited; in != nil {
		// Inhibited: suppressed as a rule would, recorded under the
		// inhibit rule's negative id.
		return &automation.Result{Suppressed: &automation.Hit{RuleID: alert.InhibitRuleID(in.Rule),
			Name: fmt.Sprintf("inhibit_rules[%d]", in.Rule), Trigger: automation.AlertCreated}}
	}
	if ing.rules == nil || ing.rules.Len() == 0 {
		return nil
	}
	res := a.pre
	if res == nil || a.preSet != ing.rules || a.preActor != ing.actor {
		res = createRules(ing.rules, ing.proc, &a.Alert, ing.actor, fromUS(ing.now))
	}
	ing.tallyRules(res)
	return res
}

// createRules evaluates the alert.created and item.created rules of set
// on a new alert's item as it would be made.
func createRules(set *automation.Set, proc *workitem.Process, a *alert.Alert, actor string, now time.Time) *automation.Result {
	it := workitem.Item{Type: proc.TypeFor(a.Source), Title: a.Title, State: proc.Initial(), Severity: a.Severity, Source: a.Source, AlertCount: 1}
	var total *automation.Result
	for _, t := range []automation.Trigger{automation.AlertCreated, automation.ItemCreated} {
		if !set.Has(t) {
			continue
		}
		res := set.Evaluate(&automation.Event{Trigger: t, Source: a.Source, Alert: a, Item: it, Actor: actor}, now)
		if total == nil {
			total = res
		} else {
			merge(total, res)
		}
		it = res.Item
		if total.Suppressed != nil || total.Stopped {
			break
		}
	}
	if total == nil {
		total = &automation.Result{Item: it}
	}
	return total
}

// PrecomputeRules evaluates the creation rules for prepared alerts in the
// caller's goroutine, before they queue for the writer: CEL then runs on
// every request's goroutine in parallel instead of inside the single
// SQLite writer. An alert that turns out to exist already wastes its
// evaluation; one whose rule set changed meanwhile is evaluated again.
func (db *DB) PrecomputeRules(proc *workitem.Process, actor string, ps []Prepared) {
	set := db.rules.Load()
	if set == nil || set.Len() == 0 {
		return
	}
	now := db.clock.Now()
	for i := range ps {
		ps[i].pre = createRules(set, proc, &ps[i].Alert, actor, now)
		ps[i].preSet, ps[i].preActor = set, actor
	}
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
		if err := ing.db.applyRuleEffects(ctx, ing.tx, ing.proc, ing.now, w.itemID, w.res); err != nil {
			return err
		}
	}
	for _, id := range ing.unsuppressed {
		if _, err := ing.tx.ExecContext(ctx, ing.db.q(`UPDATE alerts SET suppressed_by = NULL WHERE id = ?`), id); err != nil {
			return fmt.Errorf("alert %d no longer suppressed: %w", id, err)
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

// applyRuleEffects writes what creation rules did to a new item beyond
// its row: assignee, closing time, tags, tasks, comments, and the outbox
// work for after commit (write-backs of a close, playbooks, pages).
func (db *DB) applyRuleEffects(ctx context.Context, tx dbtx, proc *workitem.Process, now, itemID int64, res *automation.Result) error {
	it := res.Item
	var closed any
	if proc.Terminal(it.State) {
		closed = now
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET assignee = ?, closed_at = ? WHERE id = ?`), it.Assignee, closed, itemID); err != nil {
		return fmt.Errorf("rule effects on item %d: %w", itemID, err)
	}
	for _, tag := range it.Tags {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_tags (workitem_id, tag) VALUES (?, ?)`), itemID, tag); err != nil {
			return fmt.Errorf("rule tag on item %d: %w", itemID, err)
		}
	}
	for _, t := range res.Tasks {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO tasks (workitem_id, title, created_at, updated_at) VALUES (?, ?, ?, ?)`),
			itemID, t.Title, now, now); err != nil {
			return fmt.Errorf("rule task on item %d: %w", itemID, err)
		}
	}
	var msgs []outbox.Message
	if n := len(res.Moves); n > 0 && res.Moves[n-1].To != proc.Initial() {
		last := res.Moves[n-1]
		msgs = append(msgs, automation.WriteBackMessage(itemID, automation.WriteBack{From: proc.Initial(), To: last.To, Reason: last.Reason, Rule: last.Rule}))
	}
	msgs = append(msgs, automation.DeferredMessages(itemID, res.Deferred)...)
	if len(msgs) > 0 {
		if _, err := db.enqueue(ctx, tx, itemID, msgs); err != nil {
			return fmt.Errorf("rule work on item %d: %w", itemID, err)
		}
	}
	for _, c := range res.Comments {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO comments (workitem_id, at, author, body) VALUES (?, ?, ?, ?)`),
			itemID, now, c.Rule, c.Text); err != nil {
			return fmt.Errorf("rule comment on item %d: %w", itemID, err)
		}
	}
	return nil
}

// ruleTimeline is the timeline entries of a run: errors, hits, moves.
func ruleTimeline(res *automation.Result) []workitem.Entry {
	var out []workitem.Entry
	for _, e := range res.Errors {
		out = append(out, workitem.Entry{Actor: fmt.Sprintf("rule:%s@v%d", e.Name, e.Version), Kind: workitem.KindRule, Message: e.Message(), Data: e})
	}
	for i := range res.Hits {
		h := res.Hits[i]
		out = append(out, workitem.Entry{Actor: fmt.Sprintf("rule:%s@v%d", h.Name, h.Version), Kind: workitem.KindRule, Message: h.Message(), Data: h})
	}
	for _, m := range res.Moves {
		out = append(out, workitem.Entry{Actor: m.Rule, Kind: workitem.KindTransition, Message: "moved from " + m.From + " to " + m.To, Reason: m.Reason,
			Data: map[string]string{"from": m.From, "to": m.To, "classification": m.Classification}})
	}
	return out
}

// heldRules runs the creation rules on a held alert as it gets its own
// item (ReleaseHeldAlerts).
func (db *DB) heldRules(proc *workitem.Process, actor string, a *alert.Alert, now time.Time) *automation.Result {
	set := db.rules.Load()
	if set == nil || set.Len() == 0 {
		return nil
	}
	return createRules(set, proc, a, actor, now)
}

// writeRuleResult writes what creation rules did to a new item outside
// the batch ingest (an incident's item, a released alert's): the hits on
// its timeline, their effects and the rules' counters.
func (db *DB) writeRuleResult(ctx context.Context, tx dbtx, proc *workitem.Process, now, itemID int64, rres *automation.Result) error {
	if rres == nil || (!rres.Changed() && len(rres.Errors) == 0) {
		return nil
	}
	for _, e := range ruleTimeline(rres) {
		if _, err := db.insertEntry(ctx, tx, itemID, e); err != nil {
			return err
		}
	}
	if rres.Changed() {
		if err := db.applyRuleEffects(ctx, tx, proc, now, itemID, rres); err != nil {
			return err
		}
	}
	return db.recordRuleRun(ctx, tx, now, tallyOf(rres))
}

// incidentRules runs the creation rules on an incident's new item before
// it is inserted (incident.created, then item.created).
func (db *DB) incidentRules(proc *workitem.Process, actor string, in *alert.Incident, now time.Time) *automation.Result {
	set := db.rules.Load()
	if set == nil || set.Len() == 0 {
		return nil
	}
	it := workitem.Item{Type: proc.TypeFor(in.Source), Title: in.Title, State: proc.Initial(), Severity: in.Severity, Source: in.Source}
	var total *automation.Result
	for _, t := range []automation.Trigger{automation.IncidentCreated, automation.ItemCreated} {
		res := set.Evaluate(&automation.Event{Trigger: t, Source: in.Source, Incident: in, Item: it, Actor: actor}, now)
		if total == nil {
			total = res
		} else {
			merge(total, res)
		}
		it = res.Item
		if total.Suppressed != nil || total.Stopped {
			break
		}
	}
	return total
}

func merge(total, res *automation.Result) {
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
