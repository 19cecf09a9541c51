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

// IntegrationKey is an integration key's metadata; the secret itself is
// never stored, only its SHA-256 and its first characters (Hint).
type IntegrationKey struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Source     string     `json:"source"`
	Hint       string     `json:"hint"` // "vgi_AbCd": enough to tell keys apart
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// maxKeyName bounds a key's name, which the timeline shows as "key:NAME".
const maxKeyName = 100

// CreateIntegrationKey stores a new key for source under its hash and
// returns the secret, which is shown once and cannot be recovered.
func (db *DB) CreateIntegrationKey(ctx context.Context, name, source, createdBy string) (string, IntegrationKey, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", IntegrationKey{}, validation.NewFieldError("name", "is required")
	case len(name) > maxKeyName:
		return "", IntegrationKey{}, validation.NewFieldError("name", "must be at most %d characters", maxKeyName)
	}
	source, err := auth.ParseKeySource(source)
	if err != nil {
		return "", IntegrationKey{}, err
	}
	secret := auth.NewIntegrationKey()
	k := IntegrationKey{Name: name, Source: source, Hint: auth.KeyHint(secret), CreatedAt: fromUS(us(db.clock.Now())), CreatedBy: createdBy}
	err = db.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, db.q(`INSERT INTO integration_keys (name, source, hash, prefix, created_at, created_by)
		    VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			k.Name, k.Source, auth.HashToken(secret), k.Hint, us(k.CreatedAt), k.CreatedBy).Scan(&k.ID)
	})
	if err != nil {
		return "", IntegrationKey{}, fmt.Errorf("create integration key: %w", err)
	}
	return secret, k, nil
}

const keyCols = `id, name, source, prefix, created_at, created_by, last_used_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (IntegrationKey, error) {
	var k IntegrationKey
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &k.Source, &k.Hint, &created, &k.CreatedBy, &used, &revoked); err != nil {
		return k, err
	}
	k.CreatedAt = fromUS(created)
	if used.Valid {
		t := fromUS(used.Int64)
		k.LastUsedAt = &t
	}
	if revoked.Valid {
		t := fromUS(revoked.Int64)
		k.RevokedAt = &t
	}
	return k, nil
}

// ListIntegrationKeys returns every integration key, revoked ones
// included, newest first.
func (db *DB) ListIntegrationKeys(ctx context.Context) ([]IntegrationKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+keyCols+` FROM integration_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list integration keys: %w", err)
	}
	defer rows.Close()
	var out []IntegrationKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list integration keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list integration keys: %w", err)
	}
	return out, nil
}

// GetIntegrationKey returns one key, revoked or not.
func (db *DB) GetIntegrationKey(ctx context.Context, id int64) (IntegrationKey, error) {
	k, err := scanKey(db.r.QueryRowContext(ctx, db.q(`SELECT `+keyCols+` FROM integration_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("integration key %d: %w", id, validation.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("get integration key %d: %w", id, err)
	}
	return k, nil
}

// IntegrationKeyByHash finds an unrevoked key by the hash of its secret.
func (db *DB) IntegrationKeyByHash(ctx context.Context, hash string) (IntegrationKey, error) {
	k, err := scanKey(db.r.QueryRowContext(ctx, db.q(`SELECT `+keyCols+` FROM integration_keys WHERE hash = ? AND revoked_at IS NULL`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return k, validation.ErrNotFound
	}
	if err != nil {
		return k, fmt.Errorf("look up integration key: %w", err)
	}
	return k, nil
}

// TouchIntegrationKey records that key id was used at at. Callers touch
// at most once a minute per key: the time is for the admin page ("last
// used 3 minutes ago"), not an audit trail.
func (db *DB) TouchIntegrationKey(ctx context.Context, id int64, at time.Time) error {
	err := db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE integration_keys SET last_used_at = ? WHERE id = ?`), us(at), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("touch integration key %d: %w", id, err)
	}
	return nil
}

// RevokeIntegrationKey revokes key id at once. Revoking a revoked key
// again changes nothing and is not an error.
func (db *DB) RevokeIntegrationKey(ctx context.Context, id int64) error {
	if err := db.revoke(ctx, "integration_keys", id); err != nil {
		return fmt.Errorf("revoke integration key %d: %w", id, err)
	}
	return nil
}
