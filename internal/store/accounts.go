package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Session is a signed-in browser. Only the hash of its token is stored.
// Email, Name, Role and Disabled are the user's, read with the session, so
// that a change of role or a disabled account takes effect at once.
type Session struct {
	ID         int64
	Hash       string
	UserID     int64
	Email      string
	Name       string
	Role       auth.Role
	Disabled   bool
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
}

const sessionCols = `s.id, s.hash, s.user_id, u.email, u.name, u.role, u.disabled,
    s.created_at, s.last_seen_at, s.expires_at, s.user_agent, s.ip
    FROM sessions s JOIN users u ON u.id = s.user_id`

func scanSession(r scanner) (Session, error) {
	var s Session
	var role string
	var disabled int
	var created, seen, expires int64
	err := r.Scan(&s.ID, &s.Hash, &s.UserID, &s.Email, &s.Name, &role, &disabled,
		&created, &seen, &expires, &s.UserAgent, &s.IP)
	s.Role, s.Disabled = auth.Role(role), disabled != 0
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromUS(created), fromUS(seen), fromUS(expires)
	return s, err
}

// CreateSession stores a session for s.UserID under s.Hash and returns it
// with the user's fields filled in.
func (db *DB) CreateSession(ctx context.Context, s Session) (Session, error) {
	if s.Hash == "" {
		return Session{}, errors.New("create session: no hash")
	}
	var out Session
	err := db.tx(ctx, func(tx dbtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO sessions (hash, user_id, created_at, last_seen_at, expires_at, user_agent, ip)
		    VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			s.Hash, s.UserID, us(s.CreatedAt), us(s.LastSeenAt), us(s.ExpiresAt), s.UserAgent, s.IP).Scan(&id)
		if err != nil {
			return err
		}
		out, err = scanSession(tx.QueryRowContext(ctx, db.q(`SELECT `+sessionCols+` WHERE s.id = ?`), id))
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("create session for user %d: %w", s.UserID, err)
	}
	return out, nil
}

// SessionByHash finds a session by the hash of its token, expired or not:
// the caller decides what has expired.
func (db *DB) SessionByHash(ctx context.Context, hash string) (Session, error) {
	s, err := scanSession(db.r.QueryRowContext(ctx, db.q(`SELECT `+sessionCols+` WHERE s.hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, validation.ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	return s, nil
}

// TouchSession records that session id was used at lastSeen and moves its
// expiry.
func (db *DB) TouchSession(ctx context.Context, id int64, lastSeen, expires time.Time) error {
	n, err := db.execCount(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`, us(lastSeen), us(expires), id)
	if err != nil {
		return fmt.Errorf("touch session %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("touch session %d: %w", id, validation.ErrNotFound)
	}
	return nil
}

// DeleteSession ends the session with the token hash; ending one that does
// not exist is not an error.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := db.execCount(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := db.execCount(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions removes the sessions whose expiry is not after now
// and reports how many there were.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.execCount(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, us(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// execCount runs one statement in its own write transaction and returns
// the number of rows it affected.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx dbtx) error {
		res, err := db.exec(ctx, tx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

const userCols = `id, email, name, role, password_hash, external, disabled, created_at, last_login_at`

func scanUser(r scanner) (User, error) {
	var u User
	var role string
	var disabled int
	var created int64
	var login sql.NullInt64
	err := r.Scan(&u.ID, &u.Email, &u.Name, &role, &u.PasswordHash, &u.External, &disabled, &created, &login)
	u.Role, u.Disabled, u.CreatedAt = auth.Role(role), disabled != 0, fromUS(created)
	if login.Valid {
		t := fromUS(login.Int64)
		u.LastLoginAt = &t
	}
	return u, err
}

// ListUsers returns every user, by email.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// CountUsers reports how many users there are, disabled ones included.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// GetUser returns user id.
func (db *DB) GetUser(ctx context.Context, id int64) (User, error) {
	return db.userBy(ctx, "id", id)
}

// UserByExternal returns the user with the OpenID Connect identity
// external ("issuer|subject").
func (db *DB) UserByExternal(ctx context.Context, external string) (User, error) {
	if external == "" {
		return User{}, validation.ErrNotFound
	}
	return db.userBy(ctx, "external", external)
}

// userBy looks a user up by a unique column (a constant, never input).
func (db *DB) userBy(ctx context.Context, col string, v any) (User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE `+col+` = ?`), v))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s %v: %w", col, v, validation.ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

// UpdateUser changes user id with fn in one transaction. fn may change the
// role, name, password hash, external identity and disabled flag; the id,
// email and times stay as they are. A change that would leave no enabled
// admin is refused with a *validation.ConflictError, so that nobody can
// lock everyone out: the check runs inside the transaction, and on
// PostgreSQL the enabled admins' rows are locked first, so that two
// admins demoting each other at once cannot both succeed.
func (db *DB) UpdateUser(ctx context.Context, id int64, fn func(*User) error) (User, error) {
	var out User
	err := db.tx(ctx, func(tx dbtx) error {
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
			rows, err := tx.QueryContext(ctx, db.q(`SELECT id FROM users WHERE role = ? AND disabled = 0 ORDER BY id`+lock), string(auth.RoleAdmin))
			if err != nil {
				return fmt.Errorf("lock admins: %w", err)
			}
			for rows.Next() {
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("lock admins: %w", err)
			}
		}
		before, err := scanUser(tx.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE id = ?`+lock), id))
		if errors.Is(err, sql.ErrNoRows) {
			return validation.ErrNotFound
		}
		if err != nil {
			return err
		}
		u := before
		if err := fn(&u); err != nil {
			return err
		}
		u.ID, u.Email, u.CreatedAt, u.LastLoginAt = before.ID, before.Email, before.CreatedAt, before.LastLoginAt
		u.Name = strings.TrimSpace(u.Name)
		if _, err := auth.ParseRole(string(u.Role)); err != nil {
			return err
		}
		out = u
		if u == before {
			return nil
		}
		disabled := 0
		if u.Disabled {
			disabled = 1
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET role = ?, name = ?, password_hash = ?, external = ?, disabled = ? WHERE id = ?`),
			string(u.Role), u.Name, u.PasswordHash, u.External, disabled, id); err != nil {
			return err
		}
		if isEnabledAdmin(before) && !isEnabledAdmin(u) {
			var admins int
			if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0`), string(auth.RoleAdmin)).Scan(&admins); err != nil {
				return err
			}
			if admins == 0 {
				return &validation.ConflictError{Message: fmt.Sprintf("%s is the last enabled admin; make another user admin first", before.Email)}
			}
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	return out, nil
}

func isEnabledAdmin(u User) bool { return u.Role == auth.RoleAdmin && !u.Disabled }

// SetLastLogin records when a user last signed in.
func (db *DB) SetLastLogin(ctx context.Context, userID int64, at time.Time) error {
	n, err := db.execCount(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, us(at), userID)
	if err != nil {
		return fmt.Errorf("set last login of user %d: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("set last login of user %d: %w", userID, validation.ErrNotFound)
	}
	return nil
}

// ListTokens returns every API token, revoked ones included, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var role string
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &role, &created, &revoked); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Role, t.CreatedAt = auth.Role(role), fromUS(created)
		if revoked.Valid {
			r := fromUS(revoked.Int64)
			t.RevokedAt = &r
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes token id at once. Revoking a revoked token again
// changes nothing and is not an error.
func (db *DB) RevokeToken(ctx context.Context, id int64) error {
	if err := db.revoke(ctx, "api_tokens", id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	return nil
}

// revoke sets revoked_at on row id of table (api_tokens or
// integration_keys) unless it is set already.
func (db *DB) revoke(ctx context.Context, table string, id int64) error {
	return db.tx(ctx, func(tx dbtx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, db.q(`SELECT revoked_at FROM `+table+` WHERE id = ?`), id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return validation.ErrNotFound
		}
		if err != nil || revoked.Valid {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE `+table+` SET revoked_at = ? WHERE id = ?`), us(db.clock.Now()), id)
		return err
	})
}
