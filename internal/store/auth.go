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

// Token is an API token's metadata; the secret itself is never stored.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// CreateToken stores a new token under its hash and returns the secret,
// which is shown once and cannot be recovered.
func (db *DB) CreateToken(ctx context.Context, name string, role auth.Role) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Token{}, validation.NewFieldError("name", "is required")
	}
	secret := auth.NewToken()
	t := Token{Name: name, Role: role, CreatedAt: fromUS(us(db.clock.Now()))}
	err := db.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			name, string(role), auth.HashToken(secret), us(t.CreatedAt)).Scan(&t.ID)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	return secret, t, nil
}

// TokenByHash finds an unrevoked token.
func (db *DB) TokenByHash(ctx context.Context, hash string) (Token, error) {
	var t Token
	var role string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, name, role FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`), hash).
		Scan(&t.ID, &t.Name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return t, validation.ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("look up token: %w", err)
	}
	t.Role = auth.Role(role)
	return t, nil
}

// User is an account of a person. A local user signs in with a password;
// an external one (External set, PasswordHash empty) through OpenID Connect.
type User struct {
	ID           int64      `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         auth.Role  `json:"role"`
	PasswordHash string     `json:"-"`
	External     string     `json:"external,omitempty"` // "issuer|subject"
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"created_at"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
}

// AddUser creates a local user; the email must be new.
func (db *DB) AddUser(ctx context.Context, email string, role auth.Role, passwordHash string) (User, error) {
	return db.addUser(ctx, User{Email: email, Role: role, PasswordHash: passwordHash})
}

// AddExternalUser creates a user who signs in through OpenID Connect as
// external ("issuer|subject") and has no password; email and external must
// both be new.
func (db *DB) AddExternalUser(ctx context.Context, email, name, external string, role auth.Role) (User, error) {
	if strings.TrimSpace(external) == "" {
		return User{}, validation.NewFieldError("external", "is required")
	}
	return db.addUser(ctx, User{Email: email, Name: strings.TrimSpace(name), Role: role, External: external})
}

func (db *DB) addUser(ctx context.Context, u User) (User, error) {
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	if u.Email == "" || !strings.Contains(u.Email, "@") {
		return u, validation.NewFieldError("email", "a valid email address is required")
	}
	u.CreatedAt = fromUS(us(db.clock.Now()))
	err := db.tx(ctx, func(tx dbtx) error {
		var exists int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM users WHERE email = ?`), u.Email).Scan(&exists)
		if err == nil {
			return validation.NewFieldError("email", "user %s already exists", u.Email)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if u.External != "" {
			err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM users WHERE external = ?`), u.External).Scan(&exists)
			if err == nil {
				return validation.NewFieldError("external", "a user with this identity already exists")
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO users (email, name, role, password_hash, external, created_at)
		    VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			u.Email, u.Name, string(u.Role), u.PasswordHash, u.External, us(u.CreatedAt)).Scan(&u.ID)
	})
	if err != nil {
		return u, fmt.Errorf("add user: %w", err)
	}
	return u, nil
}

// UserByEmail returns a user for sign-in.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return u, validation.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}
