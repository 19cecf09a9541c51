package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/intel"
)

// UpsertIndicators merges indicators into the store: feeds and tags are
// unioned, the confidence is the highest, first seen the earliest, last
// seen the latest, and the validity the latest (zero, no expiry, wins).
// It returns how many were new.
func (db *DB) UpsertIndicators(ctx context.Context, inds []intel.Indicator) (int, error) {
	added := 0
	now := us(db.clock.Now())
	err := db.tx(ctx, func(tx dbtx) error {
		added = 0
		for _, in := range inds {
			var feeds, tags string
			var conf int
			var first, last, until int64
			err := db.queryRow(ctx, tx, `SELECT feeds, confidence, tags, first_seen, last_seen, valid_until FROM indicators WHERE type = ? AND value = ?`,
				in.Type, in.Value).Scan(&feeds, &conf, &tags, &first, &last, &until)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				added++
				f, _ := json.Marshal(nonNil(in.Feeds))
				t, _ := json.Marshal(nonNil(in.Tags))
				if _, err := db.exec(ctx, tx, `INSERT INTO indicators (type, value, feeds, confidence, tags, first_seen, last_seen, valid_until, changed_at)
				    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.Type, in.Value, string(f), in.Confidence, string(t),
					us(in.FirstSeen), us(in.LastSeen), validUS(in.ValidUntil), now); err != nil {
					return fmt.Errorf("indicator %s %s: %w", in.Type, in.Value, err)
				}
			case err != nil:
				return fmt.Errorf("indicator %s %s: %w", in.Type, in.Value, err)
			default:
				var fs, ts []string
				_ = json.Unmarshal([]byte(feeds), &fs)
				_ = json.Unmarshal([]byte(tags), &ts)
				fb, _ := json.Marshal(union(fs, in.Feeds))
				tb, _ := json.Marshal(union(ts, in.Tags))
				u := validUS(in.ValidUntil)
				if until == 0 || u == 0 {
					u = 0
				} else {
					u = max(u, until)
				}
				// changed_at moves only when what a matcher or Sentinel
				// holds changes, not when a feed merely lists it again.
				changed := string(fb) != feeds || string(tb) != tags || max(conf, in.Confidence) != conf || u != until
				q := `UPDATE indicators SET feeds = ?, confidence = ?, tags = ?, first_seen = ?, last_seen = ?, valid_until = ? WHERE type = ? AND value = ?`
				args := []any{string(fb), max(conf, in.Confidence), string(tb), min(first, us(in.FirstSeen)), max(last, us(in.LastSeen)), u, in.Type, in.Value}
				if changed {
					q = `UPDATE indicators SET feeds = ?, confidence = ?, tags = ?, first_seen = ?, last_seen = ?, valid_until = ?, changed_at = ? WHERE type = ? AND value = ?`
					args = []any{string(fb), max(conf, in.Confidence), string(tb), min(first, us(in.FirstSeen)), max(last, us(in.LastSeen)), u, now, in.Type, in.Value}
				}
				if _, err := db.exec(ctx, tx, q, args...); err != nil {
					return fmt.Errorf("indicator %s %s: %w", in.Type, in.Value, err)
				}
			}
		}
		return nil
	})
	return added, err
}

func validUS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return us(t)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return nonNil(out)
}

// Indicators calls fn for every indicator still valid at now, not
// allow-listed, and changed (by a feed or an analyst) since a time (zero:
// all).
func (db *DB) Indicators(ctx context.Context, now, changedSince time.Time, fn func(intel.Indicator)) error {
	return db.IndicatorChanges(ctx, now, changedSince, func(in intel.Indicator, live bool) {
		if live {
			fn(in)
		}
	})
}

// IndicatorChanges calls fn for every indicator changed since a time
// (zero: all), with whether it is live at now: valid and not
// allow-listed. Matchers add the live ones and drop the others.
func (db *DB) IndicatorChanges(ctx context.Context, now, since time.Time, fn func(in intel.Indicator, live bool)) error {
	return db.IndicatorChangesIn(ctx, now, since, time.Time{}, fn)
}

// IndicatorChangesIn is IndicatorChanges for the changes in [from, to)
// (to zero: no end).
func (db *DB) IndicatorChangesIn(ctx context.Context, now, from, to time.Time, fn func(in intel.Indicator, live bool)) error {
	end := int64(1<<63 - 1)
	if !to.IsZero() {
		end = us(to)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT i.type, i.value, i.feeds, i.confidence, i.tags, i.first_seen, i.last_seen, i.valid_until,
	        CASE WHEN a.value IS NULL THEN 0 ELSE 1 END
	    FROM indicators i LEFT JOIN ti_allowlist a ON a.type = i.type AND a.value = i.value
	    WHERE i.changed_at >= ? AND i.changed_at < ?`), validUS(from), end)
	if err != nil {
		return fmt.Errorf("indicators: %w", err)
	}
	defer rows.Close()
	nowUS := us(now)
	for rows.Next() {
		var in intel.Indicator
		var feeds, tags string
		var first, last, until int64
		var allowed int
		if err := rows.Scan(&in.Type, &in.Value, &feeds, &in.Confidence, &tags, &first, &last, &until, &allowed); err != nil {
			return err
		}
		_ = json.Unmarshal([]byte(feeds), &in.Feeds)
		_ = json.Unmarshal([]byte(tags), &in.Tags)
		in.FirstSeen, in.LastSeen = fromUS(first), fromUS(last)
		if until != 0 {
			in.ValidUntil = fromUS(until)
		}
		fn(in, allowed == 0 && (until == 0 || until > nowUS))
	}
	return rows.Err()
}

// FeedRun is a feed's state: its cursor and its last pass.
type FeedRun struct {
	Name      string    `json:"name"`
	Cursor    string    `json:"cursor"`
	LastRunAt time.Time `json:"last_run_at"`
	LastOKAt  time.Time `json:"last_ok_at"`
	Added     int       `json:"added"`
	Skipped   int       `json:"skipped"`
	Total     int       `json:"total"`
	LastError string    `json:"last_error,omitempty"`
}

// FeedRunOf returns a feed's state (a zero one for a new feed).
func (db *DB) FeedRunOf(ctx context.Context, name string) (FeedRun, error) {
	f := FeedRun{Name: name}
	var run, ok int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT feed_cursor, last_run_at, last_ok_at, added, skipped, total, last_error FROM ti_feeds WHERE name = ?`), name).
		Scan(&f.Cursor, &run, &ok, &f.Added, &f.Skipped, &f.Total, &f.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("feed %s: %w", name, err)
	}
	if run != 0 {
		f.LastRunAt = fromUS(run)
	}
	if ok != 0 {
		f.LastOKAt = fromUS(ok)
	}
	return f, nil
}

// SaveFeedRun records a feed's pass: on success its new cursor and
// counts; on failure only the error (the cursor stays).
func (db *DB) SaveFeedRun(ctx context.Context, f FeedRun, passErr error) error {
	now := us(db.clock.Now())
	return db.tx(ctx, func(tx dbtx) error {
		var err error
		if passErr != nil {
			_, err = db.exec(ctx, tx, `INSERT INTO ti_feeds (name, last_run_at, last_error) VALUES (?, ?, ?)
			    ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, last_error = excluded.last_error`, f.Name, now, passErr.Error())
		} else {
			_, err = db.exec(ctx, tx, `INSERT INTO ti_feeds (name, feed_cursor, last_run_at, last_ok_at, added, skipped, total, last_error)
			    VALUES (?, ?, ?, ?, ?, ?, ?, '')
			    ON CONFLICT (name) DO UPDATE SET feed_cursor = excluded.feed_cursor, last_run_at = excluded.last_run_at,
			        last_ok_at = excluded.last_ok_at, added = excluded.added, skipped = excluded.skipped,
			        total = ti_feeds.total + excluded.added, last_error = ''`, f.Name, f.Cursor, now, now, f.Added, f.Skipped, f.Added)
		}
		if err != nil {
			return fmt.Errorf("feed %s run: %w", f.Name, err)
		}
		return nil
	})
}

// EntitySighting is one alert's entity, for retro-hunting.
type EntitySighting struct {
	AlertID    int64
	WorkItemID int64
	Entity     alert.Entity
}

// EntitiesSince calls fn for every entity of the alerts seen since a
// time that belong to an item, newest alerts first.
func (db *DB) EntitiesSince(ctx context.Context, since time.Time, fn func(EntitySighting) error) error {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT a.id, a.workitem_id, a.entities FROM alerts a
	    WHERE a.last_seen >= ? AND a.workitem_id IS NOT NULL ORDER BY a.id DESC`), us(since))
	if err != nil {
		return fmt.Errorf("entities since: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s EntitySighting
		var raw string
		if err := rows.Scan(&s.AlertID, &s.WorkItemID, &raw); err != nil {
			return err
		}
		var es []alert.Entity
		if json.Unmarshal([]byte(raw), &es) != nil {
			continue
		}
		for _, e := range es {
			s.Entity = e
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// TIMatch is an item's entity that matched an indicator.
type TIMatch struct {
	ID         int64     `json:"id"`
	WorkItemID int64     `json:"workitem_id"`
	AlertID    int64     `json:"alert_id"`
	Entity     string    `json:"entity"`
	Type       string    `json:"type"`
	Value      string    `json:"value"`
	Feeds      []string  `json:"feeds"`
	Confidence int       `json:"confidence"`
	Via        string    `json:"via"`
	Retro      bool      `json:"retro"`
	MatchedAt  time.Time `json:"matched_at"`
}

// RecordMatch stores a match once per item and indicator; it reports
// whether it was new.
func (db *DB) RecordMatch(ctx context.Context, m TIMatch) (bool, error) {
	first := false
	err := db.tx(ctx, func(tx dbtx) error {
		f, _ := json.Marshal(nonNil(m.Feeds))
		res, err := db.exec(ctx, tx, `INSERT INTO ti_matches (workitem_id, alert_id, entity, type, value, feeds, confidence, via, retro, matched_at)
		    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workitem_id, type, value) DO NOTHING`,
			m.WorkItemID, m.AlertID, m.Entity, m.Type, m.Value, string(f), m.Confidence, m.Via, m.Retro, us(db.clock.Now()))
		if err != nil {
			return fmt.Errorf("record match: %w", err)
		}
		n, _ := res.RowsAffected()
		first = n == 1
		return nil
	})
	return first, err
}

// TIMatches lists an item's matches.
func (db *DB) TIMatches(ctx context.Context, itemID int64) ([]TIMatch, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, workitem_id, alert_id, entity, type, value, feeds, confidence, via, retro, matched_at
	    FROM ti_matches WHERE workitem_id = ? ORDER BY id`), itemID)
	if err != nil {
		return nil, fmt.Errorf("ti matches: %w", err)
	}
	defer rows.Close()
	var out []TIMatch
	for rows.Next() {
		m, err := scanTIMatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanTIMatch(s scanner) (TIMatch, error) {
	var m TIMatch
	var feeds string
	var at int64
	if err := s.Scan(&m.ID, &m.WorkItemID, &m.AlertID, &m.Entity, &m.Type, &m.Value, &feeds, &m.Confidence, &m.Via, &m.Retro, &at); err != nil {
		return m, fmt.Errorf("scan ti match: %w", err)
	}
	_ = json.Unmarshal([]byte(feeds), &m.Feeds)
	m.MatchedAt = fromUS(at)
	return m, nil
}
