package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// UpdateWorkItemEffects is UpdateWorkItem whose fn also returns outbox
// messages: they are written in the same transaction as the item's change,
// so a write-back exists if and only if the change committed.
func (db *DB) UpdateWorkItemEffects(ctx context.Context, id int64,
	fn func(*workitem.Item) ([]workitem.Entry, []outbox.Message, error)) (workitem.Item, error) {
	var msgs []outbox.Message
	return db.updateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) {
		entries, m, err := fn(it)
		msgs = m
		return entries, err
	}, func(tx dbtx) error {
		_, err := db.enqueue(ctx, tx, id, msgs)
		return err
	})
}

// enqueue writes messages inside tx. A message whose idempotency key is
// already queued is skipped: the same logical write is never sent twice.
// It reports how many were new.
func (db *DB) enqueue(ctx context.Context, tx dbtx, itemID int64, msgs []outbox.Message) (int, error) {
	now := us(db.clock.Now())
	queued := 0
	for _, m := range msgs {
		if m.Target == "" || m.Op == "" || m.Resource == "" || m.IdemKey == "" {
			return queued, fmt.Errorf("outbox message needs target, op, resource and idem_key: %+v", m)
		}
		payload := string(m.Payload)
		if payload == "" {
			payload = "{}"
		}
		var wid any
		if itemID != 0 {
			wid = itemID
		} else if m.WorkItemID != 0 {
			wid = m.WorkItemID
		}
		// A message may be due later (a notification rule's "SMS after 2
		// minutes"); it waits in the outbox, durable and cancellable.
		next := now
		if !m.NextAt.IsZero() {
			next = max(now, us(m.NextAt))
		}
		res, err := db.exec(ctx, tx, `INSERT INTO outbox (workitem_id, target, op, resource, payload, idem_key, state, next_at, created_at, updated_at)
		    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING`,
			wid, m.Target, m.Op, m.Resource, payload, m.IdemKey, outbox.Pending, next, now, now)
		if err != nil {
			return queued, fmt.Errorf("enqueue %s %s: %w", m.Op, m.Resource, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			queued++
		}
	}
	return queued, nil
}

const outboxColumns = `id, COALESCE(workitem_id, 0), target, op, resource, payload, idem_key, state, attempts, next_at,
    last_error, created_at, updated_at, COALESCE(done_at, 0)`

func scanOutbox(s scanner) (outbox.Message, error) {
	var m outbox.Message
	var payload string
	var next, created, updated, done int64
	err := s.Scan(&m.ID, &m.WorkItemID, &m.Target, &m.Op, &m.Resource, &payload, &m.IdemKey, &m.State, &m.Attempts, &next,
		&m.LastError, &created, &updated, &done)
	m.Payload = []byte(payload)
	m.NextAt, m.CreatedAt, m.UpdatedAt = fromUS(next), fromUS(created), fromUS(updated)
	if done != 0 {
		t := fromUS(done)
		m.DoneAt = &t
	}
	return m, err
}

// ClaimOutbox leases up to limit due pending messages for lease: another
// sender (another instance on PostgreSQL) skips them until the lease runs
// out, so a message is sent by one sender at a time, and a sender that
// dies mid-send leaves it to be claimed again when the lease expires.
func (db *DB) ClaimOutbox(ctx context.Context, lease time.Duration, limit int) ([]outbox.Message, error) {
	var out []outbox.Message
	err := db.tx(ctx, func(tx dbtx) error {
		now := us(db.clock.Now())
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, db.q(fmt.Sprintf(`SELECT `+outboxColumns+` FROM outbox
		    WHERE state = ? AND next_at <= ? AND lease_until <= ? ORDER BY id LIMIT %d`+lock, limit)), outbox.Pending, now, now)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		for rows.Next() {
			m, err := scanOutbox(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range out {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE outbox SET lease_until = ? WHERE id = ?`), now+lease.Microseconds(), m.ID); err != nil {
				return fmt.Errorf("lease outbox %d: %w", m.ID, err)
			}
		}
		return nil
	})
	return out, err
}

// CompleteOutbox marks a message delivered.
func (db *DB) CompleteOutbox(ctx context.Context, id int64) error {
	now := us(db.clock.Now())
	return db.setOutbox(ctx, id, `UPDATE outbox SET state = ?, attempts = attempts + 1, lease_until = 0, last_error = '',
	    updated_at = ?, done_at = ? WHERE id = ?`, outbox.Done, now, now, id)
}

// RescheduleOutbox records a failed attempt and when to try again.
func (db *DB) RescheduleOutbox(ctx context.Context, id int64, next time.Time, errText string) error {
	return db.setOutbox(ctx, id, `UPDATE outbox SET attempts = attempts + 1, next_at = ?, lease_until = 0, last_error = ?,
	    updated_at = ? WHERE id = ?`, us(next), errText, us(db.clock.Now()), id)
}

// DeferOutbox moves a message's next attempt without counting one.
func (db *DB) DeferOutbox(ctx context.Context, id int64, next time.Time, reason string) error {
	return db.setOutbox(ctx, id, `UPDATE outbox SET next_at = ?, lease_until = 0, last_error = ?, updated_at = ? WHERE id = ?`,
		us(next), reason, us(db.clock.Now()), id)
}

// PendingOutbox lists the pending messages of one target and resource
// (the notifications waiting for one contact method), oldest first.
func (db *DB) PendingOutbox(ctx context.Context, target, resource string) ([]outbox.Message, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+outboxColumns+` FROM outbox
	    WHERE state = ? AND target = ? AND resource = ? ORDER BY id LIMIT 100`), outbox.Pending, target, resource)
	if err != nil {
		return nil, fmt.Errorf("pending outbox: %w", err)
	}
	defer rows.Close()
	var out []outbox.Message
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// FailOutbox gives up on a message; it stays visible with its error.
func (db *DB) FailOutbox(ctx context.Context, id int64, errText string) error {
	return db.setOutbox(ctx, id, `UPDATE outbox SET state = ?, attempts = attempts + 1, lease_until = 0, last_error = ?,
	    updated_at = ? WHERE id = ?`, outbox.Failed, errText, us(db.clock.Now()), id)
}

// RetryOutboxNow makes a failed or waiting message due now ("retry now").
func (db *DB) RetryOutboxNow(ctx context.Context, id int64) error {
	now := us(db.clock.Now())
	return db.setOutbox(ctx, id, `UPDATE outbox SET state = ?, next_at = ?, lease_until = 0, updated_at = ?
	    WHERE id = ? AND state <> 'done'`, outbox.Pending, now, now, id)
}

func (db *DB) setOutbox(ctx context.Context, id int64, query string, args ...any) error {
	return db.tx(ctx, func(tx dbtx) error {
		res, err := tx.ExecContext(ctx, db.q(query), args...)
		if err != nil {
			return fmt.Errorf("update outbox %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("outbox message %d: %w", id, validation.ErrNotFound)
		}
		return nil
	})
}

// ListOutbox lists messages, newest first, filtered by state and item
// (empty and 0 match all), after the keyset cursor after (0 for the first
// page).
func (db *DB) ListOutbox(ctx context.Context, state string, itemID, after int64, limit int) ([]outbox.Message, error) {
	var c conds
	c.eq("state", state)
	if itemID != 0 {
		c.add("workitem_id = ?", itemID)
	}
	c.before(after)
	return queryAll(ctx, db, "outbox", c.page(outboxColumns, "outbox", limit), c.args, scanOutbox)
}

// GetOutbox returns one message.
func (db *DB) GetOutbox(ctx context.Context, id int64) (outbox.Message, error) {
	m, err := scanOutbox(db.r.QueryRowContext(ctx, db.q(`SELECT `+outboxColumns+` FROM outbox WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("outbox message %d: %w", id, validation.ErrNotFound)
	}
	return m, err
}

// AppendTimeline adds one entry to an item's timeline, for decisions taken
// outside a change of the item (a write-back's outcome, a reconciliation).
func (db *DB) AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error {
	return db.tx(ctx, func(tx dbtx) error {
		_, err := db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: kind, Message: message, Data: data})
		return err
	})
}
