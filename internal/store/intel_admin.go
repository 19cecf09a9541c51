package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Indicator states, as the indicators page filters them.
const (
	IndicatorActive      = "active"
	IndicatorExpired     = "expired"
	IndicatorAllowlisted = "allowlisted"
)

// IndicatorRow is an indicator as the indicators page shows it.
type IndicatorRow struct {
	intel.Indicator
	State         string    `json:"state"` // active, expired or allowlisted
	AllowReason   string    `json:"allow_reason,omitempty"`
	AllowedBy     string    `json:"allowed_by,omitempty"`
	AllowedAt     time.Time `json:"allowed_at,omitzero"`
	MatchedItems  int       `json:"matched_items"`
	LastMatchedAt time.Time `json:"last_matched_at,omitzero"`
	ChangedAt     time.Time `json:"changed_at"`
}

// MarshalJSON flattens the indicator's fields into the row, in the API's
// snake case.
func (r IndicatorRow) MarshalJSON() ([]byte, error) {
	type flat struct {
		Type          string    `json:"type"`
		Value         string    `json:"value"`
		Feeds         []string  `json:"feeds"`
		Confidence    int       `json:"confidence"`
		Tags          []string  `json:"tags"`
		FirstSeen     time.Time `json:"first_seen"`
		LastSeen      time.Time `json:"last_seen"`
		ValidUntil    time.Time `json:"valid_until,omitzero"`
		State         string    `json:"state"`
		AllowReason   string    `json:"allow_reason,omitempty"`
		AllowedBy     string    `json:"allowed_by,omitempty"`
		AllowedAt     time.Time `json:"allowed_at,omitzero"`
		MatchedItems  int       `json:"matched_items"`
		LastMatchedAt time.Time `json:"last_matched_at,omitzero"`
		ChangedAt     time.Time `json:"changed_at"`
	}
	return json.Marshal(flat{r.Type, r.Value, nonNil(r.Feeds), r.Confidence, nonNil(r.Tags), r.FirstSeen, r.LastSeen, r.ValidUntil,
		r.State, r.AllowReason, r.AllowedBy, r.AllowedAt, r.MatchedItems, r.LastMatchedAt, r.ChangedAt})
}

// IndicatorQuery selects indicators. Zero fields do not filter.
type IndicatorQuery struct {
	Text   string // a substring of the value
	Type   string
	Feed   string
	State  string // active, expired or allowlisted
	Limit  int    // default 50, at most MaxPage
	Offset int
}

// SearchIndicators lists indicators, most recently changed first, with
// the total that match the query.
func (db *DB) SearchIndicators(ctx context.Context, q IndicatorQuery, now time.Time) ([]IndicatorRow, int, error) {
	if q.Type != "" && !validIndicatorType(q.Type) {
		return nil, 0, validation.NewFieldError("type", "unknown indicator type %q (want one of %s)", q.Type, strings.Join(intel.Types, ", "))
	}
	switch q.State {
	case "", IndicatorActive, IndicatorExpired, IndicatorAllowlisted:
	default:
		return nil, 0, validation.NewFieldError("state", "unknown state %q (want active, expired or allowlisted)", q.State)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, MaxPage)
	if q.Offset < 0 {
		return nil, 0, validation.NewFieldError("offset", "must not be negative")
	}
	var where []string
	var args []any
	if q.Text != "" {
		where = append(where, `LOWER(i.value) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(strings.ToLower(q.Text))+"%")
	}
	if q.Type != "" {
		where = append(where, `i.type = ?`)
		args = append(args, q.Type)
	}
	if q.Feed != "" {
		// feeds is a JSON array of names: match the quoted name.
		b, _ := json.Marshal(q.Feed)
		where = append(where, `i.feeds LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(string(b))+"%")
	}
	nowUS := us(now)
	switch q.State {
	case IndicatorActive:
		where = append(where, `a.value IS NULL AND (i.valid_until = 0 OR i.valid_until > ?)`)
		args = append(args, nowUS)
	case IndicatorExpired:
		where = append(where, `a.value IS NULL AND i.valid_until <> 0 AND i.valid_until <= ?`)
		args = append(args, nowUS)
	case IndicatorAllowlisted:
		where = append(where, `a.value IS NOT NULL`)
	}
	from := ` FROM indicators i LEFT JOIN ti_allowlist a ON a.type = i.type AND a.value = i.value`
	if len(where) > 0 {
		from += ` WHERE ` + strings.Join(where, " AND ")
	}
	var total int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*)`+from), args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count indicators: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT i.type, i.value, i.feeds, i.confidence, i.tags, i.first_seen, i.last_seen, i.valid_until, i.changed_at,
	        COALESCE(a.reason, ''), COALESCE(a.created_by, ''), COALESCE(a.created_at, 0), CASE WHEN a.value IS NULL THEN 0 ELSE 1 END,
	        (SELECT COUNT(*) FROM ti_matches m WHERE m.type = i.type AND m.value = i.value),
	        (SELECT COALESCE(MAX(m.matched_at), 0) FROM ti_matches m WHERE m.type = i.type AND m.value = i.value)`+
		from+` ORDER BY i.changed_at DESC, i.type, i.value LIMIT ? OFFSET ?`), append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("search indicators: %w", err)
	}
	defer rows.Close()
	var out []IndicatorRow
	for rows.Next() {
		r, err := scanIndicatorRow(rows, nowUS)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

func scanIndicatorRow(s scanner, nowUS int64) (IndicatorRow, error) {
	var r IndicatorRow
	var feeds, tags string
	var first, last, until, changed, allowedAt, lastMatch int64
	var allowed int
	if err := s.Scan(&r.Type, &r.Value, &feeds, &r.Confidence, &tags, &first, &last, &until, &changed,
		&r.AllowReason, &r.AllowedBy, &allowedAt, &allowed, &r.MatchedItems, &lastMatch); err != nil {
		return r, fmt.Errorf("scan indicator: %w", err)
	}
	_ = json.Unmarshal([]byte(feeds), &r.Feeds)
	_ = json.Unmarshal([]byte(tags), &r.Tags)
	r.FirstSeen, r.LastSeen, r.ChangedAt = fromUS(first), fromUS(last), fromUS(changed)
	if until != 0 {
		r.ValidUntil = fromUS(until)
	}
	if allowedAt != 0 {
		r.AllowedAt = fromUS(allowedAt)
	}
	if lastMatch != 0 {
		r.LastMatchedAt = fromUS(lastMatch)
	}
	switch {
	case allowed != 0:
		r.State = IndicatorAllowlisted
	case until != 0 && until <= nowUS:
		r.State = IndicatorExpired
	default:
		r.State = IndicatorActive
	}
	return r, nil
}

// IndicatorOf returns one indicator, or ErrNotFound.
func (db *DB) IndicatorOf(ctx context.Context, typ, value string, now time.Time) (IndicatorRow, error) {
	row := db.r.QueryRowContext(ctx, db.q(`SELECT i.type, i.value, i.feeds, i.confidence, i.tags, i.first_seen, i.last_seen, i.valid_until, i.changed_at,
	        COALESCE(a.reason, ''), COALESCE(a.created_by, ''), COALESCE(a.created_at, 0), CASE WHEN a.value IS NULL THEN 0 ELSE 1 END,
	        (SELECT COUNT(*) FROM ti_matches m WHERE m.type = i.type AND m.value = i.value),
	        (SELECT COALESCE(MAX(m.matched_at), 0) FROM ti_matches m WHERE m.type = i.type AND m.value = i.value)
	    FROM indicators i LEFT JOIN ti_allowlist a ON a.type = i.type AND a.value = i.value WHERE i.type = ? AND i.value = ?`), typ, value)
	r, err := scanIndicatorRow(row, us(now))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("indicator %s %s: %w", typ, value, validation.ErrNotFound)
	}
	return r, err
}

// ExpireIndicator ends an indicator's validity now: it stops matching on
// every instance at their next refresh. A feed that lists it again with
// a later validity brings it back, as fresh intelligence should.
func (db *DB) ExpireIndicator(ctx context.Context, typ, value string) error {
	now := us(db.clock.Now())
	return db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, `UPDATE indicators SET valid_until = ?, changed_at = ? WHERE type = ? AND value = ?`, now, now, typ, value)
		if err != nil {
			return fmt.Errorf("expire indicator %s %s: %w", typ, value, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("indicator %s %s: %w", typ, value, validation.ErrNotFound)
		}
		return nil
	})
}

// Allowlist stores that a value must never match. The value need not be
// an indicator yet: a feed may bring it later.
func (db *DB) Allowlist(ctx context.Context, typ, value, reason, by string) error {
	now := us(db.clock.Now())
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := db.exec(ctx, tx, `INSERT INTO ti_allowlist (type, value, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)
		    ON CONFLICT (type, value) DO UPDATE SET reason = excluded.reason, created_by = excluded.created_by, created_at = excluded.created_at`,
			typ, value, reason, by, now); err != nil {
			return fmt.Errorf("allow-list %s %s: %w", typ, value, err)
		}
		// The change makes every instance drop it at its next refresh.
		if _, err := db.exec(ctx, tx, `UPDATE indicators SET changed_at = ? WHERE type = ? AND value = ?`, now, typ, value); err != nil {
			return fmt.Errorf("allow-list %s %s: %w", typ, value, err)
		}
		return nil
	})
}

// Unallowlist removes a value from the allow-list: it matches again if
// it is a valid indicator.
func (db *DB) Unallowlist(ctx context.Context, typ, value string) error {
	now := us(db.clock.Now())
	return db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, `DELETE FROM ti_allowlist WHERE type = ? AND value = ?`, typ, value)
		if err != nil {
			return fmt.Errorf("remove %s %s from the allow-list: %w", typ, value, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("allow-listed %s %s: %w", typ, value, validation.ErrNotFound)
		}
		if _, err := db.exec(ctx, tx, `UPDATE indicators SET changed_at = ? WHERE type = ? AND value = ?`, now, typ, value); err != nil {
			return fmt.Errorf("remove %s %s from the allow-list: %w", typ, value, err)
		}
		return nil
	})
}

// Allowlisted reports whether a value is on the allow-list.
func (db *DB) Allowlisted(ctx context.Context, typ, value string) (bool, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM ti_allowlist WHERE type = ? AND value = ?`), typ, value).Scan(&n); err != nil {
		return false, fmt.Errorf("allow-list %s %s: %w", typ, value, err)
	}
	return n > 0, nil
}

// FeedRuns returns every feed's state, by name.
func (db *DB) FeedRuns(ctx context.Context) ([]FeedRun, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT name, feed_cursor, last_run_at, last_ok_at, added, skipped, total, last_error FROM ti_feeds ORDER BY name`))
	if err != nil {
		return nil, fmt.Errorf("feed runs: %w", err)
	}
	defer rows.Close()
	var out []FeedRun
	for rows.Next() {
		var f FeedRun
		var run, ok int64
		if err := rows.Scan(&f.Name, &f.Cursor, &run, &ok, &f.Added, &f.Skipped, &f.Total, &f.LastError); err != nil {
			return nil, fmt.Errorf("feed runs: %w", err)
		}
		if run != 0 {
			f.LastRunAt = fromUS(run)
		}
		if ok != 0 {
			f.LastOKAt = fromUS(ok)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// IndicatorCounts counts the live indicators of each feed, for feed
// health. An indicator listed by two feeds counts for both.
func (db *DB) IndicatorCounts(ctx context.Context, now time.Time) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT feeds, COUNT(*) FROM indicators WHERE valid_until = 0 OR valid_until > ? GROUP BY feeds`), us(now))
	if err != nil {
		return nil, fmt.Errorf("indicator counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var feeds string
		var n int
		if err := rows.Scan(&feeds, &n); err != nil {
			return nil, fmt.Errorf("indicator counts: %w", err)
		}
		var fs []string
		_ = json.Unmarshal([]byte(feeds), &fs)
		for _, f := range fs {
			out[f] += n
		}
	}
	return out, rows.Err()
}

func validIndicatorType(t string) bool {
	for _, x := range intel.Types {
		if x == t {
			return true
		}
	}
	return false
}

// AllowlistKeys lists every allow-listed value.
func (db *DB) AllowlistKeys(ctx context.Context) ([]intel.Key, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT type, value FROM ti_allowlist`))
	if err != nil {
		return nil, fmt.Errorf("allow-list: %w", err)
	}
	defer rows.Close()
	var out []intel.Key
	for rows.Next() {
		var k intel.Key
		if err := rows.Scan(&k.Type, &k.Value); err != nil {
			return nil, fmt.Errorf("allow-list: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
