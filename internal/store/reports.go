package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/report"
)

// The report engine module's reads and writes (internal/report): the
// facts of each work item, the daily roll-ups and the cumulative flow.

// ReportChanged lists, oldest change first, up to limit work items changed
// after the keyset cursor (at, id): their row or one of their pages was
// updated. It returns the cursor to resume from.
func (db *DB) ReportChanged(ctx context.Context, at time.Time, id int64, limit int) ([]int64, time.Time, int64, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, updated_at FROM workitems
	    WHERE updated_at > ? OR (updated_at = ? AND id > ?) ORDER BY updated_at, id LIMIT ?`), us(at), us(at), id, limit)
	if err != nil {
		return nil, at, id, fmt.Errorf("report: changed items: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var u int64
		if err := rows.Scan(&id, &u); err != nil {
			return nil, at, id, fmt.Errorf("report: changed items: %w", err)
		}
		ids = append(ids, id)
		at = fromUS(u)
	}
	return ids, at, id, rows.Err()
}

// ReportChangedPages lists the items of up to limit pages changed after
// the keyset cursor (at, id), and the cursor to resume from.
func (db *DB) ReportChangedPages(ctx context.Context, at time.Time, id int64, limit int) ([]int64, time.Time, int64, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, workitem_id, updated_at FROM pages
	    WHERE updated_at > ? OR (updated_at = ? AND id > ?) ORDER BY updated_at, id LIMIT ?`), us(at), us(at), id, limit)
	if err != nil {
		return nil, at, id, fmt.Errorf("report: changed pages: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var item, u int64
		if err := rows.Scan(&id, &item, &u); err != nil {
			return nil, at, id, fmt.Errorf("report: changed pages: %w", err)
		}
		ids = append(ids, item)
		at = fromUS(u)
	}
	return ids, at, id, rows.Err()
}

// ReportHistories loads what the facts of the given items are worked out
// from. Items that do not exist are left out.
func (db *DB) ReportHistories(ctx context.Context, ids []int64) ([]report.History, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := placeholders(len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	byID := map[int64]*report.History{}
	var order []int64
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, type, source, severity, assignee, state, title, created_at, closed_at,
	        COALESCE(merged_into, 0), COALESCE(previous_id, 0)
	    FROM workitems WHERE id IN (`+in+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("report: items: %w", err)
	}
	for rows.Next() {
		var h report.History
		var created int64
		var closed sql.NullInt64
		if err := rows.Scan(&h.ID, &h.Type, &h.Source, &h.Severity, &h.Assignee, &h.State, &h.Title, &created, &closed,
			&h.MergedInto, &h.PreviousID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report: items: %w", err)
		}
		h.Created = fromUS(created)
		if closed.Valid {
			t := fromUS(closed.Int64)
			h.Closed = &t
		}
		byID[h.ID] = &h
		order = append(order, h.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: items: %w", err)
	}

	// The timeline entries that decide the facts.
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT workitem_id, at, actor, kind, reason, COALESCE(data, '') FROM timeline
	    WHERE workitem_id IN (`+in+`) AND kind IN ('transition', 'update', 'comment', 'task') ORDER BY workitem_id, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("report: timeline: %w", err)
	}
	for rows.Next() {
		var item, at int64
		var e report.Entry
		var data string
		if err := rows.Scan(&item, &at, &e.Actor, &e.Kind, &e.Reason, &data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report: timeline: %w", err)
		}
		e.At = fromUS(at)
		if e.Kind == "transition" && data != "" {
			var d struct{ From, To string }
			_ = json.Unmarshal([]byte(data), &d) // older entries without from/to: the spans fall back to the current state
			e.From, e.To = d.From, d.To
		}
		if h := byID[item]; h != nil {
			h.Entries = append(h.Entries, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: timeline: %w", err)
	}

	rows, err = db.r.QueryContext(ctx, db.q(`SELECT workitem_id, service, created_at, ack_at, ack_by FROM pages
	    WHERE workitem_id IN (`+in+`) ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("report: pages: %w", err)
	}
	for rows.Next() {
		var item, created int64
		var ack sql.NullInt64
		var p report.Page
		if err := rows.Scan(&item, &p.Service, &created, &ack, &p.AckBy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report: pages: %w", err)
		}
		p.Created = fromUS(created)
		if ack.Valid {
			t := fromUS(ack.Int64)
			p.AckAt = &t
		}
		if h := byID[item]; h != nil {
			h.Pages = append(h.Pages, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: pages: %w", err)
	}

	// The detection: the item's first alert, or its first incident.
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT x.workitem_id, a.source, a.product, a.title, COALESCE(CAST(v.raw AS TEXT), '')
	    FROM (SELECT workitem_id, MIN(alert_id) AS alert_id FROM workitem_alerts WHERE workitem_id IN (`+in+`) GROUP BY workitem_id) x
	    JOIN alerts a ON a.id = x.alert_id
	    LEFT JOIN alert_versions v ON v.alert_id = a.id AND v.version = a.version`), args...)
	if err != nil {
		return nil, fmt.Errorf("report: detections: %w", err)
	}
	for rows.Next() {
		var item int64
		var a alert.Alert
		var raw string
		if err := rows.Scan(&item, &a.Source, &a.Product, &a.Title, &raw); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report: detections: %w", err)
		}
		a.Raw = json.RawMessage(raw)
		if h := byID[item]; h != nil {
			h.Rule, h.AlertType = automation.Detection(&a, nil)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: detections: %w", err)
	}
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT x.workitem_id, i.source, i.title, COALESCE(CAST(v.raw AS TEXT), '')
	    FROM (SELECT workitem_id, MIN(incident_id) AS incident_id FROM workitem_incidents WHERE workitem_id IN (`+in+`) GROUP BY workitem_id) x
	    JOIN incidents i ON i.id = x.incident_id
	    LEFT JOIN incident_versions v ON v.incident_id = i.id AND v.version = i.version`), args...)
	if err != nil {
		return nil, fmt.Errorf("report: incident detections: %w", err)
	}
	for rows.Next() {
		var item int64
		var in alert.Incident
		var raw string
		if err := rows.Scan(&item, &in.Source, &in.Title, &raw); err != nil {
			rows.Close()
			return nil, fmt.Errorf("report: incident detections: %w", err)
		}
		in.Raw = json.RawMessage(raw)
		if h := byID[item]; h != nil && h.Rule == "" {
			h.Rule, h.AlertType = automation.Detection(nil, &in)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: incident detections: %w", err)
	}

	out := make([]report.History, 0, len(order))
	for _, id := range order {
		h := byID[id]
		if h.Rule == "" {
			h.Rule, h.AlertType = h.Title, h.Source
		}
		out = append(out, *h)
	}
	return out, nil
}

const factCols = `workitem_id, type, source, severity, assignee, service, rule, alert_type, created_at, ack_at, ack_by,
    closed_at, closed_by, state, state_since, class, acted, reopened, merged, spans`

// WriteReportFacts stores the facts of items and moves the cumulative
// flow by the difference between their old spans and their new ones. It
// returns the UTC days (unix µs of midnight) whose roll-ups are now stale.
func (db *DB) WriteReportFacts(ctx context.Context, facts []report.Fact, now time.Time) ([]int64, error) {
	if len(facts) == 0 {
		return nil, nil
	}
	days := map[int64]bool{}
	err := db.tx(ctx, func(tx dbtx) error {
		flow := map[[2]any]*[2]int64{}
		move := func(spans []report.Span, sign int64) {
			for _, s := range spans {
				k := [2]any{quarter(s.From), s.State}
				d := flow[k]
				if d == nil {
					d = &[2]int64{}
					flow[k] = d
				}
				d[0] += sign
				if s.To != nil {
					k := [2]any{quarter(*s.To), s.State}
					d := flow[k]
					if d == nil {
						d = &[2]int64{}
						flow[k] = d
					}
					d[1] += sign
				}
			}
		}
		for _, f := range facts {
			var oldSpans string
			var oldCreated int64
			err := tx.QueryRowContext(ctx, db.q(`SELECT spans, created_at FROM report_items WHERE workitem_id = ?`), f.ItemID).Scan(&oldSpans, &oldCreated)
			switch {
			case err == sql.ErrNoRows:
			case err != nil:
				return fmt.Errorf("report: old facts of item %d: %w", f.ItemID, err)
			default:
				// The flow is moved by differences: spans that cannot be read
				// back would leave it wrong for good, so they stop the pass.
				old, err := report.DecodeSpans(oldSpans)
				if err != nil {
					return fmt.Errorf("report: old spans of item %d: %w", f.ItemID, err)
				}
				move(old, -1)
				days[report.UTCDay(fromUS(oldCreated))] = true
			}
			spans := report.EncodeSpans(f.Spans)
			if !f.Merged {
				move(f.Spans, 1)
			}
			days[report.UTCDay(f.Created)] = true
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO report_items (`+factCols+`, computed_at)
			    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			    ON CONFLICT (workitem_id) DO UPDATE SET type = excluded.type, source = excluded.source, severity = excluded.severity,
			        assignee = excluded.assignee, service = excluded.service, rule = excluded.rule, alert_type = excluded.alert_type,
			        created_at = excluded.created_at, ack_at = excluded.ack_at, ack_by = excluded.ack_by, closed_at = excluded.closed_at,
			        closed_by = excluded.closed_by, state = excluded.state, state_since = excluded.state_since, class = excluded.class,
			        acted = excluded.acted, reopened = excluded.reopened, merged = excluded.merged, spans = excluded.spans,
			        computed_at = excluded.computed_at`),
				f.ItemID, f.Type, f.Source, f.Severity, f.Assignee, f.Service, f.Rule, f.AlertType, us(f.Created), nullUS(f.AckAt), f.AckBy,
				nullUS(f.ClosedAt), f.ClosedBy, f.State, us(f.StateSince), f.Class, b2i(f.Acted), b2i(f.Reopened), b2i(f.Merged), spans, us(now)); err != nil {
				return fmt.Errorf("report: store facts of item %d: %w", f.ItemID, err)
			}
		}
		daily := map[[2]any]*[2]int64{}
		for k, d := range flow {
			if d[0] == 0 && d[1] == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO report_flow (q, state, entered, exited) VALUES (?, ?, ?, ?)
			    ON CONFLICT (q, state) DO UPDATE SET entered = report_flow.entered + excluded.entered, exited = report_flow.exited + excluded.exited`),
				k[0], k[1], d[0], d[1]); err != nil {
				return fmt.Errorf("report: flow: %w", err)
			}
			dk := [2]any{dayOfQuarter(k[0].(int64)), k[1]}
			dd := daily[dk]
			if dd == nil {
				dd = &[2]int64{}
				daily[dk] = dd
			}
			dd[0] += d[0]
			dd[1] += d[1]
		}
		for k, d := range daily {
			if d[0] == 0 && d[1] == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO report_flow_daily (day, state, entered, exited) VALUES (?, ?, ?, ?)
			    ON CONFLICT (day, state) DO UPDATE SET entered = report_flow_daily.entered + excluded.entered, exited = report_flow_daily.exited + excluded.exited`),
				k[0], k[1], d[0], d[1]); err != nil {
				return fmt.Errorf("report: daily flow: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(days))
	for d := range days {
		out = append(out, d)
	}
	return out, nil
}

// quarter is the quarter hour (unix µs / 900e6) t falls in.
func quarter(t time.Time) int64 { return floorDiv(t.UnixMicro(), report.QuarterUS) }

// dayOfQuarter is the UTC day (unix µs of its midnight) a quarter falls in.
func dayOfQuarter(q int64) int64 {
	const perDay = int64(24 * 4)
	return floorDiv(q, perDay) * perDay * report.QuarterUS
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func nullUS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return us(*t)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ReportFacts calls fn with the facts of the items created in [from, to)
// that match f, merged items left out, in no particular order.
func (db *DB) ReportFacts(ctx context.Context, from, to time.Time, f report.Filter, fn func(report.Fact) error) error {
	where, args := factWhere(from, to, f)
	return db.scanFacts(ctx, `SELECT `+factCols+` FROM report_items WHERE `+where, args, f.Spans, fn)
}

// ReportOpenFacts calls fn with the facts of every item not closed yet:
// its id, state and since when, creation, severity and assignee only (the
// work in progress can be tens of thousands of items).
func (db *DB) ReportOpenFacts(ctx context.Context, fn func(report.Fact) error) error {
	rows, err := db.r.QueryContext(ctx, `SELECT workitem_id, state, state_since, created_at, severity, assignee FROM report_items WHERE closed_at IS NULL AND merged = 0`)
	if err != nil {
		return fmt.Errorf("report: open items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f report.Fact
		var since, created int64
		if err := rows.Scan(&f.ItemID, &f.State, &since, &created, &f.Severity, &f.Assignee); err != nil {
			return fmt.Errorf("report: open items: %w", err)
		}
		f.StateSince, f.Created = fromUS(since), fromUS(created)
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReportBreaches calls fn with the newest facts first of the items created
// in [from, to) matching f whose acknowledgement (ack) or resolution took
// longer than target, or has not happened and is overdue at now; at most
// limit.
func (db *DB) ReportBreaches(ctx context.Context, from, to time.Time, f report.Filter, ack bool, target time.Duration, now time.Time, limit int, fn func(report.Fact) error) error {
	where, args := factWhere(from, to, f)
	col := "closed_at"
	if ack {
		col = "ack_at"
	}
	where += ` AND ((` + col + ` IS NOT NULL AND ` + col + ` - created_at > ?) OR (` + col + ` IS NULL AND created_at < ?))`
	args = append(args, target.Microseconds(), us(now.Add(-target)))
	return db.scanFacts(ctx, `SELECT `+factCols+` FROM report_items WHERE `+where+` ORDER BY created_at DESC LIMIT `+strconv.Itoa(limit), args, false, fn)
}

func factWhere(from, to time.Time, f report.Filter) (string, []any) {
	where := []string{"created_at >= ?", "created_at < ?", "merged = 0"}
	args := []any{us(from), us(to)}
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("severity", f.Severity)
	eq("source", f.Source)
	eq("type", f.Type)
	eq("assignee", f.Person)
	eq("service", f.Service)
	eq("rule", f.Rule)
	eq("alert_type", f.AlertType)
	if f.Team != "" {
		if len(f.Members) == 0 {
			where = append(where, "1 = 0")
		} else {
			where = append(where, "assignee IN ("+placeholders(len(f.Members))+")")
			for _, m := range f.Members {
				args = append(args, m)
			}
		}
	}
	return strings.Join(where, " AND "), args
}

func (db *DB) scanFacts(ctx context.Context, query string, args []any, withSpans bool, fn func(report.Fact) error) error {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return fmt.Errorf("report: facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f report.Fact
		var created, since int64
		var ack, closed sql.NullInt64
		var acted, reopened, merged int
		var spans string
		if err := rows.Scan(&f.ItemID, &f.Type, &f.Source, &f.Severity, &f.Assignee, &f.Service, &f.Rule, &f.AlertType, &created, &ack,
			&f.AckBy, &closed, &f.ClosedBy, &f.State, &since, &f.Class, &acted, &reopened, &merged, &spans); err != nil {
			return fmt.Errorf("report: facts: %w", err)
		}
		f.Created, f.StateSince = fromUS(created), fromUS(since)
		if ack.Valid {
			t := fromUS(ack.Int64)
			f.AckAt = &t
		}
		if closed.Valid {
			t := fromUS(closed.Int64)
			f.ClosedAt = &t
		}
		f.Acted, f.Reopened, f.Merged = acted != 0, reopened != 0, merged != 0
		if withSpans && spans != "" {
			if f.Spans, err = report.DecodeSpans(spans); err != nil {
				return fmt.Errorf("report: spans of item %d: %w", f.ItemID, err)
			}
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReplaceReportDay replaces the roll-up rows of one UTC day.
func (db *DB) ReplaceReportDay(ctx context.Context, day int64, rows []report.DailyRow) error {
	return db.replaceRollups(ctx, "report_daily", "day", day, rows)
}

// replaceRollups replaces the rows of one day or month of a roll-up table.
func (db *DB) replaceRollups(ctx context.Context, table, key string, at int64, rows []report.DailyRow) error {
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE `+key+` = ?`), at); err != nil {
			return fmt.Errorf("report: clear %s: %w", table, err)
		}
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO `+table+` (`+key+`, dim, value, agg) VALUES (?, ?, ?, ?)`),
				at, r.Dim, r.Value, r.Agg); err != nil {
				return fmt.Errorf("report: write %s: %w", table, err)
			}
		}
		return nil
	})
}

// ReportDaily calls fn with the roll-up rows of the UTC days in
// [fromDay, toDay) for one dimension, limited to values when given.
func (db *DB) ReportDaily(ctx context.Context, fromDay, toDay int64, dim string, values []string, fn func(report.DailyRow) error) error {
	return db.readRollups(ctx, "report_daily", "day", fromDay, toDay, dim, values, fn)
}

// readRollups reads a roll-up table's rows keyed in [from, to), of one
// dimension (all when dim is empty), limited to values when given.
func (db *DB) readRollups(ctx context.Context, table, key string, from, to int64, dim string, values []string, fn func(report.DailyRow) error) error {
	q := `SELECT ` + key + `, dim, value, agg FROM ` + table + ` WHERE ` + key + ` >= ? AND ` + key + ` < ?`
	args := []any{from, to}
	if dim != "" {
		q += ` AND dim = ?`
		args = append(args, dim)
	}
	if len(values) > 0 {
		q += ` AND value IN (` + placeholders(len(values)) + `)`
		for _, v := range values {
			args = append(args, v)
		}
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return fmt.Errorf("report: %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r report.DailyRow
		if err := rows.Scan(&r.Day, &r.Dim, &r.Value, &r.Agg); err != nil {
			return fmt.Errorf("report: %s: %w", table, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReportFlow returns the flow rows of quarters [fromQ, toQ), in order.
func (db *DB) ReportFlow(ctx context.Context, fromQ, toQ int64) ([]report.FlowRow, error) {
	return db.flowRows(ctx, `SELECT q, state, entered, exited FROM report_flow WHERE q >= ? AND q < ? ORDER BY q`, fromQ, toQ)
}

// ReportFlowDays returns the daily flow rows of the UTC days in
// [fromDay, toDay) (unix µs), in order; Q is the day's first quarter.
func (db *DB) ReportFlowDays(ctx context.Context, fromDay, toDay int64) ([]report.FlowRow, error) {
	rows, err := db.flowRows(ctx, `SELECT day, state, entered, exited FROM report_flow_daily WHERE day >= ? AND day < ? ORDER BY day`, fromDay, toDay)
	for i := range rows {
		rows[i].Q /= report.QuarterUS
	}
	return rows, err
}

func (db *DB) flowRows(ctx context.Context, query string, from, to int64) ([]report.FlowRow, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), from, to)
	if err != nil {
		return nil, fmt.Errorf("report: flow: %w", err)
	}
	defer rows.Close()
	var out []report.FlowRow
	for rows.Next() {
		var r report.FlowRow
		if err := rows.Scan(&r.Q, &r.State, &r.Entered, &r.Exited); err != nil {
			return nil, fmt.Errorf("report: flow: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReportPages sums up the pages opened in [from, to) and returns the
// notifications sent in it that reached their person, for on-call load.
// A year holds hundreds of thousands of rows: the pages are counted by the
// database, and each notification is read as its page, person and time
// only.
func (db *DB) ReportPages(ctx context.Context, from, to time.Time) (report.PageStats, []report.NotificationRow, error) {
	st := report.PageStats{AckedBy: map[string]int64{}}
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*), COUNT(ack_at), COALESCE(SUM(CASE WHEN step > 0 OR rounds > 0 THEN 1 ELSE 0 END), 0)
	    FROM pages WHERE created_at >= ? AND created_at < ?`), us(from), us(to)).Scan(&st.Pages, &st.Acked, &st.Escalated); err != nil {
		return st, nil, fmt.Errorf("report: pages: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT ack_by, COUNT(*) FROM pages WHERE created_at >= ? AND created_at < ? AND ack_at IS NOT NULL GROUP BY ack_by`), us(from), us(to))
	if err != nil {
		return st, nil, fmt.Errorf("report: pages by responder: %w", err)
	}
	for rows.Next() {
		var who string
		var n int64
		if err := rows.Scan(&who, &n); err != nil {
			rows.Close()
			return st, nil, fmt.Errorf("report: pages by responder: %w", err)
		}
		st.AckedBy[who] = n
	}
	rows.Close()
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT ack_at - created_at FROM pages WHERE created_at >= ? AND created_at < ? AND ack_at IS NOT NULL`), us(from), us(to))
	if err != nil {
		return st, nil, fmt.Errorf("report: page acknowledgements: %w", err)
	}
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return st, nil, fmt.Errorf("report: page acknowledgements: %w", err)
		}
		st.TTA = append(st.TTA, float64(d)/1e6)
	}
	rows.Close()
	// A notification that never reached its person (failed, undelivered)
	// interrupted nobody.
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT page_id, user_email, created_at FROM notification_log
	    WHERE created_at >= ? AND created_at < ? AND page_id <> 0 AND status NOT IN ('failed', 'undelivered') ORDER BY created_at`), us(from), us(to))
	if err != nil {
		return st, nil, fmt.Errorf("report: notifications: %w", err)
	}
	defer rows.Close()
	var notes []report.NotificationRow
	for rows.Next() {
		var n report.NotificationRow
		var created int64
		if err := rows.Scan(&n.PageID, &n.User, &created); err != nil {
			return st, nil, fmt.Errorf("report: notifications: %w", err)
		}
		n.At = fromUS(created)
		notes = append(notes, n)
	}
	return st, notes, rows.Err()
}

// ReportSuppressed counts, per automation rule, the alerts it suppressed
// in [from, to), with the rule's name.
func (db *DB) ReportSuppressed(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT COALESCE(r.name, ''), COUNT(*) FROM alerts a LEFT JOIN automation_rules r ON r.id = a.suppressed_by
	    WHERE a.suppressed_by IS NOT NULL AND a.created_at >= ? AND a.created_at < ? GROUP BY r.name`), us(from), us(to))
	if err != nil {
		return nil, fmt.Errorf("report: suppressed alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("report: suppressed alerts: %w", err)
		}
		out[name] += n
	}
	return out, rows.Err()
}

// ReportFirstDay is the UTC day of the oldest item with facts; ok is false
// when there is none.
func (db *DB) ReportFirstDay(ctx context.Context) (int64, bool, error) {
	var v sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT MIN(created_at) FROM report_items`).Scan(&v); err != nil {
		return 0, false, fmt.Errorf("report: first day: %w", err)
	}
	if !v.Valid {
		return 0, false, nil
	}
	return report.UTCDay(fromUS(v.Int64)), true, nil
}

// ReplaceReportMonth replaces the roll-up rows of one UTC month (unix µs
// of its first midnight).
func (db *DB) ReplaceReportMonth(ctx context.Context, month int64, rows []report.DailyRow) error {
	return db.replaceRollups(ctx, "report_monthly", "month", month, rows)
}

// ReportMonthly calls fn with the monthly roll-up rows of the months
// starting in [fromMonth, toMonth) for one dimension (values as for
// ReportDaily); Day holds the month's start.
func (db *DB) ReportMonthly(ctx context.Context, fromMonth, toMonth int64, dim string, values []string, fn func(report.DailyRow) error) error {
	return db.readRollups(ctx, "report_monthly", "month", fromMonth, toMonth, dim, values, fn)
}

// ReportDayRows calls fn with every roll-up row of the days in
// [fromDay, toDay), all dimensions: what a month's row is merged from.
func (db *DB) ReportDayRows(ctx context.Context, fromDay, toDay int64, fn func(report.DailyRow) error) error {
	return db.readRollups(ctx, "report_daily", "day", fromDay, toDay, "", nil, fn)
}

// ReplaceReportHours replaces the hourly roll-ups of one UTC day.
func (db *DB) ReplaceReportHours(ctx context.Context, day int64, rows []report.DailyRow) error {
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM report_hourly WHERE hour >= ? AND hour < ?`), day, day+int64(24*time.Hour/time.Microsecond)); err != nil {
			return fmt.Errorf("report: clear hours: %w", err)
		}
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO report_hourly (hour, agg) VALUES (?, ?)`), r.Day, r.Agg); err != nil {
				return fmt.Errorf("report: write hour: %w", err)
			}
		}
		return nil
	})
}

// ReportHourly calls fn with the hourly roll-ups of the hours in
// [fromHour, toHour) (unix µs); Day holds the hour's start.
func (db *DB) ReportHourly(ctx context.Context, fromHour, toHour int64, fn func(report.DailyRow) error) error {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT hour, agg FROM report_hourly WHERE hour >= ? AND hour < ?`), fromHour, toHour)
	if err != nil {
		return fmt.Errorf("report: hourly roll-ups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := report.DailyRow{Dim: report.DimAll}
		if err := rows.Scan(&r.Day, &r.Agg); err != nil {
			return fmt.Errorf("report: hourly roll-ups: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReportCount counts the items created in [from, to) that match f, up to
// limit: enough to choose between reading facts and roll-ups.
func (db *DB) ReportCount(ctx context.Context, from, to time.Time, f report.Filter, limit int) (int, error) {
	where, args := factWhere(from, to, f)
	var n int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM report_items WHERE `+where+` LIMIT `+strconv.Itoa(limit)+`) x`), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("report: count items: %w", err)
	}
	return n, nil
}
