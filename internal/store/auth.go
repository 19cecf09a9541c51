package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Token is an API token's metadata; the secret itself is never stored.
type Token struct {
	ID   int64     `json:"id"`
	Name string    `json:"name"`
	Role auth.Role `json:"role"`
}

// CreateToken stores a new token under its hash and returns the secret,
// which is shown once and cannot be recovered.
func (db *DB) CreateToken(ctx context.Context, name string, role auth.Role) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Token{}, validation.NewFieldError("name", "is required")
	}
	secret := auth.NewToken()
	t := Token{Name: name, Role: role}
	err := db.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			name, string(role), auth.HashToken(secret), us(db.clock.Now())).Scan(&t.ID)
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

// User is a local account.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Role         auth.Role `json:"role"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
}

// AddUser creates a local user; the email must be new.
func (db *DB) AddUser(ctx context.Context, email string, role auth.Role, passwordHash string) (User, error) {
	u := User{Email: strings.ToLower(strings.TrimSpace(email)), Role: role, PasswordHash: passwordHash}
	if u.Email == "" || !strings.Contains(u.Email, "@") {
		return u, validation.NewFieldError("email", "a valid email address is required")
	}
	err := db.tx(ctx, func(tx dbtx) error {
		var exists int
		err := tx.QueryRowContext(ctx, db.q(`SELECT 1 FROM users WHERE email = ?`), u.Email).Scan(&exists)
		if err == nil {
			return validation.NewFieldError("email", "user %s already exists", u.Email)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO users (email, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`),
			u.Email, string(role), passwordHash, us(db.clock.Now())).Scan(&u.ID)
	})
	if err != nil {
		return u, fmt.Errorf("add user: %w", err)
	}
	return u, nil
}

// UserByEmail returns a user for sign-in.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	var role string
	var disabled int
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, email, role, password_hash, disabled FROM users WHERE email = ?`),
		strings.ToLower(strings.TrimSpace(email))).Scan(&u.ID, &u.Email, &role, &u.PasswordHash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return u, validation.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("look up user: %w", err)
	}
	u.Role, u.Disabled = auth.Role(role), disabled == 1
	return u, nil
}
