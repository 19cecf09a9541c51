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
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Outcome says what ingesting one alert did.
type Outcome string

// Outcomes.
const (
	OutcomeCreated  Outcome = "created"  // new alert, on a new work item or its incident's item
	OutcomeUpdated  Outcome = "updated"  // known alert that changed: a new version
	OutcomeReopened Outcome = "reopened" // a new firing of an alert whose item was closed: new item linked to the old
	// OutcomeUnchanged: a re-send of the same firing with nothing changed
	// (Prometheus re-sends every minute; polls overlap on purpose). It
	// moves last_seen and the seen count, and adds no version.
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeHeld: a new alert that may belong to an incident still on
	// its way; it gets its own item only if none claims it in time.
	OutcomeHeld Outcome = "held"
)

// IngestResult reports the rows one alert touched.
type IngestResult struct {
	AlertID    int64   `json:"alert_id"`
	Version    int     `json:"version"`
	WorkItemID int64   `json:"workitem_id"`
	Outcome    Outcome `json:"outcome"`
	// PreviousStatus is the alert's status before this receipt ("" for a
	// new alert), so that a follower tells "resolved now" from "still
	// resolved".
	PreviousStatus alert.Status `json:"-"`
	// ViaIncident says the work item is the item of an incident that
	// contains the alert, not the alert's own.
	ViaIncident bool `json:"-"`
	// SourceResolved says this batch left every alert of the item
	// resolved or dismissed at its source, where some was open before.
	SourceResolved bool `json:"-"`
}

// errRetryBatch reports that another writer inserted one of the batch's
// alerts between our lookup and our insert (PostgreSQL with several
// instances); the whole transaction is rolled back and run again, and the
// second run finds the alert and updates it.
var errRetryBatch = errors.New("alert inserted concurrently")

// Prepared is an alert ready for IngestPrepared. The work that needs no
// database (dedup key, entity JSON, masking credentials in the payload)
// is done by Prepare in the caller's goroutine, so that the single SQLite
// writer, and a PostgreSQL transaction holding row locks, do only
// database work.
type Prepared struct {
	alert.Alert
	key      string // dedup key
	entities string // entities as JSON
	raw      any    // the raw payload as stored (nullJSON): masking it can cost a parse
	// pre is the creation rules' result computed before the writer, by
	// preSet for preActor (see PrecomputeRules).
	pre      *automation.Result
	preSet   *automation.Set
	preActor string
}

// Prepare computes what IngestPrepared needs from a normalized alert.
func Prepare(a alert.Alert) (Prepared, error) {
	ents, err := marshalEntities(a.Entities)
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{Alert: a, key: a.DedupKey(), entities: ents, raw: nullJSON(a.Raw)}, nil
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
	alertID     int64
	version     int
	itemID      int64
	open        bool // the item is in a non-terminal state
	itemSev     string
	viaIncident bool // the item is an incident's, not the alert's own
	held        bool // no item yet: waiting for an incident to claim it
	suppressed  bool // no item: a rule suppressed it
	was         content
}

// owner is the work item of an incident that already lists a new alert
// as a member (a Sentinel incident naming a Defender alert vigil has
// not stored yet).
type owner struct {
	itemID     int64
	incidentID int64
	incident   string // the incident's source id, for the timeline
	open       bool
	sev        string
}

// alertRow is the final state of one alerts-table row after the batch: a
// batch may carry the same alert several times, and the row is written
// once with the last values (each changed occurrence adds a version).
type alertRow struct {
	insert      bool
	changed     bool // content changed: the whole row is rewritten
	id          int64
	version     int
	itemID      int64
	open        bool
	viaIncident bool
	held        bool
	suppressed  bool
	dueAt       int64
	a           *Prepared
	cur         content
	firstSeen   int64
	lastSeen    int64
	seen        int64 // receipts in this batch
	// learnFiring: the row predates firings and this receipt names one.
	learnFiring bool
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
	incidentLinks     rowBuffer
	entries           rowBuffer
	touched           map[int64]int64 // item whose alert changed → newest last_seen
	quiet             map[int64]int64 // item whose alert was only re-sent → newest last_seen
	itemSev           map[int64]string
	raises            []raise
	statusMoved       map[int64]bool // items whose alerts went from open to settled or back
	searchAdd         map[int64]bool // items that gained alerts: refresh key entity and search text
	lastItemID        int64          // the highest item ID handed out (SQLite's lazy allocation)

	rules        *automation.Set      // creation rules (nil: none)
	ruleWork     []ruleWork           // rule effects to write once the items exist
	ruleTally    map[int64]*ruleTally // per rule: hits, closes, suppressions, newest error
	suppressed   map[int64][]int64    // rule → alerts it suppressed
	unsuppressed []int64              // suppressed alerts that got an item on a new firing
}

// raise is an item severity raised by a re-fired alert.
type raise struct {
	itemID, alertID int64
	from, to        string
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
	owners, err := ing.owners(ctx, alerts, keys, state)
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

	// Allocate the IDs that new alerts need in one go. A new firing of
	// an alert whose item was closed takes its item ID when it is seen
	// (rare, and only then known).
	newAlerts, newItems := 0, 0
	counted := map[string]bool{}
	for _, i := range order {
		if _, ok := state[keys[i]]; ok || counted[keys[i]] {
			continue
		}
		counted[keys[i]] = true
		newAlerts++
		if _, claimed := owners[keys[i]]; !claimed && alerts[i].Grace <= 0 {
			newItems++
		}
	}
	if err := ing.allocate(ctx, newAlerts, newItems); err != nil {
		return nil, err
	}
	if len(ing.itemIDs) > 0 {
		ing.lastItemID = ing.itemIDs[len(ing.itemIDs)-1]
	}

	ing.items = newRowBuffer("workitems", "id bigint", "type text", "title text", "state text", "severity text", "source text",
		"rev bigint", "alert_count bigint", "previous_id bigint", "created_at bigint", "updated_at bigint", "last_seen bigint",
		"key_entity text", "search_text text", "source_resolved_at bigint")
	ing.versions = newRowBuffer("alert_versions", "alert_id bigint", "version bigint", "received_at bigint", "title text",
		"description text", "severity text", "status text", "entities text", "last_seen bigint", "raw json")
	ing.links = newRowBuffer("workitem_alerts", "workitem_id bigint", "alert_id bigint", "linked_at bigint")
	ing.incidentLinks = newRowBuffer("incident_alerts", "incident_id bigint", "alert_id bigint")
	ing.entries = newRowBuffer("timeline", "workitem_id bigint", "at bigint", "actor text", "kind text", "message text",
		"reason text", "data text")
	ing.touched, ing.quiet, ing.itemSev = map[int64]int64{}, map[int64]int64{}, map[int64]string{}
	ing.statusMoved, ing.searchAdd = map[int64]bool{}, map[int64]bool{}
	for _, k := range state {
		if k.itemID != 0 {
			ing.itemSev[k.itemID] = k.itemSev
		}
	}
	for _, o := range owners {
		ing.itemSev[o.itemID] = o.sev
	}

	ing.rules = ing.db.rules.Load()
	rows := map[string]*alertRow{}
	results := make([]IngestResult, len(alerts))
	for _, i := range order {
		a := &alerts[i]
		row, ok := rows[keys[i]]
		if !ok {
			if k, known := state[keys[i]]; known {
				row = &alertRow{id: k.alertID, version: k.version, itemID: k.itemID, open: k.open, viaIncident: k.viaIncident,
					held: k.held, suppressed: k.suppressed, cur: k.was, firstSeen: us(a.FirstSeen), lastSeen: us(a.LastSeen), a: a}
			} else {
				o, claimed := owners[keys[i]]
				row, results[i] = ing.insert(a, o, claimed)
				rows[keys[i]] = row
				ing.rows = append(ing.rows, row)
				continue
			}
			rows[keys[i]] = row
			ing.rows = append(ing.rows, row)
		}
		if results[i], err = ing.receive(ctx, row, a); err != nil {
			return nil, err
		}
	}
	if err := ing.write(ctx); err != nil {
		return nil, err
	}
	if err := ing.applyRuleWork(ctx); err != nil {
		return nil, err
	}
	resolved, err := ing.settleItems(ctx)
	if err != nil {
		return nil, err
	}
	for i := range results {
		results[i].SourceResolved = resolved[results[i].WorkItemID]
	}
	return results, nil
}

// newItem queues a work item for a with the given id, as the creation
// rules leave it. It reports false when a rule suppressed the alert: no
// item is made.
func (ing *ingester) newItem(id int64, a *Prepared, previous int64, alertID int64) bool {
	state, sev := ing.proc.Initial(), string(a.Severity)
	res := ing.automate(a, id)
	if res != nil && res.Suppressed != nil {
		if ing.suppressed == nil {
			ing.suppressed = map[int64][]int64{}
		}
		ing.suppressed[res.Suppressed.RuleID] = append(ing.suppressed[res.Suppressed.RuleID], alertID)
		return false
	}
	if res != nil && res.Changed() {
		state, sev = res.Item.State, string(res.Item.Severity)
		defer func() {
			ing.ruleEntries(id, res)
			for _, m := range res.Moves {
				b, _ := json.Marshal(map[string]string{"from": m.From, "to": m.To, "classification": m.Classification})
				ing.entries.add(id, ing.now, m.Rule, workitem.KindTransition, "moved from "+m.From+" to "+m.To, m.Reason, string(b))
			}
			ing.ruleWork = append(ing.ruleWork, ruleWork{itemID: id, res: res})
		}()
	} else if res != nil && len(res.Errors) > 0 {
		defer ing.ruleEntries(id, res)
	}
	var prev, resolved any
	if previous != 0 {
		prev = previous
	}
	if !a.Status.Open() {
		resolved = ing.now
	}
	ing.items.add(id, string(ing.proc.TypeFor(a.Source)), a.Title, state, sev, a.Source, 1, 1,
		prev, ing.now, ing.now, us(a.LastSeen), alert.KeyEntity(a.Entities), alert.SearchText(a.Title, a.Entities), resolved)
	ing.itemSev[id] = sev
	return true
}

// insert handles a new alert: a new row, and a new work item, or the item
// of the incident that names it, or none yet while it waits for one.
func (ing *ingester) insert(a *Prepared, o owner, claimed bool) (*alertRow, IngestResult) {
	row := &alertRow{insert: true, id: ing.nextAlertID(), version: 1, a: a, cur: contentOf(a), seen: 1,
		firstSeen: us(a.FirstSeen), lastSeen: us(a.LastSeen)}
	r := IngestResult{AlertID: row.id, Version: 1, Outcome: OutcomeCreated}
	data := entryData{AlertID: r.AlertID, Version: 1, Source: a.Source, SourceID: a.SourceID}
	switch {
	case claimed:
		row.itemID, row.open, row.viaIncident = o.itemID, o.open, true
		r.WorkItemID, r.ViaIncident = o.itemID, true
		ing.links.add(o.itemID, row.id, ing.now)
		ing.incidentLinks.add(o.incidentID, row.id)
		data.IncidentID = o.incidentID
		ing.addEntry(o.itemID, workitem.KindAlert, fmt.Sprintf("%s alert %d (%s) linked through incident %s, which contains it",
			a.Source, row.id, a.SourceID, o.incident), data)
		ing.touched[o.itemID] = max(ing.touched[o.itemID], row.lastSeen)
		ing.searchAdd[o.itemID] = true
		ing.statusMoved[o.itemID] = true
		if o.open {
			ing.maybeRaise(o.itemID, row.id, a.Severity)
		}
	case a.Grace > 0:
		row.held, row.dueAt = true, ing.now+a.Grace.Microseconds()
		r.Outcome = OutcomeHeld
	default:
		id := ing.itemIDs[0]
		ing.itemIDs = ing.itemIDs[1:]
		if !ing.newItem(id, a, 0, row.id) {
			r.Outcome = OutcomeSuppressed
			break
		}
		row.itemID, row.open = id, true
		r.WorkItemID = row.itemID
		ing.links.add(r.WorkItemID, r.AlertID, ing.now)
		ing.addEntry(r.WorkItemID, workitem.KindCreated, "created from "+a.Source+" alert "+strconv.FormatInt(r.AlertID, 10), data)
	}
	ing.addVersion(a, r)
	return row, r
}

// receive applies one more receipt of a known alert (or of one seen
// earlier in the batch). A re-send of the same firing with nothing
// changed only moves the seen times and the count. A change adds a
// version, and a timeline entry that says what changed. A new firing of
// an alert whose item is closed opens a new item; nothing else reopens.
func (ing *ingester) receive(ctx context.Context, row *alertRow, a *Prepared) (IngestResult, error) {
	prev, next := row.cur, contentOf(a)
	row.seen++
	row.firstSeen = min(row.firstSeen, us(a.FirstSeen))
	row.lastSeen = max(row.lastSeen, us(a.LastSeen))
	r := IngestResult{AlertID: row.id, Version: row.version, WorkItemID: row.itemID, Outcome: OutcomeUnchanged,
		ViaIncident: row.viaIncident, PreviousStatus: alert.Status(prev.status)}
	if next.firing == "" {
		next.firing = prev.firing // the sender names no firing: the same one
	} else if prev.firing == "" {
		// A row stored before firings were kept: learn this one, and
		// count it as the same firing.
		prev.firing, row.learnFiring = next.firing, true
		row.cur.firing = next.firing
	}
	if pushed(a.Source) && next.status == string(alert.StatusNew) && prev.status == string(alert.StatusInProgress) {
		// A sender that pushes firings re-sends "firing", which is not a
		// step back from acknowledged (PagerDuty keeps an acknowledged
		// alert acknowledged when its trigger is re-sent).
		next.status = prev.status
		a.Status = alert.StatusInProgress // the version keeps it too
	}
	newFiring := alert.Status(next.status).Open() && (next.firing != prev.firing || !alert.Status(prev.status).Open()) // a resolution is never a firing
	if next == prev {
		if row.itemID != 0 {
			ing.quiet[row.itemID] = max(ing.quiet[row.itemID], us(a.LastSeen))
		}
		return r, nil
	}
	row.changed, row.a, row.cur = true, a, next
	row.version++
	r.Version, r.Outcome = row.version, OutcomeUpdated
	if alert.Status(next.status).Open() != alert.Status(prev.status).Open() && row.itemID != 0 {
		ing.statusMoved[row.itemID] = true
	}
	id := strconv.FormatInt(row.id, 10)
	data := entryData{AlertID: row.id, Version: row.version}
	switch {
	case row.itemID == 0 && row.suppressed && newFiring:
		// A rule suppressed this alert when it fired before. A new
		// firing is judged again: once the suppression has expired, or
		// no longer matches, the alert gets its item.
		nid, err := ing.takeItemID(ctx)
		if err != nil {
			return r, err
		}
		if !ing.newItem(nid, a, 0, row.id) {
			r.Outcome = OutcomeSuppressed
			break
		}
		row.itemID, row.open, row.suppressed = nid, true, false
		r.WorkItemID, r.Outcome = nid, OutcomeCreated
		ing.links.add(nid, row.id, ing.now)
		ing.unsuppressed = append(ing.unsuppressed, row.id)
		ing.addEntry(nid, workitem.KindCreated, "created because alert "+id+" fired again; a rule had suppressed its earlier firing, and none suppressed this one",
			entryData{AlertID: row.id, Version: row.version, Source: a.Source, SourceID: a.SourceID})
	case row.itemID == 0: // held: the item it joins will show its history
	case !row.open && newFiring:
		old := row.itemID
		nid, err := ing.takeItemID(ctx)
		if err != nil {
			return r, err
		}
		if !ing.newItem(nid, a, old, row.id) {
			// A rule suppresses the new firing: the old item keeps the
			// alert, closed.
			r.Outcome = OutcomeSuppressed
			ing.addEntry(old, workitem.KindAlert, "alert "+id+" fired again; a rule suppressed the new firing", entryData{AlertID: row.id, Version: row.version})
			break
		}
		row.itemID, row.open, row.viaIncident = nid, true, false
		r.WorkItemID, r.Outcome, r.ViaIncident = nid, OutcomeReopened, false
		ing.links.add(nid, row.id, ing.now)
		why := "fired again (a new firing)"
		if !alert.Status(prev.status).Open() {
			why = "fired again after it was " + settledWord(prev.status) + " at the source"
		}
		ing.addEntry(nid, workitem.KindCreated, "created because alert "+id+" "+why+" after work item "+strconv.FormatInt(old, 10)+" was closed",
			entryData{AlertID: row.id, Version: row.version, Source: a.Source, SourceID: a.SourceID, PreviousID: old})
		ing.addEntry(old, workitem.KindReopened, "alert "+id+" "+why+"; now tracked in work item "+strconv.FormatInt(nid, 10),
			entryData{AlertID: row.id, NextID: nid})
	default:
		ing.addEntry(row.itemID, workitem.KindAlert, "alert "+id+" (version "+strconv.Itoa(row.version)+"): "+describeChange(prev, next, newFiring), data)
		ing.touched[row.itemID] = max(ing.touched[row.itemID], us(a.LastSeen))
		if row.open {
			ing.maybeRaise(row.itemID, row.id, a.Severity)
		}
	}
	ing.addVersion(a, r)
	return r, nil
}

// maybeRaise raises an open item's severity to an alert's higher one. A
// severity is never lowered by a source: an analyst may have raised it.
func (ing *ingester) maybeRaise(itemID, alertID int64, sev alert.Severity) {
	cur := alert.Severity(ing.itemSev[itemID])
	if sev.Rank() <= cur.Rank() {
		return
	}
	ing.itemSev[itemID] = string(sev)
	ing.raises = append(ing.raises, raise{itemID: itemID, alertID: alertID, from: string(cur), to: string(sev)})
}

// alertCols are the alerts table's columns as the batch writes them.
var alertCols = []string{"id bigint", "source text", "dedup_key text", "source_id text", "product text", "title text",
	"description text", "severity text", "status text", "entities text", "first_seen bigint", "last_seen bigint",
	"version bigint", "workitem_id bigint", "created_at bigint", "updated_at bigint", "seen_count bigint", "firing text",
	"item_due_at bigint"}

// alertWrites sorts the batch's alert rows into new rows, changed rows
// (rewritten whole) and unchanged re-sends.
func (ing *ingester) alertWrites() (inserts, updates rowBuffer, resent []*alertRow) {
	inserts, updates = newRowBuffer("alerts", alertCols...), newRowBuffer("alerts", alertCols...)
	for _, row := range ing.rows {
		if !row.insert && !row.changed {
			resent = append(resent, row)
			continue
		}
		a := row.a
		var item, due any
		if row.itemID != 0 {
			item = row.itemID
		}
		if row.held && row.insert {
			due = row.dueAt
		}
		vals := []any{row.id, a.Source, a.key, a.SourceID, row.cur.product, row.cur.title, row.cur.description, row.cur.severity, row.cur.status,
			row.cur.entities, row.firstSeen, row.lastSeen, row.version, item, ing.now, ing.now, row.seen, row.cur.firing, due}
		if row.insert {
			inserts.add(vals...)
		} else {
			updates.add(vals...)
		}
	}
	return inserts, updates, resent
}

// write flushes the batch, parents before children for the foreign keys.
func (ing *ingester) write(ctx context.Context) error {
	inserts, updates, resent := ing.alertWrites()
	if ing.db.dialect == Postgres {
		return ing.writePostgres(ctx, inserts, updates, resent)
	}
	if err := ing.items.flush(ctx, ing.db, ing.tx, ""); err != nil {
		return err
	}
	// A row that another instance inserted since our lookup is skipped
	// here, and the shortfall sends the whole batch round again.
	nInserts := inserts.rows()
	n, err := inserts.exec(ctx, ing.db, ing.tx, " ON CONFLICT (source, dedup_key) DO NOTHING")
	if err != nil {
		return err
	}
	if n != int64(nInserts) {
		return errRetryBatch
	}
	// Updates are upserts on the primary key of rows known to exist; the
	// seen times only ever widen, and a held alert stays held.
	if err := updates.flush(ctx, ing.db, ing.tx, ` ON CONFLICT (id) DO UPDATE SET
	    product = excluded.product, title = excluded.title, description = excluded.description,
	    severity = excluded.severity, status = excluded.status, entities = excluded.entities,
	    first_seen = CASE WHEN excluded.first_seen < alerts.first_seen THEN excluded.first_seen ELSE alerts.first_seen END,
	    last_seen = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END,
	    version = excluded.version, workitem_id = excluded.workitem_id, updated_at = excluded.updated_at,
	    seen_count = alerts.seen_count + excluded.seen_count, firing = excluded.firing`); err != nil {
		return err
	}
	if err := ing.resend(ctx, resent); err != nil {
		return err
	}
	for _, b := range []*rowBuffer{&ing.versions, &ing.links, &ing.incidentLinks, &ing.entries} {
		suffix := ""
		if b == &ing.incidentLinks || b == &ing.links {
			suffix = " ON CONFLICT DO NOTHING"
		}
		if err := b.flush(ctx, ing.db, ing.tx, suffix); err != nil {
			return err
		}
	}
	if err := ing.touchItems(ctx, ing.touched, true); err != nil {
		return err
	}
	if err := ing.touchItems(ctx, ing.quiet, false); err != nil {
		return err
	}
	if err := ing.applyRaises(ctx); err != nil {
		return err
	}
	return ing.refreshSearch(ctx)
}

// resend records re-sends that changed nothing: the seen times widen and
// the count grows; no version, no timeline entry.
func (ing *ingester) resend(ctx context.Context, rows []*alertRow) error {
	return ing.updateFrom(ctx, len(rows), "CAST(? AS BIGINT) AS id, CAST(? AS BIGINT) AS first_seen, CAST(? AS BIGINT) AS last_seen, CAST(? AS BIGINT) AS n, CAST(? AS TEXT) AS firing",
		func(i int) []any {
			row := rows[i]
			firing := ""
			if row.learnFiring {
				firing = row.cur.firing
			}
			return []any{row.id, row.firstSeen, row.lastSeen, row.seen, firing}
		}, `UPDATE alerts SET
		    first_seen = CASE WHEN v.first_seen < alerts.first_seen THEN v.first_seen ELSE alerts.first_seen END,
		    last_seen = CASE WHEN v.last_seen > alerts.last_seen THEN v.last_seen ELSE alerts.last_seen END,
		    seen_count = alerts.seen_count + v.n,
		    firing = CASE WHEN alerts.firing = '' THEN v.firing ELSE alerts.firing END
		    FROM (%s) AS v WHERE alerts.id = v.id`, "record re-sent alerts")
}

// touchItems moves the last-seen time of items whose alerts arrived.
// changed also moves updated_at, which live boards follow, and recounts
// the alerts (an incident's item may have gained one); a mere re-send
// does not, so that a Prometheus alert re-sent every minute does not
// redraw every board every minute. Should an item have closed since the
// lookup (another instance), only its last-seen time moves.
func (ing *ingester) touchItems(ctx context.Context, seen map[int64]int64, changed bool) error {
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a fixed lock order on PostgreSQL
	set := ""
	if changed {
		set = ", updated_at = " + strconv.FormatInt(ing.now, 10) +
			", alert_count = (SELECT COUNT(*) FROM workitem_alerts wa WHERE wa.workitem_id = workitems.id)"
	}
	return ing.updateFrom(ctx, len(ids), "CAST(? AS BIGINT) AS id, CAST(? AS BIGINT) AS seen",
		func(i int) []any { return []any{ids[i], seen[ids[i]]} },
		`UPDATE workitems SET
		    last_seen = CASE WHEN v.seen > workitems.last_seen THEN v.seen ELSE workitems.last_seen END`+set+`
		    FROM (%s) AS v WHERE workitems.id = v.id`, "touch work items")
}

// updateFrom runs update, an UPDATE … FROM (%s) AS v statement, over n
// rows of values in chunks: row i's values are rowArgs(i), selected as
// cols. One statement per chunk instead of one per row; the few fixed
// chunk sizes keep the prepared statements few.
func (ing *ingester) updateFrom(ctx context.Context, n int, cols string, rowArgs func(i int) []any, update, what string) error {
	for start := 0; start < n; {
		size := chunkSize(n - start)
		var sb strings.Builder
		var args []any
		for i := start; i < start+size; i++ {
			if i > start {
				sb.WriteString(" UNION ALL ")
			}
			sb.WriteString("SELECT " + cols)
			args = append(args, rowArgs(i)...)
		}
		if _, err := ing.db.exec(ctx, ing.tx, fmt.Sprintf(update, sb.String()), args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		start += size
	}
	return nil
}

// applyRaises raises item severities to those of alerts that fired
// higher.
func (ing *ingester) applyRaises(ctx context.Context) error {
	for _, r := range ing.raises {
		if err := ing.db.raiseSeverity(ctx, ing.tx, ing.actor, r.itemID, r.from, r.to,
			fmt.Sprintf("alert %d fired at %s", r.alertID, r.to), map[string]any{"alert_id": r.alertID}, ing.now); err != nil {
			return err
		}
	}
	return nil
}

// refreshSearch recomputes the key entity and search text of items that
// gained alerts from another source (an incident's item).
func (ing *ingester) refreshSearch(ctx context.Context) error {
	for _, id := range sortedIDs(ing.searchAdd) {
		if err := ing.db.refreshItemSearch(ctx, ing.tx, id); err != nil {
			return err
		}
	}
	return nil
}

// settleItems keeps source_resolved_at in step for items whose alerts
// went from open to settled at their source or back, and reports the
// items this batch left wholly resolved there.
func (ing *ingester) settleItems(ctx context.Context) (map[int64]bool, error) {
	return ing.db.settleItems(ctx, ing.tx, ing.actor, sortedIDs(ing.statusMoved), ing.now)
}

func sortedIDs(m map[int64]bool) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (ing *ingester) addVersion(a *Prepared, r IngestResult) {
	ing.versions.add(r.AlertID, r.Version, ing.now, a.Title, a.Description, string(a.Severity), string(a.Status), a.entities,
		us(a.LastSeen), a.raw)
}

// entryData is the structured part of an ingest timeline entry.
type entryData struct {
	AlertID    int64  `json:"alert_id"`
	Version    int    `json:"version,omitempty"`
	Source     string `json:"source,omitempty"`
	SourceID   string `json:"source_id,omitempty"`
	PreviousID int64  `json:"previous_id,omitempty"`
	NextID     int64  `json:"next_id,omitempty"`
	IncidentID int64  `json:"incident_id,omitempty"`
}

func (ing *ingester) addEntry(itemID int64, kind, msg string, d entryData) {
	b, _ := json.Marshal(d) // a struct of strings and ints always marshals
	ing.entries.add(itemID, ing.now, ing.actor, kind, msg, "", string(b))
}
