package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

const alertColumns = `id, source, source_id, product, title, description, severity, status, entities,
    first_seen, last_seen, version, COALESCE(workitem_id, 0), created_at, updated_at, seen_count`

func scanAlert(s scanner) (alert.Alert, error) {
	var a alert.Alert
	var sev, status, ents string
	var first, last, created, updated int64
	err := s.Scan(&a.ID, &a.Source, &a.SourceID, &a.Product, &a.Title, &a.Description, &sev, &status, &ents,
		&first, &last, &a.Version, &a.WorkItemID, &created, &updated, &a.SeenCount)
	if err != nil {
		return a, err
	}
	a.Severity, a.Status = alert.Severity(sev), alert.Status(status)
	a.FirstSeen, a.LastSeen, a.CreatedAt, a.UpdatedAt = fromUS(first), fromUS(last), fromUS(created), fromUS(updated)
	if err := json.Unmarshal([]byte(ents), &a.Entities); err != nil {
		return a, fmt.Errorf("alert %d entities: %w", a.ID, err)
	}
	return a, nil
}

// AlertFilter selects alerts. Zero fields do not filter.
type AlertFilter struct {
	Source   string
	Status   alert.Status
	Severity alert.Severity
	Text     string
	After    int64 // keyset cursor: IDs below this, newest first
	Limit    int
}

// ListAlerts returns alerts matching f, newest first, without raw payloads.
func (db *DB) ListAlerts(ctx context.Context, f AlertFilter) ([]alert.Alert, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	var c conds
	c.eq("source", f.Source)
	c.eq("status", string(f.Status))
	c.eq("severity", string(f.Severity))
	c.contains("title", f.Text)
	c.before(f.After)
	return queryAll(ctx, db, "alerts", c.page(alertColumns, "alerts", f.Limit), c.args, scanAlert)
}

// GetAlert returns one alert with the raw payload of its latest version.
func (db *DB) GetAlert(ctx context.Context, id int64) (alert.Alert, error) {
	a, err := scanAlert(db.r.QueryRowContext(ctx, db.q(`SELECT `+alertColumns+` FROM alerts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %d: %w", id, validation.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("get alert %d: %w", id, err)
	}
	var raw sql.NullString
	err = db.r.QueryRowContext(ctx, db.q(`SELECT raw FROM alert_versions WHERE alert_id = ? AND version = ?`), id, a.Version).Scan(&raw)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("get alert %d raw: %w", id, err)
	}
	if raw.Valid {
		a.Raw = json.RawMessage(raw.String)
	}
	return a, nil
}

// AlertVersions returns an alert's history, oldest first.
func (db *DB) AlertVersions(ctx context.Context, id int64) ([]alert.Version, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT version, received_at, title, description, severity, status, entities, last_seen, raw
	    FROM alert_versions WHERE alert_id = ? ORDER BY version`), id)
	if err != nil {
		return nil, fmt.Errorf("alert versions: %w", err)
	}
	defer rows.Close()
	out := []alert.Version{}
	for rows.Next() {
		v := alert.Version{AlertID: id}
		var sev, status, ents string
		var recv, last int64
		var raw sql.NullString
		if err := rows.Scan(&v.Version, &recv, &v.Title, &v.Description, &sev, &status, &ents, &last, &raw); err != nil {
			return nil, fmt.Errorf("scan alert version: %w", err)
		}
		v.Severity, v.Status, v.ReceivedAt, v.LastSeen = alert.Severity(sev), alert.Status(status), fromUS(recv), fromUS(last)
		if err := json.Unmarshal([]byte(ents), &v.Entities); err != nil {
			return nil, fmt.Errorf("alert version entities: %w", err)
		}
		if raw.Valid {
			v.Raw = json.RawMessage(raw.String)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		var one int
		if err := db.r.QueryRowContext(ctx, db.q(`SELECT 1 FROM alerts WHERE id = ?`), id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("alert %d: %w", id, validation.ErrNotFound)
		}
	}
	return out, rows.Err()
}

// SetAlertStatus changes the status of the alert with the given source id,
// as a sender's acknowledge or resolve does: a new version copied from the
// latest with the new status, and a timeline entry on its work item. It
// reports false when no such alert exists.
func (db *DB) SetAlertStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (bool, error) {
	ch, err := db.ChangeAlertStatus(ctx, source, sourceID, status, actor, why)
	return ch.Found, err
}

// StatusChange reports what ChangeAlertStatus did.
type StatusChange struct {
	Found      bool
	AlertID    int64
	WorkItemID int64
	// SourceResolved: the change left every alert of the item resolved
	// or dismissed at its source, where some was open before.
	SourceResolved bool
}

// ChangeAlertStatus is SetAlertStatus reporting the alert and its item,
// and whether the item is now wholly resolved at the source.
func (db *DB) ChangeAlertStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (StatusChange, error) {
	var ch StatusChange
	err := db.tx(ctx, func(tx dbtx) error {
		ch = StatusChange{}
		now := us(db.clock.Now())
		var id, itemID int64
		var version int
		var old string
		// The new version number is computed here, so the row must stay
		// locked until commit: on PostgreSQL a concurrent ingest or status
		// change would otherwise take the same number. SQLite's single
		// writer already serializes, and has no FOR UPDATE.
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		err := tx.QueryRowContext(ctx, db.q(`SELECT id, version, status, COALESCE(workitem_id, 0) FROM alerts WHERE source = ? AND dedup_key = ?`+lock),
			source, "id:"+sourceID).Scan(&id, &version, &old, &itemID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find alert: %w", err)
		}
		ch.Found, ch.AlertID, ch.WorkItemID = true, id, itemID
		if old == string(status) {
			// A repeated acknowledge or resolve changes nothing; it
			// adds no version and no timeline noise.
			return nil
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE alerts SET status = ?, version = ?, updated_at = ? WHERE id = ?`),
			string(status), version+1, now, id); err != nil {
			return fmt.Errorf("update alert status: %w", err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO alert_versions (alert_id, version, received_at, title, description, severity, status, entities, last_seen, raw)
		    SELECT alert_id, ?, ?, title, description, severity, ?, entities, last_seen, raw FROM alert_versions WHERE alert_id = ? AND version = ?`),
			version+1, now, string(status), id, version); err != nil {
			return fmt.Errorf("insert alert version: %w", err)
		}
		if itemID == 0 {
			return nil
		}
		prev := content{status: old}
		next := content{status: string(status)}
		if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindAlert,
			Message: fmt.Sprintf("alert %d (version %d): %s (%s)", id, version+1, describeChange(prev, next, false), why),
			Data:    map[string]any{"alert_id": id, "version": version + 1, "status": status}}); err != nil {
			return err
		}
		if alert.Status(old).Open() == status.Open() {
			return nil
		}
		became, err := db.settleItems(ctx, tx, actor, []int64{itemID}, now)
		ch.SourceResolved = became[itemID]
		return err
	})
	return ch, err
}
