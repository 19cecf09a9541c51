package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-soc/vigil/internal/store"
)

// backup copies the SQLite database to a new file while the server runs.
// It reads the data directory itself rather than opening the store, which
// would run migrations: a backup must not change what it copies.
func backup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	load := configFlags(fs)
	out := fs.String("out", "", "backup `file` to write; it must not exist (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("usage: vigil backup --data DIR --out FILE")
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.DatabaseDSN != "" {
		return store.ErrBackupPostgres
	}
	start := time.Now()
	if err := store.BackupSQLite(ctx, cfg.Data, *out); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes, %s)\n",
		filepath.Join(cfg.Data, store.SQLiteFile), *out, st.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}
