package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The PostgreSQL batch path. On PostgreSQL each statement is a round trip
// to another process, and that, not the work per row, was the cost of a
// batch: multi-row VALUES in chunks of 32 made a batch of 100 new alerts
// about 40 statements. Here a batch sends each table's rows as one array
// per column, unnested server-side, and every table is written by one
// statement of data-modifying CTEs. A batch of new alerts is BEGIN, the
// lookup, the ID allocation, that statement and COMMIT; a batch that
// changes known alerts adds one statement to touch their items. SQLite,
// where a statement costs a function call, keeps its multi-row inserts.

// replan, passed as a statement's first argument, has pgx run it as an
// unnamed statement that PostgreSQL plans for the values at hand each
// time (the description is still cached: one round trip). A named
// prepared statement soon switches to a generic plan, and one made while
// the alerts table was small keeps scanning every row of a source after
// it has grown: until autovacuum's next ANALYZE (up to a minute away)
// the batch lookup cost 10–25 ms and grew with the table. Planning costs
// a fraction of a millisecond.
var replan = pgx.QueryExecModeCacheDescribe

// lookupPostgres is lookup in one query for every source of the batch.
// Each key is probed on the unique (source, dedup_key) index, whatever
// the statistics say: with a plain "source = $1 AND dedup_key = ANY($2)"
// the planner, from statistics taken while the table was small (or none
// yet), read every alert of the source and filtered them, 10-25 ms per
// batch and growing with the table. The rows stay locked until commit, in
// ID order: the versions computed from them must not be taken by a
// concurrent writer.
func (ing *ingester) lookupPostgres(ctx context.Context, alerts []Prepared, state map[string]known) error {
	srcs, keys := make([]string, 0, len(alerts)), make([]string, 0, len(alerts))
	seen := make(map[string]bool, len(alerts))
	for i := range alerts {
		k := alerts[i].Source + "\x00" + alerts[i].key
		if !seen[k] {
			seen[k] = true
			srcs, keys = append(srcs, alerts[i].Source), append(keys, alerts[i].key)
		}
	}
	rows, err := ing.tx.QueryContext(ctx, `SELECT a.source, `+lookupCols+`
	    FROM unnest($1::text[], $2::text[]) AS k(source, dedup_key)
	    JOIN alerts a ON a.source = k.source AND a.dedup_key = k.dedup_key
	    LEFT JOIN workitems w ON w.id = a.workitem_id
	    ORDER BY a.id FOR UPDATE OF a`, replan, srcs, keys)
	if err != nil {
		return fmt.Errorf("look up alerts: %w", err)
	}
	defer rows.Close()
	return ing.scanKnown(rows, state)
}

// allocatePostgres reserves the IDs of the batch's new alerts and items
// from their sequences in one round trip.
func (ing *ingester) allocatePostgres(ctx context.Context, alerts, items int) error {
	if alerts == 0 && items == 0 {
		return nil
	}
	// The sequences are looked up once, not once per ID.
	rows, err := ing.tx.QueryContext(ctx, `SELECT 0, nextval(s.seq) FROM (SELECT pg_get_serial_sequence('alerts', 'id')::regclass AS seq) s,
	        generate_series(1, $1)
	    UNION ALL SELECT 1, nextval(s.seq) FROM (SELECT pg_get_serial_sequence('workitems', 'id')::regclass AS seq) s,
	        generate_series(1, $2)`, alerts, items)
	if err != nil {
		return fmt.Errorf("allocate ids: %w", err)
	}
	defer rows.Close()
	ing.alertIDs, ing.itemIDs = make([]int64, 0, alerts), make([]int64, 0, items)
	for rows.Next() {
		var item int
		var id int64
		if err := rows.Scan(&item, &id); err != nil {
			return fmt.Errorf("allocate ids: %w", err)
		}
		if item == 1 {
			ing.itemIDs = append(ing.itemIDs, id)
		} else {
			ing.alertIDs = append(ing.alertIDs, id)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("allocate ids: %w", err)
	}
	if len(ing.alertIDs) != alerts || len(ing.itemIDs) != items {
		return fmt.Errorf("allocate ids: got %d alert and %d item ids, want %d and %d", len(ing.alertIDs), len(ing.itemIDs), alerts, items)
	}
	return nil
}

// changedAlertSet rewrites a changed alert; the seen times only ever
// widen, and a held alert stays held (item_due_at is left alone). It is
// the SQLite path's upsert, as an UPDATE.
const changedAlertSet = `UPDATE alerts SET
    product = v.product, title = v.title, description = v.description,
    severity = v.severity, status = v.status, entities = v.entities,
    first_seen = CASE WHEN v.first_seen < alerts.first_seen THEN v.first_seen ELSE alerts.first_seen END,
    last_seen = CASE WHEN v.last_seen > alerts.last_seen THEN v.last_seen ELSE alerts.last_seen END,
    version = v.version, workitem_id = v.workitem_id, updated_at = v.updated_at,
    seen_count = alerts.seen_count + v.seen_count, firing = v.firing
    FROM %s WHERE alerts.id = v.id`

// resentAlertSet records re-sends that changed nothing, as resend does.
const resentAlertSet = `UPDATE alerts SET
    first_seen = CASE WHEN v.first_seen < alerts.first_seen THEN v.first_seen ELSE alerts.first_seen END,
    last_seen = CASE WHEN v.last_seen > alerts.last_seen THEN v.last_seen ELSE alerts.last_seen END,
    seen_count = alerts.seen_count + v.n,
    firing = CASE WHEN alerts.firing = '' THEN v.firing ELSE alerts.firing END
    FROM %s WHERE alerts.id = v.id`

// writePostgres writes the batch in one statement, then touches the items
// of known alerts.
//
// A new alert that another instance inserted since our lookup is skipped
// by ON CONFLICT, and the shortfall sends the whole batch round again
// (errRetryBatch), as on SQLite. So that the shortfall surfaces as a count
// rather than as a foreign-key error from the rows that name the missing
// alert, those rows are inserted only if every new alert was.
func (ing *ingester) writePostgres(ctx context.Context, inserts, updates rowBuffer, resent []*alertRow) error {
	var st pgStatement
	if err := st.insert("new_items", &ing.items, "", ""); err != nil {
		return err
	}
	guard := ""
	if n := inserts.rows(); n > 0 {
		if err := st.insert("new_alerts", &inserts, "", " ON CONFLICT (source, dedup_key) DO NOTHING RETURNING 1"); err != nil {
			return err
		}
		guard = "(SELECT count(*) FROM new_alerts) = " + st.arg(int64(n))
	}
	if err := st.update("changed_alerts", &updates, changedAlertSet); err != nil {
		return err
	}
	re := newRowBuffer("alerts", "id bigint", "first_seen bigint", "last_seen bigint", "n bigint", "firing text")
	for _, row := range resent {
		firing := ""
		if row.learnFiring {
			firing = row.cur.firing
		}
		re.add(row.id, row.firstSeen, row.lastSeen, row.seen, firing)
	}
	if err := st.update("resent_alerts", &re, resentAlertSet); err != nil {
		return err
	}
	for _, c := range []struct {
		name   string
		b      *rowBuffer
		suffix string
	}{
		{"new_versions", &ing.versions, ""},
		{"new_links", &ing.links, " ON CONFLICT DO NOTHING"},
		{"new_incident_links", &ing.incidentLinks, " ON CONFLICT DO NOTHING"},
		{"new_entries", &ing.entries, ""},
	} {
		if err := st.insert(c.name, c.b, guard, c.suffix); err != nil {
			return err
		}
	}
	if guard == "" {
		guard = "true"
	}
	// A statement that only inserts has one good plan whatever the
	// tables hold: it is prepared once per connection (no parsing per
	// batch). One that updates is planned for the table as it is now.
	st.replan = updates.rows() > 0 || len(resent) > 0
	if ok, err := st.run(ctx, ing.tx, "SELECT "+guard); err != nil {
		return fmt.Errorf("write batch: %w", err)
	} else if !ok {
		return errRetryBatch
	}
	if err := ing.touchPostgres(ctx); err != nil {
		return err
	}
	if err := ing.applyRaises(ctx); err != nil {
		return err
	}
	return ing.refreshSearch(ctx)
}

// touchPostgres is touchItems for both maps in one statement: an item
// whose alert changed moves its last-seen time and updated_at and has its
// alerts recounted; one whose alert was only re-sent moves its last-seen
// time. It runs after the batch's statement, whose links it counts.
func (ing *ingester) touchPostgres(ctx context.Context) error {
	seen := make(map[int64]int64, len(ing.touched)+len(ing.quiet))
	for id, t := range ing.quiet {
		seen[id] = t
	}
	for id, t := range ing.touched {
		seen[id] = max(seen[id], t)
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a fixed lock order
	b := newRowBuffer("workitems", "id bigint", "seen bigint", "changed bigint")
	for _, id := range ids {
		changed := 0
		if _, ok := ing.touched[id]; ok {
			changed = 1
		}
		b.add(id, seen[id], changed)
	}
	st := pgStatement{replan: true}
	now := st.arg(ing.now)
	if err := st.update("touched", &b, `UPDATE workitems SET
	    last_seen = CASE WHEN v.seen > workitems.last_seen THEN v.seen ELSE workitems.last_seen END,
	    updated_at = CASE WHEN v.changed = 1 THEN `+now+` ELSE workitems.updated_at END,
	    alert_count = CASE WHEN v.changed = 1 THEN (SELECT COUNT(*) FROM workitem_alerts wa WHERE wa.workitem_id = workitems.id)
	        ELSE workitems.alert_count END
	    FROM %s WHERE workitems.id = v.id`); err != nil {
		return err
	}
	if _, err := st.run(ctx, ing.tx, "SELECT true"); err != nil {
		return fmt.Errorf("touch work items: %w", err)
	}
	return nil
}

// pgStatement builds one statement of data-modifying CTEs whose rows come
// from arrays, one per column.
type pgStatement struct {
	ctes   []string
	args   []any
	replan bool // plan afresh each time (see replan)
}

// arg adds a parameter and returns its placeholder.
func (s *pgStatement) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

// unnest adds b's rows as arrays and returns "unnest(…) AS v(cols)".
func (s *pgStatement) unnest(b *rowBuffer) (string, error) {
	arrays := make([]string, len(b.cols))
	for j, typ := range b.types {
		col, err := b.column(j)
		if err != nil {
			return "", err
		}
		if typ == "json" {
			typ = "text" // sent as text, cast in the select list
		}
		arrays[j] = s.arg(col) + "::" + typ + "[]"
	}
	return "unnest(" + strings.Join(arrays, ", ") + ") AS v(" + strings.Join(b.cols, ", ") + ")", nil
}

// insert adds "name AS (INSERT INTO table … SELECT … [WHERE where] suffix)"
// for b's rows, if it has any.
func (s *pgStatement) insert(name string, b *rowBuffer, where, suffix string) error {
	if b.rows() == 0 {
		return nil
	}
	from, err := s.unnest(b)
	if err != nil {
		return err
	}
	sel := make([]string, len(b.cols))
	for j, c := range b.cols {
		sel[j] = "v." + c
		if b.types[j] == "json" {
			sel[j] += "::json"
		}
	}
	if where != "" {
		where = " WHERE " + where
	}
	s.ctes = append(s.ctes, name+" AS (INSERT INTO "+b.table+" ("+strings.Join(b.cols, ", ")+") SELECT "+
		strings.Join(sel, ", ")+" FROM "+from+where+suffix+")")
	return nil
}

// update adds "name AS (update)" for b's rows, if it has any; update is
// an UPDATE … FROM %s statement, %s being replaced by the rows as v.
func (s *pgStatement) update(name string, b *rowBuffer, update string) error {
	if b.rows() == 0 {
		return nil
	}
	from, err := s.unnest(b)
	if err != nil {
		return err
	}
	s.ctes = append(s.ctes, name+" AS ("+fmt.Sprintf(update, from)+")")
	return nil
}

// run executes the CTEs with final, a query of one boolean, and returns
// its value; with no CTEs nothing is sent and it reports true.
func (s *pgStatement) run(ctx context.Context, tx dbtx, final string) (bool, error) {
	if len(s.ctes) == 0 {
		return true, nil
	}
	var ok bool
	args := s.args
	if s.replan {
		args = append([]any{replan}, args...)
	}
	err := tx.QueryRowContext(ctx, "WITH "+strings.Join(s.ctes, ",\n")+"\n"+final, args...).Scan(&ok)
	return ok, err
}

// column returns column j of the buffered rows as an array parameter.
func (b *rowBuffer) column(j int) (any, error) {
	n, perRow := b.rows(), len(b.cols)
	switch b.types[j] {
	case "bigint":
		col := make([]pgtype.Int8, n)
		for i := range n {
			switch v := b.args[i*perRow+j].(type) {
			case nil:
			case int64:
				col[i] = pgtype.Int8{Int64: v, Valid: true}
			case int:
				col[i] = pgtype.Int8{Int64: int64(v), Valid: true}
			default:
				return nil, fmt.Errorf("%s.%s: %T is not an integer", b.table, b.cols[j], v)
			}
		}
		return col, nil
	case "text", "json":
		col := make([]pgtype.Text, n)
		for i := range n {
			switch v := b.args[i*perRow+j].(type) {
			case nil:
			case string:
				col[i] = pgtype.Text{String: v, Valid: true}
			default:
				return nil, fmt.Errorf("%s.%s: %T is not text", b.table, b.cols[j], v)
			}
		}
		return col, nil
	}
	return nil, fmt.Errorf("%s.%s: unknown type %q", b.table, b.cols[j], b.types[j])
}
