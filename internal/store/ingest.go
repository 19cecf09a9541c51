package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Outcome says what ingesting one alert did.
type Outcome string

// Outcomes.
const (
	OutcomeCreated  Outcome = "created"  // new alert, new work item
	OutcomeUpdated  Outcome = "updated"  // known alert, new version on its open item
	OutcomeReopened Outcome = "reopened" // known alert whose item was closed: new item linked to the old
	// OutcomeUnchanged: a connector re-read an incident that has not
	// changed (polls overlap on purpose); no version is added.
	OutcomeUnchanged Outcome = "unchanged"
)

// IngestResult reports the rows one alert touched.
type IngestResult struct {
	AlertID    int64   `json:"alert_id"`
	Version    int     `json:"version"`
	WorkItemID int64   `json:"workitem_id"`
	Outcome    Outcome `json:"outcome"`
}

// errRetryBatch reports that another writer inserted one of the batch's
// alerts between our lookup and our insert (PostgreSQL with several
// instances); the whole transaction is rolled back and run again, and the
// second run finds the alert and updates it.
var errRetryBatch = errors.New("alert inserted concurrently")

// Prepared is an alert ready for IngestPrepared. The work that needs no
// database (dedup key, entity JSON) is done by Prepare in the caller's
// goroutine, so that the single SQLite writer does only database work.
type Prepared struct {
	alert.Alert
	key      string // dedup key
	entities string // entities as JSON
}

// Prepare computes what IngestPrepared needs from a normalized alert.
func Prepare(a alert.Alert) (Prepared, error) {
	ents, err := marshalEntities(a.Entities)
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{Alert: a, key: a.DedupKey(), entities: ents}, nil
}

// Ingest prepares and stores alerts; see IngestPrepared.
func (db *DB) Ingest(ctx context.Context, proc *workitem.Process, actor string, alerts []alert.Alert) ([]IngestResult, error) {
	ps := make([]Prepared, len(alerts))
	for i, a := range alerts {
		p, err := Prepare(a)
		if err != nil {
			return nil, fmt.Errorf("ingest: alert %d: %w", i, err)
		}
		ps[i] = p
	}
	return db.IngestPrepared(ctx, proc, actor, ps)
}

// IngestPrepared stores alerts in one transaction: each is upserted on its
// dedup key with a new version, and creates or touches its work item with
// a timeline entry. proc decides the item type, the initial state and
// which states are closed. Either every alert is committed or none is.
func (db *DB) IngestPrepared(ctx context.Context, proc *workitem.Process, actor string, alerts []Prepared) ([]IngestResult, error) {
	var results []IngestResult
	var err error
	// Each retry follows a conflict on a key that another writer has
	// since committed, which the next lookup therefore finds: a batch
	// learns at least one key per attempt, so len+1 attempts always
	// suffice. A fixed small bound failed batches under contention.
	for attempt := 0; attempt <= len(alerts); attempt++ {
		err = db.tx(ctx, func(tx dbtx) error {
			ing := &ingester{db: db, tx: tx, proc: proc, actor: actor, now: us(db.clock.Now())}
			results, err = ing.run(ctx, alerts)
			return err
		})
		if !errors.Is(err, errRetryBatch) && !retryable(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return results, nil
}

// retryable reports PostgreSQL's deadlock and serialization failures,
// which abort a transaction that succeeds when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// known is what the store already holds for one dedup key.
type known struct {
	alertID int64
	version int
	itemID  int64
	open    bool // the item is in a non-terminal state
}

// alertRow is the final state of one alerts-table row after the batch: a
// batch may carry the same alert several times, and the row is written
// once with the last values (each occurrence still adds a version).
type alertRow struct {
	insert    bool // a new row, else an update of an existing one
	id        int64
	version   int
	itemID    int64
	a         *Prepared
	firstSeen int64
	lastSeen  int64
}

// ingester turns a batch into set-based writes: IDs are allocated up front,
// then every table is written with multi-row statements. Per-statement
// overhead, not SQLite's B-tree work, dominates small writes, so a batch
// of 100 alerts costs a dozen statements instead of several hundred.
type ingester struct {
	db    *DB
	tx    dbtx
	proc  *workitem.Process
	actor string
	now   int64

	alertIDs, itemIDs []int64
	rows              []*alertRow
	items             rowBuffer
	versions          rowBuffer
	links             rowBuffer
	entries           rowBuffer
	touched           map[int64]int64 // open item → newest last_seen
}

func (ing *ingester) run(ctx context.Context, alerts []Prepared) ([]IngestResult, error) {
	keys := make([]string, len(alerts))
	for i := range alerts {
		keys[i] = alerts[i].Source + "\x00" + alerts[i].key
	}
	state, err := ing.lookup(ctx, alerts)
	if err != nil {
		return nil, err
	}
	// Handle the alerts in one global order (by source and dedup key,
	// stable so that repeats within the batch keep theirs): concurrent
	// batches on PostgreSQL then touch shared rows in the same order and
	// wait for each other instead of deadlocking.
	order := make([]int, len(alerts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(keys[x], keys[y]) })

	// Count the IDs the batch needs, then allocate them in one go.
	newAlerts, newItems := 0, 0
	opened := map[string]bool{}
	for _, i := range order {
		k, ok := state[keys[i]]
		switch {
		case opened[keys[i]]:
		case !ok:
			newAlerts++
			newItems++
		case !k.open:
			newItems++
		}
		opened[keys[i]] = true
	}
	if ing.alertIDs, err = ing.db.allocIDs(ctx, ing.tx, "alerts", newAlerts); err != nil {
		return nil, err
	}
	if ing.itemIDs, err = ing.db.allocIDs(ctx, ing.tx, "workitems", newItems); err != nil {
		return nil, err
	}

	ing.items = rowBuffer{table: "workitems", cols: []string{"id", "type", "title", "state", "severity", "source", "rev", "alert_count",
		"previous_id", "created_at", "updated_at", "last_seen"}}
	ing.versions = rowBuffer{table: "alert_versions", cols: []string{"alert_id", "version", "received_at", "title", "description", "severity", "status", "entities", "last_seen", "raw"}}
	ing.links = rowBuffer{table: "workitem_alerts", cols: []string{"workitem_id", "alert_id", "linked_at"}}
	ing.entries = rowBuffer{table: "timeline", cols: []string{"workitem_id", "at", "actor", "kind", "message", "reason", "data"}}
	ing.touched = map[int64]int64{}

	rows := map[string]*alertRow{}
	results := make([]IngestResult, len(alerts))
	for _, i := range order {
		a := &alerts[i]
		if row, ok := rows[keys[i]]; ok {
			results[i] = ing.repeat(row, a)
			continue
		}
		k, ok := state[keys[i]]
		var row *alertRow
		if ok {
			row, results[i] = ing.update(a, k)
		} else {
			row, results[i] = ing.insert(a)
		}
		rows[keys[i]] = row
		ing.rows = append(ing.rows, row)
	}
	if err := ing.write(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// lookup finds the batch's alerts that already exist, with whether their
// work item is still open, in one query per source (the unique index is
// (source, dedup_key), so the source must be in the condition). On
// PostgreSQL the rows stay locked until commit: the versions computed
// from them must not be taken by a concurrent writer.
func (ing *ingester) lookup(ctx context.Context, alerts []Prepared) (map[string]known, error) {
	state := make(map[string]known, len(alerts))
	bySource := map[string][]any{}
	for i := range alerts {
		bySource[alerts[i].Source] = append(bySource[alerts[i].Source], alerts[i].key)
	}
	sources := make([]string, 0, len(bySource))
	for src := range bySource {
		sources = append(sources, src)
	}
	slices.Sort(sources) // a fixed lock order across concurrent batches
	lock := ""
	if ing.db.dialect == Postgres {
		lock = " ORDER BY a.id FOR UPDATE OF a"
	}
	const chunk = 500
	for _, src := range sources {
		keys := bySource[src]
		for start := 0; start < len(keys); start += chunk {
			part := keys[start:min(start+chunk, len(keys))]
			// PostgreSQL gets the keys as one array, so that one cached
			// plan serves every batch size; SQLite has no arrays.
			inKeys, args := "IN ("+placeholders(len(part))+")", append([]any{src}, part...)
			if ing.db.dialect == Postgres {
				strs := make([]string, len(part))
				for i, k := range part {
					strs[i] = k.(string)
				}
				inKeys, args = "= ANY(?)", []any{src, strs}
			}
			rows, err := ing.tx.QueryContext(ctx, ing.db.q(`SELECT a.dedup_key, a.id, a.version, COALESCE(a.workitem_id, 0), COALESCE(w.state, '')
			    FROM alerts a LEFT JOIN workitems w ON w.id = a.workitem_id
			    WHERE a.source = ? AND a.dedup_key `+inKeys+lock), args...)
			if err != nil {
				return nil, fmt.Errorf("look up alerts: %w", err)
			}
			for rows.Next() {
				var key, st string
				var k known
				if err := rows.Scan(&key, &k.alertID, &k.version, &k.itemID, &st); err != nil {
					rows.Close()
					return nil, fmt.Errorf("scan alert: %w", err)
				}
				k.open = k.itemID != 0 && st != "" && !ing.proc.Terminal(st)
				state[src+"\x00"+key] = k
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("look up alerts: %w", err)
			}
		}
	}
	return state, nil
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

func (ing *ingester) nextAlertID() int64 {
	id := ing.alertIDs[0]
	ing.alertIDs = ing.alertIDs[1:]
	return id
}

// newItem queues a work item for a and returns its id.
func (ing *ingester) newItem(a *Prepared, previous int64) int64 {
	id := ing.itemIDs[0]
	ing.itemIDs = ing.itemIDs[1:]
	var prev any
	if previous != 0 {
		prev = previous
	}
	ing.items.add(id, string(ing.proc.TypeFor(a.Source)), a.Title, ing.proc.Initial(), string(a.Severity), a.Source, 1, 1,
		prev, ing.now, ing.now, us(a.LastSeen))
	return id
}

// insert handles a new alert: a new row and a new work item.
func (ing *ingester) insert(a *Prepared) (*alertRow, IngestResult) {
	row := &alertRow{insert: true, id: ing.nextAlertID(), version: 1, a: a, firstSeen: us(a.FirstSeen), lastSeen: us(a.LastSeen)}
	row.itemID = ing.newItem(a, 0)
	r := IngestResult{AlertID: row.id, Version: 1, WorkItemID: row.itemID, Outcome: OutcomeCreated}
	ing.addVersion(a, r)
	ing.links.add(r.WorkItemID, r.AlertID, ing.now)
	ing.addEntry(r.WorkItemID, workitem.KindCreated, "created from "+a.Source+" alert "+strconv.FormatInt(r.AlertID, 10),
		entryData{AlertID: r.AlertID, Version: r.Version, Source: a.Source, SourceID: a.SourceID})
	return row, r
}

// update handles a known alert: a new version on its open item or, when
// that item is closed, on a new item linked to the old one.
func (ing *ingester) update(a *Prepared, k known) (*alertRow, IngestResult) {
	row := &alertRow{id: k.alertID, version: k.version + 1, itemID: k.itemID, a: a, firstSeen: us(a.FirstSeen), lastSeen: us(a.LastSeen)}
	r := IngestResult{AlertID: k.alertID, Version: row.version, WorkItemID: k.itemID, Outcome: OutcomeUpdated}
	id := strconv.FormatInt(r.AlertID, 10)
	if !k.open {
		row.itemID = ing.newItem(a, k.itemID)
		r.WorkItemID, r.Outcome = row.itemID, OutcomeReopened
		ing.addVersion(a, r)
		ing.links.add(r.WorkItemID, r.AlertID, ing.now)
		ing.addEntry(r.WorkItemID, workitem.KindCreated,
			"created because alert "+id+" fired again after work item "+strconv.FormatInt(k.itemID, 10)+" was closed",
			entryData{AlertID: r.AlertID, Version: r.Version, Source: a.Source, SourceID: a.SourceID, PreviousID: k.itemID})
		if k.itemID != 0 {
			ing.addEntry(k.itemID, workitem.KindReopened, "alert "+id+" fired again; now tracked in work item "+strconv.FormatInt(r.WorkItemID, 10),
				entryData{AlertID: r.AlertID, NextID: r.WorkItemID})
		}
		return row, r
	}
	ing.fired(a, r)
	return row, r
}

// repeat handles an alert seen earlier in the same batch.
func (ing *ingester) repeat(row *alertRow, a *Prepared) IngestResult {
	row.version++
	row.a = a
	row.firstSeen = min(row.firstSeen, us(a.FirstSeen))
	row.lastSeen = max(row.lastSeen, us(a.LastSeen))
	r := IngestResult{AlertID: row.id, Version: row.version, WorkItemID: row.itemID, Outcome: OutcomeUpdated}
	ing.fired(a, r)
	return r
}

// fired records a known alert firing again on its open item.
func (ing *ingester) fired(a *Prepared, r IngestResult) {
	ing.addVersion(a, r)
	if seen := us(a.LastSeen); seen > ing.touched[r.WorkItemID] {
		ing.touched[r.WorkItemID] = seen
	}
	ing.addEntry(r.WorkItemID, workitem.KindAlert,
		"alert "+strconv.FormatInt(r.AlertID, 10)+" fired again (version "+strconv.Itoa(r.Version)+", "+string(a.Severity)+", status "+string(a.Status)+")",
		entryData{AlertID: r.AlertID, Version: r.Version})
}

var alertCols = []string{"id", "source", "dedup_key", "source_id", "product", "title", "description", "severity", "status",
	"entities", "first_seen", "last_seen", "version", "workitem_id", "created_at", "updated_at"}

// write flushes the batch, parents before children for the foreign keys.
func (ing *ingester) write(ctx context.Context) error {
	if err := ing.items.flush(ctx, ing.db, ing.tx, ""); err != nil {
		return err
	}
	inserts := rowBuffer{table: "alerts", cols: alertCols}
	updates := rowBuffer{table: "alerts", cols: alertCols}
	nInserts := 0
	for _, row := range ing.rows {
		a := row.a
		vals := []any{row.id, a.Source, a.key, a.SourceID, a.Product, a.Title, a.Description, string(a.Severity), string(a.Status),
			a.entities, row.firstSeen, row.lastSeen, row.version, row.itemID, ing.now, ing.now}
		if row.insert {
			inserts.add(vals...)
			nInserts++
		} else {
			updates.add(vals...)
		}
	}
	// A row that another instance inserted since our lookup is skipped
	// here, and the shortfall sends the whole batch round again.
	n, err := inserts.exec(ctx, ing.db, ing.tx, " ON CONFLICT (source, dedup_key) DO NOTHING")
	if err != nil {
		return err
	}
	if n != int64(nInserts) {
		return errRetryBatch
	}
	// Updates are upserts on the primary key of rows known to exist; the
	// seen times only ever widen.
	if err := updates.flush(ctx, ing.db, ing.tx, ` ON CONFLICT (id) DO UPDATE SET
	    product = excluded.product, title = excluded.title, description = excluded.description,
	    severity = excluded.severity, status = excluded.status, entities = excluded.entities,
	    first_seen = CASE WHEN excluded.first_seen < alerts.first_seen THEN excluded.first_seen ELSE alerts.first_seen END,
	    last_seen = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END,
	    version = excluded.version, workitem_id = excluded.workitem_id, updated_at = excluded.updated_at`); err != nil {
		return err
	}
	for _, b := range []*rowBuffer{&ing.versions, &ing.links, &ing.entries} {
		if err := b.flush(ctx, ing.db, ing.tx, ""); err != nil {
			return err
		}
	}
	return ing.touchItems(ctx)
}

// touchItems moves the last-seen time of items whose alerts fired again,
// with multi-row UPDATE … FROM statements. Should an item have closed since
// the lookup (another instance), only its last-seen time moves; the
// alert's timeline entry still explains what happened.
func (ing *ingester) touchItems(ctx context.Context) error {
	ids := make([]int64, 0, len(ing.touched))
	for id := range ing.touched {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a fixed lock order on PostgreSQL
	for len(ids) > 0 {
		n := chunkSize(len(ids))
		var sb strings.Builder
		args := make([]any, 0, 2*n+1)
		args = append(args, ing.now)
		for i, id := range ids[:n] {
			if i > 0 {
				sb.WriteString(" UNION ALL ")
			}
			sb.WriteString("SELECT CAST(? AS BIGINT) AS id, CAST(? AS BIGINT) AS seen")
			args = append(args, id, ing.touched[id])
		}
		if _, err := ing.db.exec(ctx, ing.tx, `UPDATE workitems SET
		    last_seen = CASE WHEN v.seen > workitems.last_seen THEN v.seen ELSE workitems.last_seen END, updated_at = ?
		    FROM (`+sb.String()+`) AS v WHERE workitems.id = v.id`, args...); err != nil {
			return fmt.Errorf("touch work items: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

func (ing *ingester) addVersion(a *Prepared, r IngestResult) {
	ing.versions.add(r.AlertID, r.Version, ing.now, a.Title, a.Description, string(a.Severity), string(a.Status), a.entities,
		us(a.LastSeen), nullJSON(a.Raw))
}

// entryData is the structured part of an ingest timeline entry.
type entryData struct {
	AlertID    int64  `json:"alert_id"`
	Version    int    `json:"version,omitempty"`
	Source     string `json:"source,omitempty"`
	SourceID   string `json:"source_id,omitempty"`
	PreviousID int64  `json:"previous_id,omitempty"`
	NextID     int64  `json:"next_id,omitempty"`
}

func (ing *ingester) addEntry(itemID int64, kind, msg string, d entryData) {
	b, _ := json.Marshal(d) // a struct of strings and ints always marshals
	ing.entries.add(itemID, ing.now, ing.actor, kind, msg, "", string(b))
}

// rowBuffer collects rows for one table and writes them with multi-row
// INSERTs.
type rowBuffer struct {
	table string
	cols  []string
	args  []any
}

func (b *rowBuffer) add(vals ...any) { b.args = append(b.args, vals...) }

// chunkSize picks the largest of a few fixed statement sizes that fits n
// rows: few distinct statements, each prepared once and cached.
func chunkSize(n int) int {
	for _, size := range []int{128, 32, 8} {
		if n >= size {
			return size
		}
	}
	return 1
}

func (b *rowBuffer) flush(ctx context.Context, db *DB, tx dbtx, suffix string) error {
	_, err := b.exec(ctx, db, tx, suffix)
	return err
}

// exec writes the buffered rows with suffix (an ON CONFLICT clause)
// appended to each statement, and returns the number of rows written.
func (b *rowBuffer) exec(ctx context.Context, db *DB, tx dbtx, suffix string) (int64, error) {
	perRow := len(b.cols)
	tuple := "(" + placeholders(perRow) + ")"
	var total int64
	for len(b.args) > 0 {
		n := chunkSize(len(b.args) / perRow)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(tuple)
		}
		sb.WriteString(suffix)
		res, err := db.exec(ctx, tx, sb.String(), b.args[:n*perRow]...)
		if err != nil {
			return total, fmt.Errorf("insert into %s: %w", b.table, err)
		}
		if m, err := res.RowsAffected(); err == nil {
			total += m
		}
		b.args = b.args[n*perRow:]
	}
	return total, nil
}

func marshalEntities(e []alert.Entity) (string, error) {
	if len(e) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("entities: %w", err)
	}
	return string(b), nil
}

// nullJSON stores an absent raw payload as NULL rather than an empty string,
// which PostgreSQL's json type would reject.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
