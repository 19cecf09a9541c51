package store

import (
	"context"
	"fmt"
)

// ExecForTest runs one statement in a write transaction, for tests that
// set columns no store method writes directly yet (an item's search text,
// its merge, its last alert time).
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	return db.tx(ctx, func(tx dbtx) error {
		if _, err := tx.ExecContext(ctx, db.q(query), args...); err != nil {
			return fmt.Errorf("exec %q: %w", query, err)
		}
		return nil
	})
}
