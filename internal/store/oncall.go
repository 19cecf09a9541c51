package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// OnCallDef is one stored on-call definition: a schedule, an escalation
// policy, a service or a team, as JSON its package decodes.
type OnCallDef struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Definition json.RawMessage `json:"definition"`
	Version    int             `json:"version"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	UpdatedBy  string          `json:"updated_by"`
}

// PutOnCallDef creates or replaces the definition of kind and name. It
// reports whether it was created.
func (db *DB) PutOnCallDef(ctx context.Context, kind, name string, def json.RawMessage, actor string) (OnCallDef, bool, error) {
	now := us(db.clock.Now())
	var created bool
	err := db.tx(ctx, func(tx dbtx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE oncall_defs SET definition = ?, version = version + 1, updated_at = ?, updated_by = ?
		    WHERE kind = ? AND name = ?`), string(def), now, actor, kind, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		created = true
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO oncall_defs (kind, name, definition, version, created_at, updated_at, updated_by)
		    VALUES (?, ?, ?, 1, ?, ?, ?)`), kind, name, string(def), now, now, actor)
		return err
	})
	if err != nil {
		return OnCallDef{}, false, fmt.Errorf("save %s %q: %w", kind, name, err)
	}
	d, err := db.GetOnCallDef(ctx, kind, name)
	return d, created, err
}

const onCallDefCols = `id, kind, name, definition, version, created_at, updated_at, updated_by`

func scanOnCallDef(s scanner) (OnCallDef, error) {
	var d OnCallDef
	var def string
	var created, updated int64
	err := s.Scan(&d.ID, &d.Kind, &d.Name, &def, &d.Version, &created, &updated, &d.UpdatedBy)
	d.Definition, d.CreatedAt, d.UpdatedAt = json.RawMessage(def), fromUS(created), fromUS(updated)
	return d, err
}

// GetOnCallDef returns one definition, or a not-found error.
func (db *DB) GetOnCallDef(ctx context.Context, kind, name string) (OnCallDef, error) {
	d, err := scanOnCallDef(db.r.QueryRowContext(ctx, db.q(`SELECT `+onCallDefCols+` FROM oncall_defs WHERE kind = ? AND name = ?`), kind, name))
	if errors.Is(err, sql.ErrNoRows) {
		return OnCallDef{}, fmt.Errorf("%s %q: %w", kind, name, validation.ErrNotFound)
	}
	if err != nil {
		return OnCallDef{}, fmt.Errorf("get %s %q: %w", kind, name, err)
	}
	return d, nil
}

// ListOnCallDefs returns the definitions of a kind by name.
func (db *DB) ListOnCallDefs(ctx context.Context, kind string) ([]OnCallDef, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+onCallDefCols+` FROM oncall_defs WHERE kind = ? ORDER BY name`), kind)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	defer rows.Close()
	out := []OnCallDef{}
	for rows.Next() {
		d, err := scanOnCallDef(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteOnCallDef deletes one definition.
func (db *DB) DeleteOnCallDef(ctx context.Context, kind, name string) error {
	return db.tx(ctx, func(tx dbtx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM oncall_defs WHERE kind = ? AND name = ?`), kind, name)
		if err != nil {
			return fmt.Errorf("delete %s %q: %w", kind, name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s %q: %w", kind, name, validation.ErrNotFound)
		}
		return nil
	})
}

// ContactMethod is how a user is reached: an email address or a webhook.
type ContactMethod struct {
	ID         int64      `json:"id"`
	User       string     `json:"user"`
	Type       string     `json:"type"`
	Value      string     `json:"value"`
	Name       string     `json:"name"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Verified reports whether the method may be used for pages.
func (c ContactMethod) Verified() bool { return c.VerifiedAt != nil }

// AddContactMethod stores an unverified contact method with the hash of
// its verification code.
func (db *DB) AddContactMethod(ctx context.Context, c ContactMethod, codeHash string, codeExpires time.Time) (ContactMethod, error) {
	now := db.clock.Now()
	err := db.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO contact_methods (user_email, type, value, name, code_hash, code_expires, created_at)
		    VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), c.User, c.Type, c.Value, c.Name, codeHash, us(codeExpires), us(now)).Scan(&c.ID)
	})
	if isUnique(err) {
		return ContactMethod{}, &validation.ConflictError{Message: fmt.Sprintf("%s already has the %s contact method %s", c.User, c.Type, c.Value)}
	}
	if err != nil {
		return ContactMethod{}, fmt.Errorf("add contact method: %w", err)
	}
	c.CreatedAt = now
	return c, nil
}

const contactCols = `id, user_email, type, value, name, verified_at, created_at`

func scanContact(s scanner) (ContactMethod, error) {
	var c ContactMethod
	var verified sql.NullInt64
	var created int64
	err := s.Scan(&c.ID, &c.User, &c.Type, &c.Value, &c.Name, &verified, &created)
	if verified.Valid {
		t := fromUS(verified.Int64)
		c.VerifiedAt = &t
	}
	c.CreatedAt = fromUS(created)
	return c, err
}

// ContactMethods returns a user's contact methods ("" for everyone's).
func (db *DB) ContactMethods(ctx context.Context, user string) ([]ContactMethod, error) {
	q, args := `SELECT `+contactCols+` FROM contact_methods ORDER BY id`, []any{}
	if user != "" {
		q, args = `SELECT `+contactCols+` FROM contact_methods WHERE user_email = ? ORDER BY id`, []any{user}
	}
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("contact methods: %w", err)
	}
	defer rows.Close()
	out := []ContactMethod{}
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("contact methods: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetContactMethod returns one contact method.
func (db *DB) GetContactMethod(ctx context.Context, id int64) (ContactMethod, error) {
	c, err := scanContact(db.r.QueryRowContext(ctx, db.q(`SELECT `+contactCols+` FROM contact_methods WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return ContactMethod{}, fmt.Errorf("contact method %d: %w", id, validation.ErrNotFound)
	}
	return c, err
}

// VerifyContactMethod marks a method verified when codeHash is its
// unexpired code's hash. It reports whether it did.
func (db *DB) VerifyContactMethod(ctx context.Context, id int64, codeHash string) (bool, error) {
	now := us(db.clock.Now())
	var n int64
	err := db.tx(ctx, func(tx dbtx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE contact_methods SET verified_at = ?, code_hash = '', code_expires = NULL
		    WHERE id = ? AND code_hash = ? AND code_hash <> '' AND code_expires >= ?`), now, id, codeHash, now)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("verify contact method %d: %w", id, err)
	}
	return n == 1, nil
}

// SetContactMethodCode sets an unverified method's code hash and expiry.
func (db *DB) SetContactMethodCode(ctx context.Context, id int64, codeHash string, expires time.Time) error {
	return db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE contact_methods SET code_hash = ?, code_expires = ? WHERE id = ? AND verified_at IS NULL`),
			codeHash, us(expires), id)
		if err != nil {
			return fmt.Errorf("contact method %d code: %w", id, err)
		}
		return nil
	})
}

// DeleteContactMethod deletes a contact method and its notification rules.
func (db *DB) DeleteContactMethod(ctx context.Context, id int64) error {
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM notification_rules WHERE contact_method_id = ?`), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM contact_methods WHERE id = ?`), id)
		if err != nil {
			return fmt.Errorf("delete contact method %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("contact method %d: %w", id, validation.ErrNotFound)
		}
		return nil
	})
}

// NotificationRule says when a contact method is used once a user is
// paged: DelayMinutes after the page reaches them.
type NotificationRule struct {
	ID              int64  `json:"id"`
	User            string `json:"user"`
	ContactMethodID int64  `json:"contact_method_id"`
	DelayMinutes    int    `json:"delay_minutes"`
}

// SetNotificationRules replaces a user's notification rules.
func (db *DB) SetNotificationRules(ctx context.Context, user string, rules []NotificationRule) error {
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM notification_rules WHERE user_email = ?`), user); err != nil {
			return fmt.Errorf("notification rules: %w", err)
		}
		for _, r := range rules {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO notification_rules (user_email, contact_method_id, delay_minutes) VALUES (?, ?, ?)
			    ON CONFLICT DO NOTHING`), user, r.ContactMethodID, r.DelayMinutes); err != nil {
				return fmt.Errorf("notification rules: %w", err)
			}
		}
		return nil
	})
}

// NotificationRules returns the notification rules of the given users
// (every user's when none is given), by user, delay and id.
func (db *DB) NotificationRules(ctx context.Context, users ...string) ([]NotificationRule, error) {
	q := `SELECT id, user_email, contact_method_id, delay_minutes FROM notification_rules`
	args := make([]any, len(users))
	if len(users) > 0 {
		q += ` WHERE user_email IN (` + placeholders(len(users)) + `)`
		for i, u := range users {
			args[i] = u
		}
	}
	rows, err := db.r.QueryContext(ctx, db.q(q+` ORDER BY user_email, delay_minutes, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("notification rules: %w", err)
	}
	defer rows.Close()
	out := []NotificationRule{}
	for rows.Next() {
		var r NotificationRule
		if err := rows.Scan(&r.ID, &r.User, &r.ContactMethodID, &r.DelayMinutes); err != nil {
			return nil, fmt.Errorf("notification rules: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CalendarFeed is a secret iCalendar URL for a user's or a schedule's
// shifts; only its token's hash is stored.
type CalendarFeed struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"` // "user" or "schedule"
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// AddCalendarFeed stores a feed by its token's hash.
func (db *DB) AddCalendarFeed(ctx context.Context, tokenHash, kind, name, actor string) (CalendarFeed, error) {
	now := db.clock.Now()
	f := CalendarFeed{Kind: kind, Name: name, CreatedAt: now, CreatedBy: actor}
	err := db.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO calendar_feeds (token_hash, kind, name, created_at, created_by) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			tokenHash, kind, name, us(now), actor).Scan(&f.ID)
	})
	if err != nil {
		return CalendarFeed{}, fmt.Errorf("add calendar feed: %w", err)
	}
	return f, nil
}

// CalendarFeedByHash finds a feed by its token's hash.
func (db *DB) CalendarFeedByHash(ctx context.Context, tokenHash string) (CalendarFeed, error) {
	var f CalendarFeed
	var created int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, kind, name, created_at, created_by FROM calendar_feeds WHERE token_hash = ?`), tokenHash).
		Scan(&f.ID, &f.Kind, &f.Name, &created, &f.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return CalendarFeed{}, fmt.Errorf("calendar feed: %w", validation.ErrNotFound)
	}
	f.CreatedAt = fromUS(created)
	return f, err
}

// Beat records a heartbeat monitor's beat.
func (db *DB) Beat(ctx context.Context, name string) error {
	now := us(db.clock.Now())
	return db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO heartbeats (name, last_beat_at) VALUES (?, ?)
		    ON CONFLICT (name) DO UPDATE SET last_beat_at = excluded.last_beat_at`), name, now)
		if err != nil {
			return fmt.Errorf("heartbeat %s: %w", name, err)
		}
		return nil
	})
}

// Beats returns each heartbeat monitor's last beat.
func (db *DB) Beats(ctx context.Context) (map[string]time.Time, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT name, last_beat_at FROM heartbeats`))
	if err != nil {
		return nil, fmt.Errorf("heartbeats: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var n string
		var at int64
		if err := rows.Scan(&n, &at); err != nil {
			return nil, err
		}
		out[n] = fromUS(at)
	}
	return out, rows.Err()
}

// SelfAlert stores one of vigil's own alerts (self-monitoring), as the
// ingest would, when it changes the alert: a firing alert that is already
// open, or a resolution of one that is not, writes nothing (the monitors
// check every second). The zero result means nothing was written.
func (db *DB) SelfAlert(ctx context.Context, proc *workitem.Process, a alert.Alert) (IngestResult, error) {
	var status string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT status FROM alerts WHERE source = ? AND source_id = ?`), a.Source, a.SourceID).Scan(&status)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return IngestResult{}, fmt.Errorf("self alert %s: %w", a.SourceID, err)
	}
	open := known && alert.Status(status).Open()
	if a.Status.Open() == open || (!known && !a.Status.Open()) {
		return IngestResult{}, nil
	}
	if err := a.Normalize(db.clock.Now()); err != nil {
		return IngestResult{}, err
	}
	res, err := db.Ingest(ctx, proc, "vigil", []alert.Alert{a})
	if err != nil {
		return IngestResult{}, err
	}
	return res[0], nil
}

// SetEntraObjectID records the Entra ID object id a user signed in with.
func (db *DB) SetEntraObjectID(ctx context.Context, email, objectID string) error {
	return db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO entra_identities (email, object_id, updated_at) VALUES (?, ?, ?)
		    ON CONFLICT (email) DO UPDATE SET object_id = excluded.object_id, updated_at = excluded.updated_at`),
			strings.ToLower(email), objectID, us(db.clock.Now()))
		if err != nil {
			return fmt.Errorf("entra identity of %s: %w", email, err)
		}
		return nil
	})
}

// EntraObjectID returns the Entra ID object id a user last signed in
// with, "" when they never did.
func (db *DB) EntraObjectID(ctx context.Context, email string) (string, error) {
	var oid string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT object_id FROM entra_identities WHERE email = ?`), strings.ToLower(email)).Scan(&oid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return oid, err
}
