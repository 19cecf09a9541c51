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

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/validation"
)

// SetRules installs the rules that creation triggers run inside the
// ingest transaction. The rules service calls it whenever the stored
// rules change.
func (db *DB) SetRules(s *automation.Set) { db.rules.Store(s) }

// Rules returns the installed rule set (nil when none).
func (db *DB) Rules() *automation.Set { return db.rules.Load() }

// RuleStats is what a rule did, for its page.
type RuleStats struct {
	Hits        int64      `json:"hits"`
	Closed      int64      `json:"closed"`
	Suppressed  int64      `json:"suppressed"`
	LastHit     *time.Time `json:"last_hit,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// StoredRule is a rule with its counters.
type StoredRule struct {
	automation.Rule
	RuleStats
}

const ruleCols = `id, name, version, definition, created_at, created_by, updated_at, updated_by,
	hits, closed, suppressed, last_hit_at, last_error, last_error_at`

func scanRule(s scanner) (StoredRule, error) {
	var r StoredRule
	var def string
	var created, updated int64
	var lastHit, lastErrAt sql.NullInt64
	if err := s.Scan(&r.ID, &r.Name, &r.Version, &def, &created, &r.CreatedBy, &updated, &r.UpdatedBy,
		&r.Hits, &r.Closed, &r.Suppressed, &lastHit, &r.LastError, &lastErrAt); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(def), &r.Definition); err != nil {
		return r, fmt.Errorf("rule %d: definition: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = fromUS(created), fromUS(updated)
	if lastHit.Valid {
		t := fromUS(lastHit.Int64)
		r.LastHit = &t
	}
	if lastErrAt.Valid {
		t := fromUS(lastErrAt.Int64)
		r.LastErrorAt = &t
	}
	return r, nil
}

// ListRules returns every rule in run order.
func (db *DB) ListRules(ctx context.Context) ([]StoredRule, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+ruleCols+` FROM automation_rules ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	defer rows.Close()
	var out []StoredRule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetRule returns one rule.
func (db *DB) GetRule(ctx context.Context, id int64) (StoredRule, error) {
	r, err := scanRule(db.r.QueryRowContext(ctx, db.q(`SELECT `+ruleCols+` FROM automation_rules WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rule %d: %w", id, validation.ErrNotFound)
	}
	return r, err
}

// SaveRule creates a rule (id 0) or replaces one's definition with a new
// version. The definition must be normalized and compiled by the caller.
func (db *DB) SaveRule(ctx context.Context, id int64, d automation.Definition, actor string) (automation.Rule, error) {
	def, err := json.Marshal(d)
	if err != nil {
		return automation.Rule{}, fmt.Errorf("save rule: %w", err)
	}
	now := us(db.clock.Now())
	var exp any
	if d.ExpiresAt != nil {
		exp = us(*d.ExpiresAt)
	}
	var version int
	err = db.tx(ctx, func(tx dbtx) error {
		if id == 0 {
			version = 1
			if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO automation_rules (name, version, position, enabled, definition, expires_at,
			    created_at, created_by, updated_at, updated_by) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				d.Name, d.Order, boolInt(d.Enabled), string(def), exp, now, actor, now, actor).Scan(&id); err != nil {
				return uniqueName(err, d.Name)
			}
		} else {
			if err := tx.QueryRowContext(ctx, db.q(`UPDATE automation_rules SET name = ?, version = version + 1, position = ?, enabled = ?,
			    definition = ?, expires_at = ?, updated_at = ?, updated_by = ?, last_error = '', last_error_at = NULL WHERE id = ? RETURNING version`),
				d.Name, d.Order, boolInt(d.Enabled), string(def), exp, now, actor, id).Scan(&version); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("rule %d: %w", id, validation.ErrNotFound)
				}
				return uniqueName(err, d.Name)
			}
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO automation_rule_versions (rule_id, version, definition, changed_at, changed_by)
		    VALUES (?, ?, ?, ?, ?)`), id, version, string(def), now, actor)
		return err
	})
	if err != nil {
		return automation.Rule{}, fmt.Errorf("save rule: %w", err)
	}
	r, err := db.GetRule(ctx, id)
	return r.Rule, err
}

func uniqueName(err error, name string) error {
	if isUnique(err) {
		return &validation.ConflictError{Message: fmt.Sprintf("a rule named %q exists", name)}
	}
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RuleVersion is one entry of a rule's history.
type RuleVersion struct {
	Version    int                   `json:"version"`
	Definition automation.Definition `json:"definition"`
	ChangedAt  time.Time             `json:"changed_at"`
	ChangedBy  string                `json:"changed_by"`
}

// RuleVersions returns a rule's history, newest first.
func (db *DB) RuleVersions(ctx context.Context, id int64) ([]RuleVersion, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT version, definition, changed_at, changed_by FROM automation_rule_versions
	    WHERE rule_id = ? ORDER BY version DESC`), id)
	if err != nil {
		return nil, fmt.Errorf("rule %d versions: %w", id, err)
	}
	defer rows.Close()
	var out []RuleVersion
	for rows.Next() {
		var v RuleVersion
		var def string
		var at int64
		if err := rows.Scan(&v.Version, &def, &at, &v.ChangedBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(def), &v.Definition); err != nil {
			return nil, fmt.Errorf("rule %d v%d: %w", id, v.Version, err)
		}
		v.ChangedAt = fromUS(at)
		out = append(out, v)
	}
	return out, rows.Err()
}

// recordRuleRun adds a batch's hits and errors to the rules' counters,
// inside the ingest transaction, in rule order (concurrent batches on
// PostgreSQL lock the rows in the same order).
func (db *DB) recordRuleRun(ctx context.Context, tx dbtx, now int64, tally map[int64]*ruleTally) error {
	for _, id := range sortedKeys(tally) {
		t := tally[id]
		if t.hits > 0 {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_rules SET hits = hits + ?, closed = closed + ?, suppressed = suppressed + ?,
			    last_hit_at = ? WHERE id = ?`), t.hits, t.closed, t.suppressed, now, id); err != nil {
				return fmt.Errorf("rule %d counters: %w", id, err)
			}
		}
		if t.err != "" {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE automation_rules SET last_error = ?, last_error_at = ? WHERE id = ?`), t.err, now, id); err != nil {
				return fmt.Errorf("rule %d error: %w", id, err)
			}
		}
	}
	return nil
}

type ruleTally struct {
	hits, closed, suppressed int64
	err                      string
}

func sortedKeys[V any](m map[int64]V) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// isUnique reports a unique-constraint violation on either database.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// EachAlertSince calls fn for every alert created at or after since,
// oldest first. withRaw joins each alert's newest payload, which costs a
// read of the version table: the preview asks for it only when the
// condition tests a payload fact (tactics, custom details, labels).
func (db *DB) EachAlertSince(ctx context.Context, since time.Time, withRaw bool, fn func(*alert.Alert) error) error {
	cols := `a.id, a.source, a.source_id, a.product, a.title, a.description, a.severity, a.status, a.entities, a.first_seen,
	    a.last_seen, COALESCE(a.workitem_id, 0)`
	from := ` FROM alerts a`
	if withRaw {
		cols += `, v.raw`
		from += ` JOIN alert_versions v ON v.alert_id = a.id AND v.version = a.version`
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+cols+from+` WHERE a.created_at >= ? ORDER BY a.id`), us(since))
	if err != nil {
		return fmt.Errorf("alerts since %s: %w", since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	for rows.Next() {
		var a alert.Alert
		var ents string
		var first, last int64
		var raw sql.NullString
		dest := []any{&a.ID, &a.Source, &a.SourceID, &a.Product, &a.Title, &a.Description, &a.Severity, &a.Status, &ents, &first, &last, &a.WorkItemID}
		if withRaw {
			dest = append(dest, &raw)
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("scan alert: %w", err)
		}
		if ents != "" && ents != "[]" {
			if err := json.Unmarshal([]byte(ents), &a.Entities); err != nil {
				return fmt.Errorf("alert %d entities: %w", a.ID, err)
			}
		}
		a.FirstSeen, a.LastSeen = fromUS(first), fromUS(last)
		if raw.Valid {
			a.Raw = json.RawMessage(raw.String)
		}
		if err := fn(&a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteExpiredRules deletes the rules whose expiry is before before,
// with their history, and reports how many went.
func (db *DB) DeleteExpiredRules(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx dbtx) error {
		cond := ` WHERE expires_at IS NOT NULL AND expires_at < ?`
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM automation_rule_versions WHERE rule_id IN (SELECT id FROM automation_rules`+cond+`)`), us(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM automation_rules`+cond), us(before))
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired rules: %w", err)
	}
	return n, nil
}

// RecordRuleHits adds hits and errors of rules run after commit (update
// triggers) to the rules' counters.
func (db *DB) RecordRuleHits(ctx context.Context, res *automation.Result) error {
	tally := tallyOf(res)
	if len(tally) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx dbtx) error { return db.recordRuleRun(ctx, tx, us(db.clock.Now()), tally) })
}

// tallyOf counts a run's hits, closes, suppressions and errors per rule.
func tallyOf(res *automation.Result) map[int64]*ruleTally {
	tally := map[int64]*ruleTally{}
	get := func(id int64) *ruleTally {
		if tally[id] == nil {
			tally[id] = &ruleTally{}
		}
		return tally[id]
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
	return tally
}
