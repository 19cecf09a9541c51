package store

import (
	"context"
	"fmt"
)

// The reads behind the Prometheus figures that are taken from the
// database at scrape time (internal/opsmetrics): they are what every
// instance sharing the database agrees on, and they survive restarts,
// which counters kept in one process's memory do not.

// ItemCount is how many open work items are in one state with one
// severity.
type ItemCount struct {
	State    string
	Severity string
	Count    int
}

// OpenItemCounts counts the open work items (not closed, not merged into
// another) by state and severity, sorted by state then severity. states,
// when given, are the process's open states: the query then reads only
// their rows through the (state, id) index rather than every item ever
// closed. Nil reads every state.
func (db *DB) OpenItemCounts(ctx context.Context, states []string) ([]ItemCount, error) {
	q := `SELECT state, severity, COUNT(*) FROM workitems WHERE closed_at IS NULL AND merged_into IS NULL`
	var args []any
	if len(states) > 0 {
		q += ` AND state IN (` + placeholders(len(states)) + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	rows, err := db.r.QueryContext(ctx, db.q(q+` GROUP BY state, severity ORDER BY state, severity`), args...)
	if err != nil {
		return nil, fmt.Errorf("open item counts: %w", err)
	}
	defer rows.Close()
	out := []ItemCount{}
	for rows.Next() {
		var c ItemCount
		var n int64
		if err := rows.Scan(&c.State, &c.Severity, &n); err != nil {
			return nil, fmt.Errorf("scan open item counts: %w", err)
		}
		c.Count = int(n)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open item counts: %w", err)
	}
	return out, nil
}

// RuleHitCount is an automation rule's counters: every hit, and of
// those, the ones that closed an item and the ones that suppressed an
// alert.
type RuleHitCount struct {
	Rule       string
	Hits       int64
	Closed     int64
	Suppressed int64
}

// RuleHitCounts returns every rule's counters, by name. The counters are
// added to in the transaction of the change a rule acted on (ingest,
// incidents, update triggers), so they count each hit once whichever
// instance ran the rule.
func (db *DB) RuleHitCounts(ctx context.Context) ([]RuleHitCount, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT name, hits, closed, suppressed FROM automation_rules ORDER BY name`))
	if err != nil {
		return nil, fmt.Errorf("rule hit counts: %w", err)
	}
	defer rows.Close()
	out := []RuleHitCount{}
	for rows.Next() {
		var c RuleHitCount
		if err := rows.Scan(&c.Rule, &c.Hits, &c.Closed, &c.Suppressed); err != nil {
			return nil, fmt.Errorf("scan rule hit counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rule hit counts: %w", err)
	}
	return out, nil
}
