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
	// PreviousStatus is the status before this change ("" for a new
	// incident), so that a connector can tell "closed in Sentinel" apart
	// from "still closed".
	PreviousStatus alert.Status `json:"previous_status,omitempty"`
	// PreviousSeverity is the severity before this change, for the
	// incident.updated trigger's "changed" conditions.
	PreviousSeverity alert.Severity `json:"-"`
	// Secondary is set when a secondary view (alert.Incident.Secondary)
	// found the incident already stored by another view and left it alone.
	Secondary bool `json:"-"`
}

// IncidentObserver hears, after commit, each incident stored on a work
// item as new or as a new version (r.Outcome says which): the
// incident.updated trigger, and paging's routing of new items.
type IncidentObserver interface {
	IncidentUpdated(ctx context.Context, actor string, in alert.Incident, r IncidentResult)
}

// ObserveIncidents adds an observer of stored incidents. Call it before
// the store is in use.
func (db *DB) ObserveIncidents(o IncidentObserver) { db.incidents = append(db.incidents, o) }

// resolveMembers finds the alert rows of an incident's members (AlertRefs
// within its own source, Members in any source) and links them to the
// incident. Members vigil has not seen are reported missing.
func (db *DB) resolveMembers(ctx context.Context, tx dbtx, incidentID int64, in alert.Incident) ([]int64, []string, error) {
	refs := make([]alert.Member, 0, len(in.AlertRefs)+len(in.Members))
	for _, ref := range in.AlertRefs {
		refs = append(refs, alert.Member{Source: in.Source, SourceID: ref})
	}
	refs = append(refs, in.Members...)
	var ids []int64
	var missing []string
	for _, m := range refs {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM alerts WHERE source = ? AND dedup_key = ?`), m.Source, "id:"+m.SourceID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			name := m.SourceID
			if m.Source != in.Source {
				name = m.Source + ":" + m.SourceID
			}
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("resolve alert %s: %w", m.SourceID, err)
		}
		ids = append(ids, id)
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO incident_alerts (incident_id, alert_id) VALUES (?, ?) ON CONFLICT DO NOTHING`),
			incidentID, id); err != nil {
			return nil, nil, fmt.Errorf("link alert to incident: %w", err)
		}
	}
	return ids, missing, nil
}

// replaceMembers records an incident's cross-source members, and reports
// whether they differ from those stored. A nil list leaves them alone
// (incidents from the native API name members by AlertRefs only).
func (db *DB) replaceMembers(ctx context.Context, tx dbtx, incidentID int64, members []alert.Member, existed bool) (bool, error) {
	if members == nil {
		return false, nil
	}
	if existed {
		rows, err := tx.QueryContext(ctx, db.q(`SELECT source, source_id, status FROM incident_members WHERE incident_id = ?`), incidentID)
		if err != nil {
			return false, fmt.Errorf("read incident members: %w", err)
		}
		old := map[alert.Member]bool{}
		for rows.Next() {
			var m alert.Member
			var st string
			if err := rows.Scan(&m.Source, &m.SourceID, &st); err != nil {
				rows.Close()
				return false, err
			}
			m.Status = alert.Status(st)
			old[m] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
		same := len(old) == len(members)
		for _, m := range members {
			same = same && old[m]
		}
		if same {
			return false, nil
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM incident_members WHERE incident_id = ?`), incidentID); err != nil {
			return false, fmt.Errorf("replace incident members: %w", err)
		}
	}
	for _, m := range members {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO incident_members (incident_id, source, source_id, status) VALUES (?, ?, ?, ?)
		    ON CONFLICT (incident_id, source, source_id) DO UPDATE SET status = excluded.status`),
			incidentID, m.Source, m.SourceID, string(m.Status)); err != nil {
			return false, fmt.Errorf("record incident member: %w", err)
		}
	}
	return true, nil
}

// linkToItem links an incident's alerts to its work item, with a timeline
// entry for each newly linked one, and refreshes the item's counters. An
// alert of another source that the incident contains becomes the item's:
// a held one joins it, and its own Problem item is merged into it.
func (db *DB) linkToItem(ctx context.Context, tx dbtx, actor string, in alert.Incident, incidentID, itemID int64, alertIDs []int64, now int64, touch bool) error {
	if itemID == 0 {
		return nil
	}
	gained := false
	for _, aid := range alertIDs {
		claimed, err := db.claimAlert(ctx, tx, actor, in, incidentID, itemID, aid, now)
		if err != nil {
			return err
		}
		gained = gained || claimed
		res, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_alerts (workitem_id, alert_id, linked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
			itemID, aid, now)
		if err != nil {
			return fmt.Errorf("link alert to work item: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			touch, gained = true, true
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindAlert,
				Message: fmt.Sprintf("alert %d linked through incident %s", aid, in.SourceID),
				Data:    map[string]any{"alert_id": aid, "incident_id": incidentID}}); err != nil {
				return err
			}
		}
	}
	if gained {
		if err := db.refreshItemSearch(ctx, tx, itemID); err != nil {
			return err
		}
		if _, err := db.settleItems(ctx, tx, actor, []int64{itemID}, now); err != nil {
			return err
		}
	}
	if !touch && !gained {
		return nil
	}
	_, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET alert_count = (SELECT COUNT(*) FROM workitem_alerts WHERE workitem_id = ?),
	    last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END, updated_at = ? WHERE id = ?`),
		itemID, us(in.LastSeen), us(in.LastSeen), now, itemID)
	if err != nil {
		return fmt.Errorf("update work item: %w", err)
	}
	return nil
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
		var state, itemSev string
		var prev alert.Incident
		var prevSev, prevStatus string
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE OF i"
		}
		lookup := func(where string, args ...any) error {
			return tx.QueryRowContext(ctx, db.q(`SELECT i.id, i.version, COALESCE(i.workitem_id, 0), COALESCE(w.state, ''), COALESCE(w.severity, ''),
			    i.title, i.description, i.severity, i.status, i.ref, i.link_key, i.source
			    FROM incidents i LEFT JOIN workitems w ON w.id = i.workitem_id WHERE `+where+lock), args...).Scan(&r.IncidentID, &r.Version, &itemID, &state, &itemSev,
				&prev.Title, &prev.Description, &prevSev, &prevStatus, &prev.Ref, &prev.LinkKey, &prev.Source)
		}
		err := lookup(`i.source = ? AND i.source_id = ?`, in.Source, in.SourceID)
		// adopt: the incident is stored under another view's source (see
		// alert.Incident.LinkKey); this view takes the row over.
		adopt := false
		if errors.Is(err, sql.ErrNoRows) && in.LinkKey != "" {
			if err = lookup(`i.id = (SELECT MIN(id) FROM incidents WHERE link_key = ?)`, in.LinkKey); err == nil {
				if in.Secondary {
					// The primary view keeps the row: this one adds nothing.
					r.Outcome, r.WorkItemID, r.Secondary = OutcomeUnchanged, itemID, true
					r.PreviousStatus, r.PreviousSeverity = alert.Status(prevStatus), alert.Severity(prevSev)
					return nil
				}
				adopt = true
			}
		}
		existed := err == nil
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r.Version = 1
			err = tx.QueryRowContext(ctx, db.q(`INSERT INTO incidents (source, source_id, title, description, severity, status,
			    first_seen, last_seen, version, created_at, updated_at, ref, link_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id`),
				in.Source, in.SourceID, in.Title, in.Description, string(in.Severity), string(in.Status),
				us(in.FirstSeen), us(in.LastSeen), now, now, in.Ref, in.LinkKey).Scan(&r.IncidentID)
			if err != nil {
				return fmt.Errorf("insert incident: %w", err)
			}
		case err != nil:
			return fmt.Errorf("look up incident: %w", err)
		}
		if adopt {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE incidents SET source = ?, source_id = ?, ref = ? WHERE id = ?`),
				in.Source, in.SourceID, in.Ref, r.IncidentID); err != nil {
				return fmt.Errorf("adopt incident %s: %w", in.LinkKey, err)
			}
			prev.Ref = in.Ref
		}
		if existed && in.LinkKey != "" && prev.LinkKey != in.LinkKey {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE incidents SET link_key = ? WHERE id = ?`), in.LinkKey, r.IncidentID); err != nil {
				return fmt.Errorf("link incident %s: %w", in.LinkKey, err)
			}
		}
		r.PreviousStatus, r.PreviousSeverity = alert.Status(prevStatus), alert.Severity(prevSev)

		membersChanged, err := db.replaceMembers(ctx, tx, r.IncidentID, in.Members, existed)
		if err != nil {
			return err
		}
		if existed && len(in.AlertRefs) == 0 && !membersChanged && prev.Title == in.Title && prev.Description == in.Description &&
			prevSev == string(in.Severity) && prevStatus == string(in.Status) && (in.Ref == "" || prev.Ref == in.Ref) {
			// A re-read of an unchanged incident adds no version and no
			// timeline noise, but may link member alerts that arrived since.
			r.Outcome, r.WorkItemID = OutcomeUnchanged, itemID
			if itemID != 0 && state != "" && !proc.Terminal(state) {
				ids, _, err := db.resolveMembers(ctx, tx, r.IncidentID, in)
				if err != nil {
					return err
				}
				return db.linkToItem(ctx, tx, actor, in, r.IncidentID, itemID, ids, now, false)
			}
			return nil
		}
		if existed {
			ref := in.Ref
			if ref == "" {
				ref = prev.Ref
			}
			err = tx.QueryRowContext(ctx, db.q(`UPDATE incidents SET title = ?, description = ?, severity = ?, status = ?, ref = ?,
			    last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END, version = version + 1, updated_at = ?
			    WHERE id = ? RETURNING version`),
				in.Title, in.Description, string(in.Severity), string(in.Status), ref, us(in.LastSeen), us(in.LastSeen), now, r.IncidentID).Scan(&r.Version)
			if err != nil {
				return fmt.Errorf("update incident: %w", err)
			}
		}

		alertIDs, missing, err := db.resolveMembers(ctx, tx, r.IncidentID, in)
		if err != nil {
			return err
		}
		r.MissingAlerts = missing
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
		if in.NoWorkItem && itemID == 0 {
			// Sync without a board (the reconciler alone): the incident
			// and its members are kept, no item is made.
			if !existed {
				r.Outcome = OutcomeCreated
			}
			return nil
		}
		// A closed item gets a successor only when its incident came back:
		// reopened at its source after it was closed there. Any other
		// change of an incident whose item is closed, vigil's own close
		// read back by the next poll above all, stays on the closed item.
		cameBack := existed && in.Status.Open() && prevStatus != "" && !alert.Status(prevStatus).Open()
		if itemID == 0 || state == "" || (proc.Terminal(state) && cameBack) {
			prev := itemID
			r.Outcome = OutcomeCreated
			if prev != 0 {
				r.Outcome = OutcomeReopened
			}
			var prevArg any
			if prev != 0 {
				prevArg = prev
			}
			// Creation rules run before the item exists: a suppressed
			// incident is stored, with no item.
			rres := db.incidentRules(proc, actor, &in, fromUS(now))
			if rres != nil && rres.Suppressed != nil {
				r.Outcome = OutcomeSuppressed
				return db.recordRuleRun(ctx, tx, now, tallyOf(rres))
			}
			state, sev := proc.Initial(), string(in.Severity)
			if rres != nil && rres.Changed() {
				state, sev = rres.Item.State, string(rres.Item.Severity)
			}
			if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO workitems (type, title, state, severity, source, rev, alert_count, previous_id,
			    created_at, updated_at, last_seen, search_text) VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?, ?, ?, ?) RETURNING id`),
				string(proc.TypeFor(in.Source)), in.Title, state, sev, in.Source, prevArg, now, now, us(in.LastSeen),
				alert.SearchText(in.Title)).Scan(&itemID); err != nil {
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
				msg += fmt.Sprintf(", which was reopened at its source after work item %d was closed", prev)
				if _, err := db.insertEntry(ctx, tx, prev, workitem.Entry{Actor: actor, Kind: workitem.KindReopened,
					Message: fmt.Sprintf("incident %s was reopened at its source; now tracked in work item %d", in.SourceID, itemID),
					Data:    map[string]any{"incident_id": r.IncidentID, "next_id": itemID}}); err != nil {
					return err
				}
			}
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindCreated, Message: msg,
				Data: map[string]any{"incident_id": r.IncidentID, "version": r.Version, "previous_id": prev}}); err != nil {
				return err
			}
			if err := db.writeRuleResult(ctx, tx, proc, now, itemID, rres); err != nil {
				return err
			}
		} else {
			change := describeIncidentChange(prev.Title, prevSev, prevStatus, in, membersChanged)
			if _, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindIncident,
				Message: fmt.Sprintf("incident %s (version %d): %s", in.SourceID, r.Version, change),
				Data:    map[string]any{"incident_id": r.IncidentID, "version": r.Version}}); err != nil {
				return err
			}
			if !proc.Terminal(state) && in.Severity.Rank() > alert.Severity(itemSev).Rank() {
				if err := db.raiseSeverity(ctx, tx, actor, itemID, itemSev, string(in.Severity),
					fmt.Sprintf("incident %s is now %s", in.SourceID, in.Severity), map[string]any{"incident_id": r.IncidentID}, now); err != nil {
					return err
				}
			}
		}
		r.WorkItemID = itemID
		return db.linkToItem(ctx, tx, actor, in, r.IncidentID, itemID, alertIDs, now, true)
	})
	if err != nil {
		return IncidentResult{}, fmt.Errorf("store incident %s/%s: %w", in.Source, in.SourceID, err)
	}
	if r.WorkItemID != 0 && (r.Outcome == OutcomeUpdated || r.Outcome == OutcomeCreated || r.Outcome == OutcomeReopened) {
		in.ID = r.IncidentID
		for _, o := range db.incidents {
			o.IncidentUpdated(ctx, actor, in, r)
		}
	}
	return r, nil
}

const incidentColumns = `id, source, source_id, title, description, severity, status, first_seen, last_seen, version,
    COALESCE(workitem_id, 0), created_at, updated_at, ref, link_key`

func scanIncident(s scanner) (alert.Incident, error) {
	var in alert.Incident
	var sev, status string
	var first, last, created, updated int64
	err := s.Scan(&in.ID, &in.Source, &in.SourceID, &in.Title, &in.Description, &sev, &status, &first, &last, &in.Version,
		&in.WorkItemID, &created, &updated, &in.Ref, &in.LinkKey)
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
	if err := CheckFilterText("source", source); err != nil {
		return nil, err
	}
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

// ItemIncidents returns the incidents a work item tracks.
func (db *DB) ItemIncidents(ctx context.Context, itemID int64) ([]alert.Incident, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT i.id, i.source, i.source_id, i.title, i.description, i.severity, i.status, i.first_seen, i.last_seen,
	    i.version, COALESCE(i.workitem_id, 0), i.created_at, i.updated_at, i.ref, i.link_key FROM incidents i
	    JOIN workitem_incidents wi ON wi.incident_id = i.id WHERE wi.workitem_id = ? ORDER BY i.id`), itemID)
	if err != nil {
		return nil, fmt.Errorf("incidents of work item %d: %w", itemID, err)
	}
	defer rows.Close()
	var out []alert.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("incidents of work item %d: %w", itemID, err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
