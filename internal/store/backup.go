package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrBackupPostgres is returned when a backup is asked of a PostgreSQL
// store: its tools do that job better (see docs/deploy.md).
var ErrBackupPostgres = errors.New("vigil backup copies the SQLite database only; on PostgreSQL use pg_dump " +
	"(e.g. pg_dump --format=custom --file=vigil.dump \"$DSN\", restored with pg_restore; see docs/deploy.md)")

// SQLiteFile is the name of the SQLite database inside the data directory
// (openSQLite opens the same name).
const SQLiteFile = "vigil.db"

// Backup writes a consistent copy of the open SQLite database to path,
// while the store keeps serving. See BackupSQLite for how.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return ErrBackupPostgres
	}
	// The store's own connections cannot serve: the readers are query_only,
	// which VACUUM INTO refuses (it writes the copy through the
	// connection), and the writer and checkpointer have work to do.
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("backup: find the database file: %w", err)
	}
	return backupFile(ctx, file, path)
}

// BackupSQLite writes a consistent copy of the SQLite database in dataDir
// to path while a server may be writing to it. It does not open the store:
// that would run migrations, and a backup must not change the database.
// Instead it opens the file read-only, so nothing it does can write to it.
//
// The copy is made with VACUUM INTO, which reads the database inside one
// read transaction (a snapshot that WAL lets the writer go on past) and
// writes a compact, self-contained file with no WAL beside it. It goes to
// a temporary file next to path, is synced, and is then linked into place,
// so path either does not exist or holds a whole backup. An existing path
// is never overwritten.
func BackupSQLite(ctx context.Context, dataDir, path string) error {
	return backupFile(ctx, filepath.Join(dataDir, SQLiteFile), path)
}

// backupFile copies the SQLite database file src to path, reading it
// through a connection of its own.
func backupFile(ctx context.Context, src, path string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: no database to copy: %w", err)
	}
	// mode=ro opens the file O_RDONLY: the connection can neither migrate
	// nor checkpoint the WAL into the file. The busy timeout rides out the
	// moments when the writer holds the WAL index exclusively.
	r, err := sql.Open("sqlite", "file:"+src+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer r.Close()
	r.SetMaxOpenConns(1)
	return backupTo(ctx, r, path)
}

// backupTo runs VACUUM INTO on src into a temporary file and moves it to
// path without overwriting anything.
func backupTo(ctx context.Context, src *sql.DB, path string) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("backup: %s already exists; it is not overwritten", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(path)
	// CreateTemp makes the file 0600: the backup holds token hashes and the
	// server's secrets. VACUUM INTO accepts an empty existing file.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath) // after a successful link, only the temporary name goes
	defer os.Remove(tmpPath + "-journal")

	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", tmpPath); err != nil {
		return fmt.Errorf("backup: vacuum into %s: %w", tmpPath, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return err
	}
	if err := linkNoReplace(tmpPath, path); err != nil {
		return err
	}
	if err := syncFile(dir); err != nil {
		return err
	}
	return nil
}

// linkNoReplace gives tmp the name path, failing if path exists. A hard
// link is atomic and refuses an existing name, unlike rename, which would
// replace a file created since the check in backupTo.
func linkNoReplace(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("backup: %s already exists; it is not overwritten", path)
	}
	// A file system without hard links: rename, after checking again.
	if _, serr := os.Lstat(path); serr == nil {
		return fmt.Errorf("backup: %s already exists; it is not overwritten", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncFile flushes a file, or a directory's entries, to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: sync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", path, err)
	}
	return nil
}
