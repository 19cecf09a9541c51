package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Cursor returns a poller's saved watermark ("" when none).
func (db *DB) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT value FROM sync_cursors WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor saves a poller's watermark.
func (db *DB) SetCursor(ctx context.Context, name, value string) error {
	return db.tx(ctx, func(tx dbtx) error {
		_, err := db.exec(ctx, tx, `INSERT INTO sync_cursors (name, value, updated_at) VALUES (?, ?, ?)
		    ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, us(db.clock.Now()))
		if err != nil {
			return fmt.Errorf("save cursor %s: %w", name, err)
		}
		return nil
	})
}

// ExternalRef returns the id of the record in system that mirrors a work
// item ("" when none).
func (db *DB) ExternalRef(ctx context.Context, workItemID int64, system string) (string, error) {
	var ref string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT ref FROM external_refs WHERE workitem_id = ? AND system = ?`), workItemID, system).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s ref of work item %d: %w", system, workItemID, err)
	}
	return ref, nil
}

// SaveExternalRef records that ref in system mirrors a work item, with a
// timeline entry. Saving the same ref again changes nothing.
func (db *DB) SaveExternalRef(ctx context.Context, workItemID int64, system, ref string) error {
	return db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, `INSERT INTO external_refs (workitem_id, system, ref, created_at) VALUES (?, ?, ?, ?)
		    ON CONFLICT DO NOTHING`, workItemID, system, ref, us(db.clock.Now()))
		if err != nil {
			return fmt.Errorf("save %s ref of work item %d: %w", system, workItemID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var have string
			if err := tx.QueryRowContext(ctx, db.q(`SELECT ref FROM external_refs WHERE workitem_id = ? AND system = ?`),
				workItemID, system).Scan(&have); err == nil && have != ref {
				return fmt.Errorf("work item %d is already mirrored by %s %s, not %s", workItemID, system, have, ref)
			}
			return nil
		}
		_, err = db.insertEntry(ctx, tx, workItemID, workitem.Entry{Actor: "vigil", Kind: workitem.KindSync,
			Message: fmt.Sprintf("mirrored as %s %s", system, ref), Data: map[string]string{"system": system, "ref": ref}})
		return err
	})
}

// WorkItemByRef returns the work item that ref in system mirrors (0 when none).
func (db *DB) WorkItemByRef(ctx context.Context, system, ref string) (int64, error) {
	var id int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT workitem_id FROM external_refs WHERE system = ? AND ref = ?`), system, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find work item of %s %s: %w", system, ref, err)
	}
	return id, nil
}

// WorkItemIDsAfter returns up to limit work item ids greater than after,
// in order: the mirror walks new items with it.
func (db *DB) WorkItemIDsAfter(ctx context.Context, after int64, limit int) ([]int64, error) {
	return db.ids(ctx, db.r, `SELECT id FROM workitems WHERE id > ? ORDER BY id LIMIT `+strconv.Itoa(limit), after)
}

// OpenIncident is an open incident with its members, each with the latest
// status vigil knows: the alert's own when vigil holds the alert (the
// Defender connector pulls it straight from Defender for Cloud), otherwise
// the status the incident's service last showed for it.
type OpenIncident struct {
	ID         int64
	Source     string
	SourceID   string
	Ref        string
	Status     alert.Status
	Version    int
	WorkItemID int64
	Members    []alert.Member
}

// OpenIncidents returns every open incident of a source with its members,
// in id order. It is one query, so that a reconciler pass over a large
// workspace costs one scan.
func (db *DB) OpenIncidents(ctx context.Context, source string) ([]OpenIncident, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT i.id, i.source_id, i.ref, i.status, i.version, COALESCE(i.workitem_id, 0),
	    m.source, m.source_id, COALESCE(a.status, m.status)
	    FROM incidents i JOIN incident_members m ON m.incident_id = i.id
	    LEFT JOIN alerts a ON a.source = m.source AND a.dedup_key = 'id:' || m.source_id
	    WHERE i.source = ? AND i.status IN ('new', 'in_progress')
	    ORDER BY i.id`), source)
	if err != nil {
		return nil, fmt.Errorf("open incidents: %w", err)
	}
	defer rows.Close()
	var out []OpenIncident
	for rows.Next() {
		var in OpenIncident
		in.Source = source
		var status, msrc, mid, mstatus string
		if err := rows.Scan(&in.ID, &in.SourceID, &in.Ref, &status, &in.Version, &in.WorkItemID, &msrc, &mid, &mstatus); err != nil {
			return nil, fmt.Errorf("open incidents: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != in.ID {
			in.Status = alert.Status(status)
			out = append(out, in)
		}
		last := &out[len(out)-1]
		last.Members = append(last.Members, alert.Member{Source: msrc, SourceID: mid, Status: alert.Status(mstatus)})
	}
	return out, rows.Err()
}

// Enqueue writes outbox messages outside a work-item change (a reconciler
// decision, a mirror create). Each newly queued message's entry, if any,
// goes on the timeline of the message's work item in the same
// transaction; a message whose key is already queued adds nothing. It
// reports how many messages were new.
func (db *DB) Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error) {
	queued := 0
	err := db.tx(ctx, func(tx dbtx) error {
		queued = 0
		for i, m := range msgs {
			n, err := db.enqueue(ctx, tx, m.WorkItemID, []outbox.Message{m})
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			queued++
			if m.WorkItemID != 0 && i < len(entries) && entries[i].Message != "" {
				if _, err := db.insertEntry(ctx, tx, m.WorkItemID, entries[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return queued, err
}
