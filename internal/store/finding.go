package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// One finding, one work item. A Defender for Cloud alert that a Sentinel
// incident contains is tracked on the incident's item. Ingest holds back
// the item of such an alert for a grace period (alert.Alert.Grace); an
// incident that names it links it to its own item (linkToItem); an alert
// still unclaimed when its grace ends gets a Problem item of its own
// (ReleaseHeldAlerts); and a Problem item whose alert an incident claims
// later is merged into the incident's item (mergeItem).

// ReleaseHeldAlerts gives each held alert whose grace has ended, and that
// no incident has claimed, a work item of its own. It reports how many
// items it made.
func (db *DB) ReleaseHeldAlerts(ctx context.Context, proc *workitem.Process, actor string) (int, error) {
	made := 0
	err := db.tx(ctx, func(tx dbtx) error {
		made = 0
		now := us(db.clock.Now())
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE OF a SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT a.id, a.source, a.source_id, a.title, a.severity, a.status, a.entities, a.last_seen,
		    a.created_at, a.item_due_at, a.product, a.description, COALESCE(CAST(v.raw AS TEXT), '')
		    FROM alerts a LEFT JOIN alert_versions v ON v.alert_id = a.id AND v.version = a.version
		    WHERE a.item_due_at IS NOT NULL AND a.item_due_at <= ? AND a.workitem_id IS NULL ORDER BY a.id LIMIT 500`+lock), now)
		if err != nil {
			return fmt.Errorf("held alerts: %w", err)
		}
		type held struct {
			id                        int64
			source, sourceID, title   string
			sev, status, ents         string
			lastSeen, created, dueAt  int64
			product, description, raw string
		}
		var hs []held
		for rows.Next() {
			var h held
			if err := rows.Scan(&h.id, &h.source, &h.sourceID, &h.title, &h.sev, &h.status, &h.ents, &h.lastSeen, &h.created, &h.dueAt,
				&h.product, &h.description, &h.raw); err != nil {
				rows.Close()
				return fmt.Errorf("scan held alert: %w", err)
			}
			hs = append(hs, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("held alerts: %w", err)
		}
		for _, h := range hs {
			var ents []alert.Entity
			_ = json.Unmarshal([]byte(h.ents), &ents) // stored by ingest; a bad row only loses its key entity
			var resolved any
			if !alert.Status(h.status).Open() {
				resolved = now
			}
			// The creation rules run now, when the alert gets its own
			// item, as they would have had it not been held.
			a := alert.Alert{ID: h.id, Source: h.source, SourceID: h.sourceID, Product: h.product, Title: h.title, Description: h.description,
				Severity: alert.Severity(h.sev), Status: alert.Status(h.status), Entities: ents}
			if h.raw != "" {
				a.Raw = json.RawMessage(h.raw)
			}
			rres := db.heldRules(proc, actor, &a, fromUS(now))
			if rres != nil && rres.Suppressed != nil {
				if _, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET suppressed_by = ?, item_due_at = NULL WHERE id = ?`), rres.Suppressed.RuleID, h.id); err != nil {
					return fmt.Errorf("suppress held alert %d: %w", h.id, err)
				}
				if err := db.recordRuleRun(ctx, tx, now, tallyOf(rres)); err != nil {
					return err
				}
				continue
			}
			state, sev := proc.Initial(), h.sev
			if rres != nil && rres.Changed() {
				state, sev = rres.Item.State, string(rres.Item.Severity)
			}
			var itemID int64
			if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO workitems (type, title, state, severity, source, rev, alert_count,
			    created_at, updated_at, last_seen, key_entity, search_text, source_resolved_at)
			    VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?, ?, ?) RETURNING id`),
				string(proc.TypeFor(h.source)), h.title, state, sev, h.source, now, now, h.lastSeen,
				alert.KeyEntity(ents), alert.SearchText(h.title, ents), resolved).Scan(&itemID); err != nil {
				return fmt.Errorf("create item for held alert %d: %w", h.id, err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET workitem_id = ?, item_due_at = NULL WHERE id = ?`), itemID, h.id); err != nil {
				return fmt.Errorf("release held alert %d: %w", h.id, err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_alerts (workitem_id, alert_id, linked_at) VALUES (?, ?, ?)`), itemID, h.id, now); err != nil {
				return fmt.Errorf("link held alert %d: %w", h.id, err)
			}
			waited := time.Duration(h.dueAt-h.created) * time.Microsecond
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindCreated,
				Message: fmt.Sprintf("created from %s alert %d: no incident contained it within %s", h.source, h.id, waited.Round(time.Second)),
				Data:    map[string]any{"alert_id": h.id, "source": h.source, "source_id": h.sourceID, "waited_seconds": int64(waited.Seconds())}}); err != nil {
				return err
			}
			if err := db.writeRuleResult(ctx, tx, proc, now, itemID, rres); err != nil {
				return err
			}
			made++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("release held alerts: %w", err)
	}
	return made, nil
}

// claimAlert makes alert aid part of the item of the incident that
// contains it: a held alert joins it, and the alert's own Problem item
// (made before the incident arrived) is merged into it. It reports
// whether the item gained anything.
func (db *DB) claimAlert(ctx context.Context, tx dbtx, actor string, in alert.Incident, incidentID, itemID, aid, now int64) (bool, error) {
	var own int64
	var src string
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(workitem_id, 0), source FROM alerts WHERE id = ?`), aid).Scan(&own, &src); err != nil {
		return false, fmt.Errorf("claim alert %d: %w", aid, err)
	}
	switch {
	case own == itemID:
		return false, nil
	case own == 0:
		_, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET workitem_id = ?, item_due_at = NULL WHERE id = ? AND workitem_id IS NULL`), itemID, aid)
		if err != nil {
			return false, fmt.Errorf("claim held alert %d: %w", aid, err)
		}
		return true, nil
	case src == in.Source:
		// The incident's own alerts keep their items (the native API's
		// incidents group alerts that were triaged one by one).
		return false, nil
	}
	var incidents int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM workitem_incidents WHERE workitem_id = ?`), own).Scan(&incidents); err != nil {
		return false, fmt.Errorf("claim alert %d: %w", aid, err)
	}
	if incidents > 0 {
		// The alert is tracked with another incident already: an alert in
		// two incidents stays with the first, and is linked to both.
		return false, nil
	}
	return true, db.mergeItem(ctx, tx, actor, own, itemID, aid, in, now)
}

// mergeItem folds item from (an alert's own Problem item) into item into
// (the item of the incident that contains the alert). The alerts, tags
// and, if into has none, the assignee move over; a higher severity is
// kept; from leaves the board; its pending write-backs are cancelled,
// because into's writes carry the same changes to the same sources.
func (db *DB) mergeItem(ctx context.Context, tx dbtx, actor string, from, into, aid int64, in alert.Incident, now int64) error {
	src, err := db.getWorkItem(ctx, tx, from)
	if err != nil {
		return fmt.Errorf("merge work item %d: %w", from, err)
	}
	dst, err := db.getWorkItem(ctx, tx, into)
	if err != nil {
		return fmt.Errorf("merge into work item %d: %w", into, err)
	}
	if src.MergedInto != 0 {
		return nil
	}
	steps := []string{
		`UPDATE alerts SET workitem_id = ? WHERE workitem_id = ?`,
		`INSERT INTO workitem_alerts (workitem_id, alert_id, linked_at) SELECT ?, alert_id, linked_at FROM workitem_alerts WHERE workitem_id = ? ON CONFLICT DO NOTHING`,
		`INSERT INTO workitem_tags (workitem_id, tag) SELECT ?, tag FROM workitem_tags WHERE workitem_id = ? ON CONFLICT DO NOTHING`,
	}
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, db.q(q), into, from); err != nil {
			return fmt.Errorf("merge work item %d into %d: %w", from, into, err)
		}
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE workitem_id = ? AND state = ?`),
		outbox.Cancelled, fmt.Sprintf("superseded: work item %d was merged into %d", from, into), now, from, outbox.Pending)
	if err != nil {
		return fmt.Errorf("cancel writes of merged work item %d: %w", from, err)
	}
	cancelled, _ := res.RowsAffected()

	var carried []string
	assignee, sev := dst.Assignee, dst.Severity
	if assignee == "" && src.Assignee != "" {
		assignee = src.Assignee
		carried = append(carried, "assignee "+src.Assignee)
	}
	if dst.ClosedAt == nil && src.Severity.Rank() > sev.Rank() {
		sev = src.Severity
		carried = append(carried, "severity "+string(src.Severity))
	}
	if len(src.Tags) > 0 {
		carried = append(carried, "tags "+strings.Join(src.Tags, ", "))
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET assignee = ?, severity = ?, rev = rev + 1, updated_at = ?,
	    alert_count = (SELECT COUNT(*) FROM workitem_alerts WHERE workitem_id = ?) WHERE id = ?`), assignee, string(sev), now, into, into); err != nil {
		return fmt.Errorf("merge into work item %d: %w", into, err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET merged_into = ?, closed_at = COALESCE(closed_at, ?), rev = rev + 1, updated_at = ?
	    WHERE id = ?`), into, now, now, from); err != nil {
		return fmt.Errorf("merge work item %d: %w", from, err)
	}
	if err := db.refreshItemSearch(ctx, tx, into); err != nil {
		return err
	}

	data := map[string]any{"from": from, "into": into, "alert_id": aid, "incident": in.SourceID, "from_state": src.State,
		"cancelled_writes": cancelled}
	msg := fmt.Sprintf("merged into work item %d: alert %d belongs to %s incident %s, which that item tracks", into, aid, in.Source, in.SourceID)
	if cancelled > 0 {
		msg += fmt.Sprintf("; %d pending write(s) cancelled, the incident's item carries them", cancelled)
	}
	if _, err := db.insertEntry(ctx, tx, from, workitem.Entry{Actor: actor, Kind: workitem.KindMerged, Message: msg, Data: data}); err != nil {
		return err
	}
	msg = fmt.Sprintf("%s item %d (%s) merged into this item: its alert %d belongs to incident %s", src.Type, from, src.State, aid, in.SourceID)
	if len(carried) > 0 {
		msg += "; carried over: " + strings.Join(carried, "; ")
	}
	_, err = db.insertEntry(ctx, tx, into, workitem.Entry{Actor: actor, Kind: workitem.KindMerged, Message: msg, Data: data})
	return err
}

// refreshItemSearch recomputes an item's search text from its title and
// its alerts' entities, and gives it a key entity if it has none.
func (db *DB) refreshItemSearch(ctx context.Context, tx dbtx, itemID int64) error {
	var title, key string
	if err := tx.QueryRowContext(ctx, db.q(`SELECT title, key_entity FROM workitems WHERE id = ?`), itemID).Scan(&title, &key); err != nil {
		return fmt.Errorf("search text of work item %d: %w", itemID, err)
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT a.entities FROM alerts a JOIN workitem_alerts wa ON wa.alert_id = a.id
	    WHERE wa.workitem_id = ? ORDER BY wa.linked_at, a.id LIMIT 200`), itemID)
	if err != nil {
		return fmt.Errorf("search text of work item %d: %w", itemID, err)
	}
	var sets [][]alert.Entity
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return err
		}
		var es []alert.Entity
		if json.Unmarshal([]byte(raw), &es) == nil {
			sets = append(sets, es)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if key == "" {
		for _, es := range sets {
			if key = alert.KeyEntity(es); key != "" {
				break
			}
		}
	}
	_, err = tx.ExecContext(ctx, db.q(`UPDATE workitems SET search_text = ?, key_entity = ? WHERE id = ?`),
		alert.SearchText(title, sets...), key, itemID)
	if err != nil {
		return fmt.Errorf("search text of work item %d: %w", itemID, err)
	}
	return nil
}

// settleItems keeps source_resolved_at in step for items whose alerts
// went from open to settled at their source or back, and reports the
// items now wholly resolved there that were not before.
func (db *DB) settleItems(ctx context.Context, tx dbtx, actor string, ids []int64, now int64) (map[int64]bool, error) {
	became := map[int64]bool{}
	slices.Sort(ids)
	for _, id := range ids {
		var resolvedAt, alerts, open int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT COALESCE(w.source_resolved_at, 0),
		    (SELECT COUNT(*) FROM workitem_alerts wa WHERE wa.workitem_id = w.id),
		    (SELECT COUNT(*) FROM workitem_alerts wa JOIN alerts a ON a.id = wa.alert_id WHERE wa.workitem_id = w.id AND a.status IN (?, ?))
		    FROM workitems w WHERE w.id = ?`), string(alert.StatusNew), string(alert.StatusInProgress), id).Scan(&resolvedAt, &alerts, &open)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("settle work item %d: %w", id, err)
		}
		resolved := alerts > 0 && open == 0
		switch {
		case resolved && resolvedAt == 0:
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET source_resolved_at = ?, updated_at = ? WHERE id = ?`), now, now, id); err != nil {
				return nil, fmt.Errorf("settle work item %d: %w", id, err)
			}
			became[id] = true
			if alerts > 1 {
				if _, err := db.insertEntry(ctx, tx, id, workitem.Entry{Actor: actor, Kind: workitem.KindAlert,
					Message: fmt.Sprintf("all %d alerts of this item are resolved or dismissed at their source", alerts)}); err != nil {
					return nil, err
				}
			}
		case !resolved && resolvedAt != 0:
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET source_resolved_at = NULL, updated_at = ? WHERE id = ?`), now, id); err != nil {
				return nil, fmt.Errorf("settle work item %d: %w", id, err)
			}
		}
	}
	return became, nil
}

// raiseSeverity raises an open item's severity to to, if it is still
// below it when the statement runs, with a timeline entry saying why. A
// source never lowers an item's severity: an analyst may have raised it.
func (db *DB) raiseSeverity(ctx context.Context, tx dbtx, actor string, itemID int64, from, to, why string, data map[string]any, now int64) error {
	var below []any
	for _, s := range alert.Severities {
		if s.Rank() < alert.Severity(to).Rank() {
			below = append(below, string(s))
		}
	}
	if len(below) == 0 {
		return nil
	}
	args := append([]any{to, now, itemID}, below...)
	res, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET severity = ?, rev = rev + 1, updated_at = ?
	    WHERE id = ? AND closed_at IS NULL AND severity IN (`+placeholders(len(below))+`)`), args...)
	if err != nil {
		return fmt.Errorf("raise severity of work item %d: %w", itemID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	d := map[string]any{"field": "severity", "from": from, "to": to}
	for k, v := range data {
		d[k] = v
	}
	_, err = db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindUpdate,
		Message: fmt.Sprintf("severity raised from %s to %s: %s", from, to, why), Data: d})
	return err
}
