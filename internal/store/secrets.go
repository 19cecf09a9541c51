package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
)

// SharedSecret returns the secret stored under name. If there is none
// yet, fresh is stored and returned, unless another instance on the same
// database stored its own first: then that one is returned, so that every
// instance signs with the same key. The secret is never logged.
func (db *DB) SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if name == "" || len(fresh) == 0 {
		return nil, errors.New("shared secret: a name and a fresh value are required")
	}
	var enc string
	err := db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)
		    ON CONFLICT (name) DO NOTHING`), name, base64.StdEncoding.EncodeToString(fresh), us(db.clock.Now())); err != nil {
			return err
		}
		// In the same transaction: on PostgreSQL (read committed) this
		// statement sees a row that a concurrent instance committed.
		return tx.QueryRowContext(ctx, db.q(`SELECT value FROM server_secrets WHERE name = ?`), name).Scan(&enc)
	})
	if err != nil {
		return nil, fmt.Errorf("shared secret %s: %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("shared secret %s: stored value is not base64", name)
	}
	return b, nil
}
