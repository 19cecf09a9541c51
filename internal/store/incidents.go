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

// IncidentResult reports what storing an incident did.
type IncidentResult struct {
	IncidentID int64   `json:"incident_id"`
	Version    int     `json:"version"`
	WorkItemID int64   `json:"workitem_id"`
	Outcome    Outcome `json:"outcome"`
	// MissingAlerts lists member alerts not (yet) known to vigil; they are
	// linked when the incident is stored again after they arrive.
	MissingAlerts []string `json:"missing_alerts,omitempty"`
}

// UpsertIncident stores a normalized incident with a new version, links
// its member alerts (many-to-many) and creates or updates its work item,
// to which the member alerts are linked too. All in one transaction.
func (db *DB) UpsertIncident(ctx context.Context, proc *workitem.Process, actor string, in alert.Incident) (IncidentResult, error) {
	var r IncidentResult
	err := db.tx(ctx, func(tx dbtx) error {
		r = IncidentResult{}
		now := us(db.clock.Now())
		var itemID int64
		var state string
		err := tx.QueryRowContext(ctx, db.q(`SELECT i.id, i.version, COALESCE(i.workitem_id, 0), COALESCE(w.state, '')
		    FROM incidents i LEFT JOIN workitems w ON w.id = i.workitem_id WHERE i.source = ? AND i.source_id = ?`),
			in.Source, in.SourceID).Scan(&r.IncidentID, &r.Version, &itemID, &state)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r.Version = 1
			err = tx.QueryRowContext(ctx, db.q(`INSERT INTO incidents (source, source_id, title, description, severity, status,
			    first_seen, last_seen, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id`),
				in.Source, in.SourceID, in.Title, in.Description, string(in.Severity), string(in.Status),
				us(in.FirstSeen), us(in.LastSeen), now, now).Scan(&r.IncidentID)
			if err != nil {
				return fmt.Errorf("insert incident: %w", err)
			}
		case err != nil:
			return fmt.Errorf("look up incident: %w", err)
		default:
			err = tx.QueryRowContext(ctx, db.q(`UPDATE incidents SET title = ?, description = ?, severity = ?, status = ?,
			    last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END, version = version + 1, updated_at = ?
			    WHERE id = ? RETURNING version`),
				in.Title, in.Description, string(in.Severity), string(in.Status), us(in.LastSeen), us(in.LastSeen), now, r.IncidentID).Scan(&r.Version)
			if err != nil {
				return fmt.Errorf("update incident: %w", err)
			}
		}

		// Resolve member alerts by their source ids, within the same source.
		var alertIDs []int64
		for _, ref := range in.AlertRefs {
			var id int64
			err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM alerts WHERE source = ? AND dedup_key = ?`), in.Source, "id:"+ref).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				r.MissingAlerts = append(r.MissingAlerts, ref)
				continue
			}
			if err != nil {
				return fmt.Errorf("resolve alert %s: %w", ref, err)
			}
			alertIDs = append(alertIDs, id)
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO incident_alerts (incident_id, alert_id) VALUES (?, ?) ON CONFLICT DO NOTHING`),
				r.IncidentID, id); err != nil {
				return fmt.Errorf("link alert to incident: %w", err)
			}
		}
		idsJSON, _ := json.Marshal(alertIDs)
		if alertIDs == nil {
			idsJSON = []byte("[]")
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO incident_versions (incident_id, version, received_at, title, severity, status, alert_ids, raw)
		    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.IncidentID, r.Version, now, in.Title, string(in.Severity), string(in.Status),
			string(idsJSON), nullJSON(in.Raw)); err != nil {
			return fmt.Errorf("insert incident version: %w", err)
		}

		// The work item: the open one, or a new one (linked to a closed predecessor).
		r.Outcome = OutcomeUpdated
		if itemID == 0 || state == "" || proc.Terminal(state) {
			prev := itemID
			r.Outcome = OutcomeCreated
			if prev != 0 {
				r.Outcome = OutcomeReopened
			}
			var prevArg any
			if prev != 0 {
				prevArg = prev
			}
			if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO workitems (type, title, state, severity, source, rev, alert_count, previous_id,
			    created_at, updated_at, last_seen) VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?) RETURNING id`),
				string(proc.TypeFor(in.Source)), in.Title, proc.Initial(), string(in.Severity), in.Source, prevArg, now, now, us(in.LastSeen)).Scan(&itemID); err != nil {
				return fmt.Errorf("create work item: %w", err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_incidents (workitem_id, incident_id, linked_at) VALUES (?, ?, ?)`),
				itemID, r.IncidentID, now); err != nil {
				return fmt.Errorf("link incident: %w", err)
			}
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE incidents SET workitem_id = ? WHERE id = ?`), itemID, r.IncidentID); err != nil {
				return fmt.Errorf("set incident's work item: %w", err)
			}
			msg := fmt.Sprintf("created from %s incident %s", in.Source, in.SourceID)
			if prev != 0 {
				msg += fmt.Sprintf(", which came back after work item %d was closed", prev)
				if _, err := db.insertEntry(ctx, tx, prev, workitem.Entry{Actor: actor, Kind: workitem.KindReopened,
					Message: fmt.Sprintf("incident %s came back; now tracked in work item %d", in.SourceID, itemID),
					Data:    map[string]any{"incident_id": r.IncidentID, "next_id": itemID}}); err != nil {
					return err
				}
			}
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindCreated, Message: msg,
				Data: map[string]any{"incident_id": r.IncidentID, "version": r.Version, "previous_id": prev}}); err != nil {
				return err
			}
		} else {
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindIncident,
				Message: fmt.Sprintf("incident %s updated (version %d, %s, status %s)", in.SourceID, r.Version, in.Severity, in.Status),
				Data:    map[string]any{"incident_id": r.IncidentID, "version": r.Version}}); err != nil {
				return err
			}
		}
		r.WorkItemID = itemID
		for _, aid := range alertIDs {
			res, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_alerts (workitem_id, alert_id, linked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
				itemID, aid, now)
			if err != nil {
				return fmt.Errorf("link alert to work item: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindAlert,
					Message: fmt.Sprintf("alert %d linked through incident %s", aid, in.SourceID),
					Data:    map[string]any{"alert_id": aid, "incident_id": r.IncidentID}}); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE workitems SET alert_count = (SELECT COUNT(*) FROM workitem_alerts WHERE workitem_id = ?),
		    last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END, updated_at = ? WHERE id = ?`),
			itemID, us(in.LastSeen), us(in.LastSeen), now, itemID)
		if err != nil {
			return fmt.Errorf("update work item: %w", err)
		}
		return nil
	})
	if err != nil {
		return IncidentResult{}, fmt.Errorf("store incident %s/%s: %w", in.Source, in.SourceID, err)
	}
	return r, nil
}

const incidentColumns = `id, source, source_id, title, description, severity, status, first_seen, last_seen, version,
    COALESCE(workitem_id, 0), created_at, updated_at`

func scanIncident(s scanner) (alert.Incident, error) {
	var in alert.Incident
	var sev, status string
	var first, last, created, updated int64
	err := s.Scan(&in.ID, &in.Source, &in.SourceID, &in.Title, &in.Description, &sev, &status, &first, &last, &in.Version,
		&in.WorkItemID, &created, &updated)
	in.Severity, in.Status = alert.Severity(sev), alert.Status(status)
	in.FirstSeen, in.LastSeen, in.CreatedAt, in.UpdatedAt = fromUS(first), fromUS(last), fromUS(created), fromUS(updated)
	return in, err
}

// GetIncident returns an incident with its member alert ids and latest raw.
func (db *DB) GetIncident(ctx context.Context, id int64) (alert.Incident, error) {
	in, err := scanIncident(db.r.QueryRowContext(ctx, db.q(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("incident %d: %w", id, validation.ErrNotFound)
	}
	if err != nil {
		return in, fmt.Errorf("get incident %d: %w", id, err)
	}
	if in.AlertIDs, err = db.ids(ctx, db.r, `SELECT alert_id FROM incident_alerts WHERE incident_id = ? ORDER BY alert_id`, id); err != nil {
		return in, err
	}
	var raw sql.NullString
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT raw FROM incident_versions WHERE incident_id = ? AND version = ?`), id, in.Version).Scan(&raw); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("get incident %d raw: %w", id, err)
	}
	if raw.Valid {
		in.Raw = json.RawMessage(raw.String)
	}
	return in, nil
}

// ListIncidents returns incidents newest first, optionally of one source.
func (db *DB) ListIncidents(ctx context.Context, source string, after int64, limit int) ([]alert.Incident, error) {
	var c conds
	c.eq("source", source)
	c.before(after)
	return queryAll(ctx, db, "incidents", c.page(incidentColumns, "incidents", limit), c.args, scanIncident)
}

// IncidentVersion is one entry of an incident's history.
type IncidentVersion struct {
	Version    int             `json:"version"`
	ReceivedAt string          `json:"received_at"`
	Title      string          `json:"title"`
	Severity   alert.Severity  `json:"severity"`
	Status     alert.Status    `json:"status"`
	AlertIDs   []int64         `json:"alert_ids"`
	Raw        json.RawMessage `json:"raw,omitempty"`
}

// IncidentVersions returns an incident's history, oldest first.
func (db *DB) IncidentVersions(ctx context.Context, id int64) ([]IncidentVersion, error) {
	if _, err := db.GetIncident(ctx, id); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT version, received_at, title, severity, status, alert_ids, raw
	    FROM incident_versions WHERE incident_id = ? ORDER BY version`), id)
	if err != nil {
		return nil, fmt.Errorf("incident versions: %w", err)
	}
	defer rows.Close()
	out := []IncidentVersion{}
	for rows.Next() {
		var v IncidentVersion
		var recv int64
		var sev, status, ids string
		var raw sql.NullString
		if err := rows.Scan(&v.Version, &recv, &v.Title, &sev, &status, &ids, &raw); err != nil {
			return nil, err
		}
		v.ReceivedAt = fromUS(recv).Format("2006-01-02T15:04:05.000000Z07:00")
		v.Severity, v.Status = alert.Severity(sev), alert.Status(status)
		if err := json.Unmarshal([]byte(ids), &v.AlertIDs); err != nil {
			return nil, fmt.Errorf("incident version alert ids: %w", err)
		}
		if raw.Valid {
			v.Raw = json.RawMessage(raw.String)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
