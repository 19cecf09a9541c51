package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Page states.
const (
	PageTriggered    = "triggered"
	PageAcknowledged = "acknowledged"
	PageResolved     = "resolved"
)

// Page is the on-call side of one work item: who is being notified, at
// which step of the service's escalation policy, until someone
// acknowledges it.
type Page struct {
	ID         int64      `json:"id"`
	Service    string     `json:"service"`
	WorkItemID int64      `json:"workitem_id"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity"`
	GroupKey   string     `json:"group_key,omitempty"`
	State      string     `json:"state"`
	Urgency    string     `json:"urgency"`
	Step       int        `json:"step"`
	Rounds     int        `json:"rounds"`
	NextAt     *time.Time `json:"next_at,omitempty"`
	AckBy      string     `json:"ack_by,omitempty"`
	AckAt      *time.Time `json:"ack_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Alerts     int        `json:"alerts"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Open reports whether the page still wants attention or an ack.
func (p Page) Open() bool { return p.State != PageResolved }

// PageEffects are what a page change writes with it, in its transaction:
// notifications to queue (the outbox), timeline entries on its item, and
// whether the page's pending notifications are cancelled (an ack or a
// resolve stops the ones still waiting for their delay).
type PageEffects struct {
	Messages      []outbox.Message
	Entries       []workitem.Entry
	CancelPending bool
}

const pageCols = `p.id, p.service, p.workitem_id, w.title, w.severity, p.group_key, p.state, p.urgency, p.step, p.rounds, p.next_at,
    p.ack_by, p.ack_at, p.resolved_at, p.alerts, p.created_at, p.updated_at`

func scanPage(s scanner) (Page, error) {
	var p Page
	var next, ack, resolved sql.NullInt64
	var created, updated int64
	err := s.Scan(&p.ID, &p.Service, &p.WorkItemID, &p.Title, &p.Severity, &p.GroupKey, &p.State, &p.Urgency, &p.Step, &p.Rounds, &next,
		&p.AckBy, &ack, &resolved, &p.Alerts, &created, &updated)
	p.NextAt, p.AckAt, p.ResolvedAt = optTime(next), optTime(ack), optTime(resolved)
	p.CreatedAt, p.UpdatedAt = fromUS(created), fromUS(updated)
	return p, err
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

func optUS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return us(*t)
}

// CreatePage opens a page for p.WorkItemID with its first effects, in one
// transaction. An item has at most one open page: when it already has
// one, nothing is written and that page is returned with created false.
// build receives the new page's id (for the notifications' idempotency
// keys and links) and returns the effects.
func (db *DB) CreatePage(ctx context.Context, p Page, build func(Page) (PageEffects, error)) (Page, bool, error) {
	now := db.clock.Now()
	created := false
	var id int64
	err := db.tx(ctx, func(tx dbtx) error {
		created = false
		err := tx.QueryRowContext(ctx, db.q(`SELECT id FROM pages WHERE workitem_id = ? AND state <> 'resolved'`), p.WorkItemID).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO pages (service, workitem_id, group_key, state, urgency, step, rounds, next_at,
		    alerts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 1, ?, ?) RETURNING id`),
			p.Service, p.WorkItemID, p.GroupKey, p.State, p.Urgency, p.Step, optUS(p.NextAt), us(now), us(now)).Scan(&id); err != nil {
			if isUnique(err) { // another instance opened it first
				return tx.QueryRowContext(ctx, db.q(`SELECT id FROM pages WHERE workitem_id = ? AND state <> 'resolved'`), p.WorkItemID).Scan(&id)
			}
			return fmt.Errorf("insert page: %w", err)
		}
		created = true
		p.ID, p.CreatedAt, p.UpdatedAt = id, now, now
		eff, err := build(p)
		if err != nil {
			return err
		}
		return db.writePageEffects(ctx, tx, p, eff)
	})
	if err != nil {
		return Page{}, false, fmt.Errorf("open page for item %d: %w", p.WorkItemID, err)
	}
	got, err := db.GetPage(ctx, id)
	return got, created, err
}

// UpdatePage changes a page under a row lock: fn sees the page as stored
// and changes it in place; its effects are written in the same
// transaction. fn returning errNoChange (ErrPageUnchanged) writes nothing.
func (db *DB) UpdatePage(ctx context.Context, id int64, fn func(*Page) (PageEffects, error)) (Page, error) {
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE OF p"
	}
	err := db.tx(ctx, func(tx dbtx) error {
		p, err := scanPage(tx.QueryRowContext(ctx, db.q(`SELECT `+pageCols+` FROM pages p JOIN workitems w ON w.id = p.workitem_id WHERE p.id = ?`+lock), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("page %d: %w", id, validation.ErrNotFound)
		}
		if err != nil {
			return err
		}
		eff, err := fn(&p)
		if errors.Is(err, ErrPageUnchanged) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE pages SET state = ?, urgency = ?, step = ?, rounds = ?, next_at = ?, ack_by = ?, ack_at = ?,
		    resolved_at = ?, alerts = ?, updated_at = ? WHERE id = ?`), p.State, p.Urgency, p.Step, p.Rounds, optUS(p.NextAt), p.AckBy,
			optUS(p.AckAt), optUS(p.ResolvedAt), p.Alerts, us(db.clock.Now()), id); err != nil {
			return fmt.Errorf("update page %d: %w", id, err)
		}
		return db.writePageEffects(ctx, tx, p, eff)
	})
	if err != nil {
		return Page{}, err
	}
	return db.GetPage(ctx, id)
}

// ErrPageUnchanged tells UpdatePage that there is nothing to write.
var ErrPageUnchanged = errors.New("page unchanged")

func (db *DB) writePageEffects(ctx context.Context, tx dbtx, p Page, eff PageEffects) error {
	if eff.CancelPending {
		// A notification still waiting for its delay is not sent once
		// someone has acknowledged or the page is resolved.
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE outbox SET state = ?, updated_at = ? WHERE state = ? AND idem_key LIKE ?`),
			outbox.Cancelled, us(db.clock.Now()), outbox.Pending, PageIdemPrefix(p.ID)+"%"); err != nil {
			return fmt.Errorf("cancel page %d's notifications: %w", p.ID, err)
		}
	}
	if _, err := db.enqueue(ctx, tx, p.WorkItemID, eff.Messages); err != nil {
		return err
	}
	for _, e := range eff.Entries {
		if _, err := db.insertEntry(ctx, tx, p.WorkItemID, e); err != nil {
			return err
		}
	}
	return nil
}

// PageIdemPrefix starts the idempotency key of every notification of a
// page, so that they can be cancelled together.
func PageIdemPrefix(pageID int64) string { return "notify:page-" + strconv.FormatInt(pageID, 10) + "." }

// GetPage returns one page.
func (db *DB) GetPage(ctx context.Context, id int64) (Page, error) {
	p, err := scanPage(db.r.QueryRowContext(ctx, db.q(`SELECT `+pageCols+` FROM pages p JOIN workitems w ON w.id = p.workitem_id WHERE p.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, fmt.Errorf("page %d: %w", id, validation.ErrNotFound)
	}
	return p, err
}

// OpenPageForItem returns the item's open page, if it has one.
func (db *DB) OpenPageForItem(ctx context.Context, itemID int64) (Page, bool, error) {
	p, err := scanPage(db.r.QueryRowContext(ctx, db.q(`SELECT `+pageCols+` FROM pages p JOIN workitems w ON w.id = p.workitem_id
	    WHERE p.workitem_id = ? AND p.state <> 'resolved'`), itemID))
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, false, nil
	}
	return p, err == nil, err
}

// OpenPageInGroup returns the service's open page with the group key
// created since since, to join an alert of the same group to it.
func (db *DB) OpenPageInGroup(ctx context.Context, service, groupKey string, since time.Time) (Page, bool, error) {
	p, err := scanPage(db.r.QueryRowContext(ctx, db.q(`SELECT `+pageCols+` FROM pages p JOIN workitems w ON w.id = p.workitem_id
	    WHERE p.service = ? AND p.group_key = ? AND p.state <> 'resolved' AND p.created_at >= ? ORDER BY p.id DESC LIMIT 1`), service, groupKey, us(since)))
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, false, nil
	}
	return p, err == nil, err
}

// PageFilter selects pages to list.
type PageFilter struct {
	States []string
	// User keeps the pages that are theirs: acknowledged by them, on an
	// item assigned to them, or that notified one of their contact methods.
	User  string
	After int64 // id cursor
	Limit int
}

// ListPages returns pages newest first.
func (db *DB) ListPages(ctx context.Context, f PageFilter) ([]Page, error) {
	q := `SELECT ` + pageCols + ` FROM pages p JOIN workitems w ON w.id = p.workitem_id WHERE 1 = 1`
	var args []any
	if len(f.States) > 0 {
		q += ` AND p.state IN (` + placeholders(len(f.States)) + `)`
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	if f.User != "" {
		q += ` AND (p.ack_by = ? OR w.assignee = ? OR EXISTS (SELECT 1 FROM outbox o JOIN contact_methods c ON o.resource = 'contact_method:' || c.id
		    WHERE c.user_email = ? AND o.target = 'notify' AND o.idem_key LIKE 'notify:page-' || p.id || '.%'))`
		args = append(args, f.User, f.User, f.User)
	}
	if f.After > 0 {
		q += ` AND p.id < ?`
		args = append(args, f.After)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += ` ORDER BY p.id DESC LIMIT ` + strconv.Itoa(f.Limit)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list pages: %w", err)
	}
	defer rows.Close()
	out := []Page{}
	for rows.Next() {
		p, err := scanPage(rows)
		if err != nil {
			return nil, fmt.Errorf("list pages: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DuePages returns the ids of triggered pages whose next escalation is
// due, oldest first.
func (db *DB) DuePages(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id FROM pages WHERE next_at IS NOT NULL AND next_at <= ? AND state = ?
	    ORDER BY next_at LIMIT ?`), us(now), PageTriggered, limit)
	if err != nil {
		return nil, fmt.Errorf("due pages: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// PageWebhooks returns the webhook contact methods a page has notified,
// for the updates that follow (acknowledged, resolved).
func (db *DB) PageWebhooks(ctx context.Context, pageID int64) ([]ContactMethod, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT DISTINCT resource FROM outbox WHERE target = 'notify' AND op = 'notify.webhook'
	    AND idem_key LIKE ?`), PageIdemPrefix(pageID)+"%")
	if err != nil {
		return nil, fmt.Errorf("page %d's webhooks: %w", pageID, err)
	}
	var ids []int64
	for rows.Next() {
		var res string
		if err := rows.Scan(&res); err != nil {
			rows.Close()
			return nil, err
		}
		if id, err := strconv.ParseInt(strings.TrimPrefix(res, "contact_method:"), 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []ContactMethod{}
	for _, id := range ids {
		c, err := db.GetContactMethod(ctx, id)
		if errors.Is(err, validation.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
