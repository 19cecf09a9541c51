package store

import (
	"context"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
)

// The accounts migration rolls back cleanly and applies again (SQLite,
// whose ALTER TABLE is the more limited).
func TestAccountsMigrationDown(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// The store pins its only write connection; goose borrows the
	// checkpointer's, which may write too.
	p, err := goose.NewProvider(goose.DialectSQLite3, db.cp, fsys, goose.WithGoMigrations(scrubMigration(SQLite)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 3); err != nil {
		t.Fatalf("down to 3: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
