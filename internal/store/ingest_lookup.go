package store

// The ingest's reads and id allocation: which alerts of a batch exist
// already, who owns them, and the ids the new rows get.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// lookup finds the batch's alerts that already exist, with what they hold
// and whether their work item is still open, in one query per source (the
// unique index is (source, dedup_key), so the source must be in the
// condition). On PostgreSQL the rows stay locked until commit: the
// versions computed from them must not be taken by a concurrent writer.
func (ing *ingester) lookup(ctx context.Context, alerts []Prepared) (map[string]known, error) {
	state := make(map[string]known, len(alerts))
	if ing.db.dialect == Postgres {
		return state, ing.lookupPostgres(ctx, alerts, state)
	}
	err := ing.bySource(alerts, func(src string, ks []string) error {
		inKeys, args := ing.inList(src, ks)
		rows, err := ing.tx.QueryContext(ctx, ing.db.q(`SELECT a.source, `+lookupCols+`
		    FROM alerts a LEFT JOIN workitems w ON w.id = a.workitem_id
		    WHERE a.source = ? AND a.dedup_key `+inKeys), args...)
		if err != nil {
			return fmt.Errorf("look up alerts: %w", err)
		}
		defer rows.Close()
		return ing.scanKnown(rows, state)
	})
	return state, err
}

// lookupCols are what lookup reads of a known alert and its item, after
// its source; scanKnown reads them.
const lookupCols = `a.dedup_key, a.id, a.version, COALESCE(a.workitem_id, 0), COALESCE(w.state, ''),
    COALESCE(w.severity, ''), a.product, a.title, a.description, a.severity, a.status, a.entities, a.firing,
    CASE WHEN a.item_due_at IS NULL THEN 0 ELSE 1 END,
    CASE WHEN EXISTS (SELECT 1 FROM workitem_incidents wi WHERE wi.workitem_id = a.workitem_id) THEN 1 ELSE 0 END,
    CASE WHEN a.suppressed_by IS NULL THEN 0 ELSE 1 END`

// scanKnown adds the alerts of a lookup query to state.
func (ing *ingester) scanKnown(rows *sql.Rows, state map[string]known) error {
	for rows.Next() {
		var src, key, st string
		var k known
		var held, via, suppressed int
		if err := rows.Scan(&src, &key, &k.alertID, &k.version, &k.itemID, &st, &k.itemSev, &k.was.product, &k.was.title,
			&k.was.description, &k.was.severity, &k.was.status, &k.was.entities, &k.was.firing, &held, &via, &suppressed); err != nil {
			return fmt.Errorf("scan alert: %w", err)
		}
		k.open = k.itemID != 0 && st != "" && !ing.proc.Terminal(st)
		k.held, k.viaIncident = held == 1 && k.itemID == 0, via == 1
		k.suppressed = suppressed == 1 && k.itemID == 0
		state[src+"\x00"+key] = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up alerts: %w", err)
	}
	return nil
}

// owners finds, for the batch's new alerts that wait for an incident
// (Grace), the work item of an incident that already names them.
func (ing *ingester) owners(ctx context.Context, alerts []Prepared, keys []string, state map[string]known) (map[string]owner, error) {
	var want []Prepared
	for i := range alerts {
		if _, ok := state[keys[i]]; !ok && alerts[i].Grace > 0 && alerts[i].SourceID != "" {
			want = append(want, alerts[i])
		}
	}
	out := map[string]owner{}
	if len(want) == 0 {
		return out, nil
	}
	err := ing.bySourceIDs(want, func(src string, ids []string) error {
		inIDs, args := ing.inList(src, ids)
		rows, err := ing.tx.QueryContext(ctx, ing.db.q(`SELECT m.source_id, i.id, i.source_id, i.workitem_id, w.state, w.severity
		    FROM incident_members m JOIN incidents i ON i.id = m.incident_id JOIN workitems w ON w.id = i.workitem_id
		    WHERE m.source = ? AND m.source_id `+inIDs+` ORDER BY i.id`), args...)
		if err != nil {
			return fmt.Errorf("look up incidents of new alerts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var sid, st string
			var o owner
			if err := rows.Scan(&sid, &o.incidentID, &o.incident, &o.itemID, &st, &o.sev); err != nil {
				return fmt.Errorf("scan incident member: %w", err)
			}
			o.open = !ing.proc.Terminal(st)
			key := src + "\x00id:" + sid
			if _, ok := out[key]; !ok { // the oldest incident wins
				out[key] = o
			}
		}
		return rows.Err()
	})
	return out, err
}

// bySource calls fn with the batch's dedup keys, per source in a fixed
// order (a fixed lock order across concurrent batches) and in chunks.
func (ing *ingester) bySource(alerts []Prepared, fn func(src string, keys []string) error) error {
	group := map[string][]string{}
	for i := range alerts {
		group[alerts[i].Source] = append(group[alerts[i].Source], alerts[i].key)
	}
	return eachChunk(group, fn)
}

func (ing *ingester) bySourceIDs(alerts []Prepared, fn func(src string, ids []string) error) error {
	group := map[string][]string{}
	for i := range alerts {
		group[alerts[i].Source] = append(group[alerts[i].Source], alerts[i].SourceID)
	}
	return eachChunk(group, fn)
}

func eachChunk(group map[string][]string, fn func(src string, vals []string) error) error {
	sources := make([]string, 0, len(group))
	for src := range group {
		sources = append(sources, src)
	}
	slices.Sort(sources)
	const chunk = 500
	for _, src := range sources {
		vals := group[src]
		for start := 0; start < len(vals); start += chunk {
			if err := fn(src, vals[start:min(start+chunk, len(vals))]); err != nil {
				return err
			}
		}
	}
	return nil
}

// inList is the condition "IN (…)" for vals with its arguments after src.
// PostgreSQL gets the values as one array, so that one cached plan serves
// every batch size; SQLite has no arrays.
func (ing *ingester) inList(src string, vals []string) (string, []any) {
	if ing.db.dialect == Postgres {
		return "= ANY(?)", []any{src, vals}
	}
	args := make([]any, 0, len(vals)+1)
	args = append(args, src)
	for _, v := range vals {
		args = append(args, v)
	}
	return "IN (" + placeholders(len(vals)) + ")", args
}

// allocIDs reserves n new primary keys of table. On SQLite the caller holds
// the only write lock, so the keys after the current maximum are free. On
// PostgreSQL they come from the identity column's sequence.
func (db *DB) allocIDs(ctx context.Context, tx dbtx, table string, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, n)
	if db.dialect == Postgres {
		rows, err := tx.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, $1)`, n)
		if err != nil {
			return nil, fmt.Errorf("allocate %s ids: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return ids, rows.Err()
	}
	var max int64
	if err := db.queryRow(ctx, tx, `SELECT COALESCE(MAX(id), 0) FROM `+table).Scan(&max); err != nil {
		return nil, fmt.Errorf("allocate %s ids: %w", table, err)
	}
	for i := range n {
		ids = append(ids, max+1+int64(i))
	}
	return ids, nil
}

// allocate reserves the IDs of the batch's new alerts and items.
func (ing *ingester) allocate(ctx context.Context, alerts, items int) error {
	if ing.db.dialect == Postgres {
		return ing.allocatePostgres(ctx, alerts, items)
	}
	var err error
	if ing.alertIDs, err = ing.db.allocIDs(ctx, ing.tx, "alerts", alerts); err != nil {
		return err
	}
	ing.itemIDs, err = ing.db.allocIDs(ctx, ing.tx, "workitems", items)
	return err
}

func (ing *ingester) nextAlertID() int64 {
	id := ing.alertIDs[0]
	ing.alertIDs = ing.alertIDs[1:]
	return id
}

// takeItemID allocates the item ID of a new firing, which is known only
// when it is seen (the batch's new alerts took theirs up front). On
// SQLite the items of this batch are not written yet, so the next free
// key is past every one handed out.
func (ing *ingester) takeItemID(ctx context.Context) (int64, error) {
	ids, err := ing.db.allocIDs(ctx, ing.tx, "workitems", 1)
	if err != nil {
		return 0, err
	}
	id := ids[0]
	if ing.db.dialect != Postgres {
		id = max(id, ing.lastItemID+1)
	}
	ing.lastItemID = max(ing.lastItemID, id)
	return id, nil
}
