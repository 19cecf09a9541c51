package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// NotificationLogEntry is one notification's delivery record.
type NotificationLogEntry struct {
	ID              string     `json:"id"`
	ContactMethodID int64      `json:"contact_method_id"`
	User            string     `json:"user"`
	Channel         string     `json:"channel"`
	Kind            string     `json:"kind"`
	PageID          int64      `json:"page_id,omitempty"`
	WorkItemID      int64      `json:"workitem_id,omitempty"`
	Provider        string     `json:"provider"`
	ProviderID      string     `json:"provider_id,omitempty"`
	Status          string     `json:"status"`
	Error           string     `json:"error,omitempty"`
	Attempts        int        `json:"attempts"`
	SendTime        float64    `json:"send_ms"` // the last attempt's duration
	CreatedAt       time.Time  `json:"created_at"`
	SentAt          *time.Time `json:"sent_at,omitempty"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// statusRank orders delivery statuses: a late callback ("sent" after
// "delivered") must not move a notification backwards.
var statusRank = map[string]int{"retrying": 0, "sent": 1, "delivered": 2, "undelivered": 3, "failed": 3}

// RecordSend records one send attempt of a notification.
func (db *DB) RecordSend(ctx context.Context, e NotificationLogEntry, took time.Duration) error {
	now := us(db.clock.Now())
	var sent any
	if e.Status == "sent" {
		sent = now
	}
	return db.tx(ctx, func(tx dbtx) error {
		_, err := db.exec(ctx, tx, `INSERT INTO notification_log (id, contact_method_id, user_email, channel, kind, page_id, workitem_id,
		        provider, provider_id, status, error, attempts, send_us, created_at, sent_at, updated_at)
		    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
		    ON CONFLICT (id) DO UPDATE SET provider = excluded.provider,
		        provider_id = CASE WHEN excluded.provider_id <> '' THEN excluded.provider_id ELSE notification_log.provider_id END,
		        status = CASE WHEN notification_log.status IN ('delivered', 'undelivered') THEN notification_log.status ELSE excluded.status END,
		        error = excluded.error, attempts = notification_log.attempts + 1, send_us = excluded.send_us,
		        sent_at = COALESCE(notification_log.sent_at, excluded.sent_at), updated_at = excluded.updated_at`,
			e.ID, e.ContactMethodID, e.User, e.Channel, e.Kind, e.PageID, e.WorkItemID, e.Provider, e.ProviderID,
			e.Status, e.Error, took.Microseconds(), now, sent, now)
		if err != nil {
			return fmt.Errorf("notification log %s: %w", e.ID, err)
		}
		return nil
	})
}

// DeliveryStatus applies a provider's delivery callback to the
// notification it sent as providerID. It returns the entry and whether
// the status moved forward; an unknown id is validation.ErrNotFound.
func (db *DB) DeliveryStatus(ctx context.Context, provider, providerID, status, errText string) (NotificationLogEntry, bool, error) {
	rank, ok := statusRank[status]
	if !ok {
		return NotificationLogEntry{}, false, validation.NewFieldError("status", "unknown delivery status %q", status)
	}
	var e NotificationLogEntry
	moved := false
	err := db.tx(ctx, func(tx dbtx) error {
		var err error
		e, err = scanNotification(db.queryRow(ctx, tx, `SELECT `+notificationCols+` FROM notification_log
		    WHERE provider = ? AND provider_id = ?`, provider, providerID))
		if err != nil {
			return err
		}
		if statusRank[e.Status] >= rank && e.Status != "retrying" {
			return nil
		}
		now := db.clock.Now()
		if _, err := db.exec(ctx, tx, `UPDATE notification_log SET status = ?, error = ?, updated_at = ? WHERE id = ?`,
			status, errText, us(now), e.ID); err != nil {
			return fmt.Errorf("notification log %s: %w", e.ID, err)
		}
		e.Status, e.Error, e.UpdatedAt, moved = status, errText, now, true
		return nil
	})
	return e, moved, err
}

const notificationCols = `id, contact_method_id, user_email, channel, kind, page_id, workitem_id, provider, provider_id,
    status, error, attempts, send_us, created_at, sent_at, updated_at`

func scanNotification(row scanner) (NotificationLogEntry, error) {
	var e NotificationLogEntry
	var sendUS, created, updated int64
	var sent sql.NullInt64
	err := row.Scan(&e.ID, &e.ContactMethodID, &e.User, &e.Channel, &e.Kind, &e.PageID, &e.WorkItemID, &e.Provider,
		&e.ProviderID, &e.Status, &e.Error, &e.Attempts, &sendUS, &created, &sent, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("notification: %w", validation.ErrNotFound)
	}
	if err != nil {
		return e, err
	}
	e.SendTime = float64(sendUS) / 1000
	e.CreatedAt, e.UpdatedAt = fromUS(created), fromUS(updated)
	if sent.Valid {
		t := fromUS(sent.Int64)
		e.SentAt = &t
	}
	return e, nil
}

// NotificationFilter selects notification log entries; zero fields match all.
type NotificationFilter struct {
	PageID int64
	User   string
	Limit  int
}

// NotificationLog lists notifications, newest first.
func (db *DB) NotificationLog(ctx context.Context, f NotificationFilter) ([]NotificationLogEntry, error) {
	q := `SELECT ` + notificationCols + ` FROM notification_log WHERE 1 = 1`
	var args []any
	if f.PageID != 0 {
		q += ` AND page_id = ?`
		args = append(args, f.PageID)
	}
	if f.User != "" {
		q += ` AND user_email = ?`
		args = append(args, f.User)
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id LIMIT %d`, f.Limit)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("notification log: %w", err)
	}
	defer rows.Close()
	var out []NotificationLogEntry
	for rows.Next() {
		e, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FirstInbound records an inbound provider request by its key and
// reports whether it is the first time: false is a replay.
func (db *DB) FirstInbound(ctx context.Context, provider, key string) (bool, error) {
	first := false
	err := db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, `INSERT INTO inbound_seen (provider, seen_key, seen_at) VALUES (?, ?, ?)
		    ON CONFLICT (provider, seen_key) DO NOTHING`, provider, key, us(db.clock.Now()))
		if err != nil {
			return fmt.Errorf("inbound %s %s: %w", provider, key, err)
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}

// ContactMethodsByValue returns the verified contact methods of a type
// with this value (a phone number an SMS reply came from).
func (db *DB) ContactMethodsByValue(ctx context.Context, typ, value string) ([]ContactMethod, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+contactCols+` FROM contact_methods
	    WHERE type = ? AND value = ? AND verified_at IS NOT NULL ORDER BY id`), typ, value)
	if err != nil {
		return nil, fmt.Errorf("contact methods by value: %w", err)
	}
	defer rows.Close()
	var out []ContactMethod
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SentSince counts the notifications sent to a contact method, and on a
// channel, since a time: the rate limits' windows. A send is counted
// when its attempt was recorded as sent. Verification codes do not count
// toward a contact method's limit: the person asked for them.
func (db *DB) SentSince(ctx context.Context, contactMethodID int64, channel string, since time.Time) (toMethod, onChannel int, err error) {
	err = db.r.QueryRowContext(ctx, db.q(`SELECT
	        (SELECT COUNT(*) FROM notification_log WHERE contact_method_id = ? AND sent_at >= ? AND kind <> 'verify'),
	        (SELECT COUNT(*) FROM notification_log WHERE channel = ? AND sent_at >= ?)`),
		contactMethodID, us(since), channel, us(since)).Scan(&toMethod, &onChannel)
	if err != nil {
		return 0, 0, fmt.Errorf("sent since: %w", err)
	}
	return toMethod, onChannel, nil
}

// LastSent returns when the n-th most recent notification to a contact
// method was sent (n from 1), or the zero time: a rate limit's window
// reopens that long after it.
func (db *DB) LastSent(ctx context.Context, contactMethodID int64, n int) (time.Time, error) {
	var at sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(fmt.Sprintf(`SELECT sent_at FROM notification_log
	    WHERE contact_method_id = ? AND sent_at IS NOT NULL AND kind <> 'verify' ORDER BY sent_at DESC LIMIT 1 OFFSET %d`, max(n-1, 0))), contactMethodID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) || !at.Valid {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last sent: %w", err)
	}
	return fromUS(at.Int64), nil
}

// PruneInbound forgets inbound requests seen before a time; it returns
// how many.
func (db *DB) PruneInbound(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, `DELETE FROM inbound_seen WHERE seen_at < ?`, us(before))
		if err != nil {
			return fmt.Errorf("prune inbound: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
