package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
		if !errors.Is(err, errRetryBatch) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return results, nil
}

// known is what the store already holds for one dedup key.
type known struct {
	alertID int64
	version int
	itemID  int64
	open    bool // the item is in a non-terminal state
}

type ingester struct {
	db    *DB
	tx    dbtx
	proc  *workitem.Process
	actor string
	now   int64

	versions, links, entries rowBuffer
	touched                  map[int64]int64 // open item → newest last_seen
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
	ing.versions = rowBuffer{table: "alert_versions", cols: []string{"alert_id", "version", "received_at", "title", "description", "severity", "status", "entities", "last_seen", "raw"}}
	ing.links = rowBuffer{table: "workitem_alerts", cols: []string{"workitem_id", "alert_id", "linked_at"}}
	ing.entries = rowBuffer{table: "timeline", cols: []string{"workitem_id", "at", "actor", "kind", "message", "reason", "data"}}
	ing.touched = map[int64]int64{}

	// Write the alerts in one global order (by source and dedup key,
	// stable so that repeats within the batch keep theirs): concurrent
	// batches on PostgreSQL then lock shared alert rows in the same order
	// and wait for each other instead of deadlocking.
	order := make([]int, len(alerts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(keys[x], keys[y]) })
	results := make([]IngestResult, len(alerts))
	for _, i := range order {
		a := &alerts[i]
		k, ok := state[keys[i]]
		var r IngestResult
		if ok {
			r, err = ing.update(ctx, a, k)
		} else {
			r, err = ing.insert(ctx, a)
		}
		if err != nil {
			return nil, fmt.Errorf("alert %d (%s %s): %w", i, a.Source, a.SourceID, err)
		}
		results[i] = r
		state[keys[i]] = known{alertID: r.AlertID, version: r.Version, itemID: r.WorkItemID, open: true}
	}
	if err := ing.touchItems(ctx); err != nil {
		return nil, err
	}
	for _, b := range []*rowBuffer{&ing.versions, &ing.links, &ing.entries} {
		if err := b.flush(ctx, ing.db, ing.tx); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// lookup finds the batch's alerts that already exist, with whether their
// work item is still open, in one query per source (the unique index is
// (source, dedup_key), so the source must be in the condition).
func (ing *ingester) lookup(ctx context.Context, alerts []Prepared) (map[string]known, error) {
	state := make(map[string]known, len(alerts))
	bySource := map[string][]any{}
	for i := range alerts {
		bySource[alerts[i].Source] = append(bySource[alerts[i].Source], alerts[i].key)
	}
	const chunk = 500
	for src, keys := range bySource {
		for start := 0; start < len(keys); start += chunk {
			part := keys[start:min(start+chunk, len(keys))]
			args := append([]any{src}, part...)
			rows, err := ing.tx.QueryContext(ctx, ing.db.q(`SELECT a.dedup_key, a.id, a.version, COALESCE(a.workitem_id, 0), COALESCE(w.state, '')
			    FROM alerts a LEFT JOIN workitems w ON w.id = a.workitem_id
			    WHERE a.source = ? AND a.dedup_key IN (`+placeholders(len(part))+`)`), args...)
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

// insert creates a new alert and its work item: the item first, so the
// alert row is written once, already pointing at it.
func (ing *ingester) insert(ctx context.Context, a *Prepared) (IngestResult, error) {
	r := IngestResult{Version: 1, Outcome: OutcomeCreated}
	ents := a.entities
	var err error
	if r.WorkItemID, err = ing.newItem(ctx, &a.Alert, nil); err != nil {
		return r, err
	}
	err = ing.queryRow(ctx, (`INSERT INTO alerts (source, dedup_key, source_id, product, title, description, severity, status,
	    entities, first_seen, last_seen, version, workitem_id, created_at, updated_at)
	    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (source, dedup_key) DO NOTHING RETURNING id`),
		a.Source, a.key, a.SourceID, a.Product, a.Title, a.Description, string(a.Severity), string(a.Status),
		ents, us(a.FirstSeen), us(a.LastSeen), r.WorkItemID, ing.now, ing.now).Scan(&r.AlertID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errRetryBatch
	}
	if err != nil {
		return r, fmt.Errorf("insert alert: %w", err)
	}
	ing.addVersion(&a.Alert, r, ents)
	ing.links.add(r.WorkItemID, r.AlertID, ing.now)
	ing.addEntry(r.WorkItemID, workitem.KindCreated, "created from "+a.Source+" alert "+strconv.FormatInt(r.AlertID, 10),
		entryData{AlertID: r.AlertID, Version: r.Version, Source: a.Source, SourceID: a.SourceID})
	return r, nil
}

// update records a new version of a known alert, on its open item or, when
// that item is closed, on a new item linked to the old one.
func (ing *ingester) update(ctx context.Context, a *Prepared, k known) (IngestResult, error) {
	r := IngestResult{AlertID: k.alertID, WorkItemID: k.itemID, Outcome: OutcomeUpdated}
	ents := a.entities
	var err error
	if !k.open {
		r.Outcome = OutcomeReopened
		var prev any
		if k.itemID != 0 {
			prev = k.itemID
		}
		if r.WorkItemID, err = ing.newItem(ctx, &a.Alert, prev); err != nil {
			return r, err
		}
	}
	// version = version + 1 under the row lock, so concurrent writers on
	// PostgreSQL still produce a gap-free history.
	err = ing.queryRow(ctx, (`UPDATE alerts SET product = ?, title = ?, description = ?, severity = ?, status = ?, entities = ?,
	    first_seen = CASE WHEN ? < first_seen THEN ? ELSE first_seen END,
	    last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END,
	    version = version + 1, workitem_id = ?, updated_at = ?
	    WHERE id = ? RETURNING version`),
		a.Product, a.Title, a.Description, string(a.Severity), string(a.Status), ents,
		us(a.FirstSeen), us(a.FirstSeen), us(a.LastSeen), us(a.LastSeen), r.WorkItemID, ing.now, k.alertID).Scan(&r.Version)
	if err != nil {
		return r, fmt.Errorf("update alert %d: %w", k.alertID, err)
	}
	ing.addVersion(&a.Alert, r, ents)
	id := strconv.FormatInt(r.AlertID, 10)
	if r.Outcome == OutcomeReopened {
		ing.links.add(r.WorkItemID, r.AlertID, ing.now)
		ing.addEntry(r.WorkItemID, workitem.KindCreated,
			"created because alert "+id+" fired again after work item "+strconv.FormatInt(k.itemID, 10)+" was closed",
			entryData{AlertID: r.AlertID, Version: r.Version, Source: a.Source, SourceID: a.SourceID, PreviousID: k.itemID})
		if k.itemID != 0 {
			ing.addEntry(k.itemID, workitem.KindReopened, "alert "+id+" fired again; now tracked in work item "+strconv.FormatInt(r.WorkItemID, 10),
				entryData{AlertID: r.AlertID, NextID: r.WorkItemID})
		}
		return r, nil
	}
	if seen := us(a.LastSeen); seen > ing.touched[r.WorkItemID] {
		ing.touched[r.WorkItemID] = seen
	}
	ing.addEntry(r.WorkItemID, workitem.KindAlert,
		"alert "+id+" fired again (version "+strconv.Itoa(r.Version)+", "+string(a.Severity)+", status "+string(a.Status)+")",
		entryData{AlertID: r.AlertID, Version: r.Version})
	return r, nil
}

func (ing *ingester) newItem(ctx context.Context, a *alert.Alert, previous any) (int64, error) {
	var id int64
	err := ing.queryRow(ctx, (`INSERT INTO workitems (type, title, state, severity, source, rev, alert_count, previous_id,
	    created_at, updated_at, last_seen) VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?) RETURNING id`),
		string(ing.proc.TypeFor(a.Source)), a.Title, ing.proc.Initial(), string(a.Severity), a.Source, previous,
		ing.now, ing.now, us(a.LastSeen)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create work item: %w", err)
	}
	return id, nil
}

// touchItems moves the last-seen time of items whose alerts fired again.
// Should an item have closed since the lookup (another instance), it is
// left closed; the alert's timeline entry still explains what happened.
func (ing *ingester) touchItems(ctx context.Context) error {
	for id, seen := range ing.touched {
		if _, err := ing.exec(ctx, (`UPDATE workitems SET last_seen = CASE WHEN ? > last_seen THEN ? ELSE last_seen END,
		    updated_at = ? WHERE id = ?`), seen, seen, ing.now, id); err != nil {
			return fmt.Errorf("touch work item %d: %w", id, err)
		}
	}
	return nil
}

func (ing *ingester) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return ing.db.queryRow(ctx, ing.tx, query, args...)
}

func (ing *ingester) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return ing.db.exec(ctx, ing.tx, query, args...)
}

func (ing *ingester) addVersion(a *alert.Alert, r IngestResult, ents string) {
	ing.versions.add(r.AlertID, r.Version, ing.now, a.Title, a.Description, string(a.Severity), string(a.Status), ents, us(a.LastSeen), nullJSON(a.Raw))
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
// INSERTs: per-statement overhead, not SQLite's B-tree work, dominates
// small inserts, so a batch of 100 alerts saves hundreds of round trips.
type rowBuffer struct {
	table string
	cols  []string
	args  []any
}

func (b *rowBuffer) add(vals ...any) { b.args = append(b.args, vals...) }

func (b *rowBuffer) flush(ctx context.Context, db *DB, tx dbtx) error {
	perRow := len(b.cols)
	tuple := "(" + placeholders(perRow) + ")"
	for len(b.args) > 0 {
		// Fixed chunk sizes keep the number of distinct (cached, prepared)
		// statements small whatever the batch size.
		rows := len(b.args) / perRow
		n := 1
		for _, size := range []int{128, 32, 8} {
			if rows >= size {
				n = size
				break
			}
		}
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(tuple)
		}
		if _, err := db.exec(ctx, tx, sb.String(), b.args[:n*perRow]...); err != nil {
			return fmt.Errorf("insert into %s: %w", b.table, err)
		}
		b.args = b.args[n*perRow:]
	}
	return nil
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
