package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// LabelledAlert is an alert of a label-based source (Alertmanager) with
// the payload it last came with, for Alertmanager's API v2.
type LabelledAlert struct {
	ID           int64
	WorkItemID   int64
	Fingerprint  string // the source id
	Status       alert.Status
	FirstSeen    time.Time
	LastSeen     time.Time
	UpdatedAt    time.Time
	SuppressedBy int64 // the rule that suppressed it, 0 when none
	Raw          json.RawMessage
}

// LabelledAlerts calls fn for every alert of source that is not resolved
// or dismissed (unresolved only, as Alertmanager lists), with its latest
// payload.
func (db *DB) LabelledAlerts(ctx context.Context, source string, fn func(LabelledAlert) error) error {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT a.id, COALESCE(a.workitem_id, 0), a.source_id, a.status, a.first_seen, a.last_seen, a.updated_at,
	        COALESCE(a.suppressed_by, 0), COALESCE(CAST(v.raw AS TEXT), '')
	    FROM alerts a LEFT JOIN alert_versions v ON v.alert_id = a.id AND v.version = a.version
	    WHERE a.source = ? AND a.status NOT IN ('resolved', 'dismissed') ORDER BY a.id`), source)
	if err != nil {
		return fmt.Errorf("labelled alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a LabelledAlert
		var first, last, upd int64
		var raw string
		if err := rows.Scan(&a.ID, &a.WorkItemID, &a.Fingerprint, &a.Status, &first, &last, &upd, &a.SuppressedBy, &raw); err != nil {
			return fmt.Errorf("labelled alerts: %w", err)
		}
		a.FirstSeen, a.LastSeen, a.UpdatedAt, a.Raw = fromUS(first), fromUS(last), fromUS(upd), json.RawMessage(raw)
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AlertBySource returns the alert a source knows as sourceID (without its
// payload), or ErrNotFound.
func (db *DB) AlertBySource(ctx context.Context, source, sourceID string) (alert.Alert, error) {
	a, err := scanAlert(db.r.QueryRowContext(ctx, db.q(`SELECT `+alertColumns+` FROM alerts WHERE source = ? AND source_id = ?`), source, sourceID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %s %s: %w", source, sourceID, validation.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("alert %s %s: %w", source, sourceID, err)
	}
	return a, nil
}
