package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestBackupWhileWriting takes backups, both from the open store and from
// the data directory alone, while another goroutine keeps ingesting, and
// checks each is a sound database holding every alert committed before
// the backup began.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(context.Background(), store.Options{DataDir: dir, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var committed atomic.Int64 // alerts bk-0 … bk-(committed-1) are stored
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ingestErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a := alert.Alert{Source: "bk", SourceID: fmt.Sprintf("bk-%d", i), Title: "backup load",
				Severity: alert.SeverityHigh, Raw: []byte(`{}`)}
			if ingestErr = a.Normalize(t0); ingestErr != nil {
				return
			}
			if _, ingestErr = db.Ingest(context.Background(), workitem.DefaultProcess(), "test", []alert.Alert{a}); ingestErr != nil {
				return
			}
			committed.Store(int64(i + 1))
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if ingestErr != nil {
			t.Errorf("ingest during backups: %v", ingestErr)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); committed.Load() < 50; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d alerts ingested in 10s", committed.Load())
		}
	}

	backups := []struct {
		name string
		take func(out string) error
	}{
		{"from the open store", func(out string) error { return db.Backup(context.Background(), out) }},
		{"from the data directory", func(out string) error { return store.BackupSQLite(context.Background(), dir, out) }},
	}
	for _, b := range backups {
		t.Run(b.name, func(t *testing.T) {
			before := committed.Load()
			out := filepath.Join(t.TempDir(), "vigil-backup.db")
			if err := b.take(out); err != nil {
				t.Fatalf("backup: %v", err)
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if perm := st.Mode().Perm(); perm != 0o600 {
				t.Errorf("backup mode = %v, want 0600 (it holds secrets)", perm)
			}
			if all, _ := os.ReadDir(filepath.Dir(out)); len(all) != 1 {
				t.Errorf("the output directory holds %d files, want only the backup (no temporary files)", len(all))
			}
			ids := backupAlertIDs(t, out)
			for i := int64(0); i < before; i++ {
				if !ids[fmt.Sprintf("bk-%d", i)] {
					t.Errorf("alert bk-%d was committed before the backup began but is not in it", i)
				}
			}
			// The copy opens as a store of its own.
			restored := t.TempDir()
			copyFile(t, out, filepath.Join(restored, store.SQLiteFile))
			rdb, err := store.Open(context.Background(), store.Options{DataDir: restored})
			if err != nil {
				t.Fatalf("open restored backup: %v", err)
			}
			rdb.Close()
			t.Logf("backup holds %d alerts; %d were committed before it began", len(ids), before)
		})
	}
}

// TestBackupRefusesExistingFile: an existing --out is never replaced.
func TestBackupRefusesExistingFile(t *testing.T) {
	db := storetest.SQLite(t, nil)
	out := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(out, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(context.Background(), out); err == nil {
		t.Fatal("backup over an existing file succeeded, want an error")
	}
	if got, _ := os.ReadFile(out); string(got) != "keep me" {
		t.Errorf("existing file now holds %q, want it untouched", got)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestBackupDoesNotChangeTheDatabase backs up a SQLite file that is not a
// vigil database at all: opening it as a store would migrate it, a backup
// must leave it byte for byte as it was.
func TestBackupDoesNotChangeTheDatabase(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, store.SQLiteFile)
	raw, err := sql.Open("sqlite", "file:"+src+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE TABLE t (v TEXT)", "INSERT INTO t VALUES ('a'), ('b')"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	sum := fileSum(t, src)

	out := filepath.Join(t.TempDir(), "copy.db")
	if err := store.BackupSQLite(context.Background(), dir, out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if got := fileSum(t, src); got != sum {
		t.Errorf("the database file changed during the backup")
	}
	bk, err := sql.Open("sqlite", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	var n int
	if err := bk.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Errorf("backup holds %d rows (%v), want 2", n, err)
	}
	var tables int
	bk.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&tables)
	if tables != 1 {
		t.Errorf("backup has %d tables, want only the original one (no migrations)", tables)
	}
}

// TestBackupNoDatabase: a data directory without a database is an error,
// not an empty backup.
func TestBackupNoDatabase(t *testing.T) {
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := store.BackupSQLite(context.Background(), t.TempDir(), out); err == nil {
		t.Fatal("backup of an empty data directory succeeded")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output file was written")
	}
}

func TestBackupPostgresPointsToPgDump(t *testing.T) {
	db := storetest.Postgres(t, nil)
	err := db.Backup(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if !errors.Is(err, store.ErrBackupPostgres) {
		t.Fatalf("backup on postgres = %v, want ErrBackupPostgres", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("pg_dump")) {
		t.Errorf("error %q does not mention pg_dump", err)
	}
}

// backupAlertIDs checks a backup's integrity and returns its alerts' ids.
func backupAlertIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	bk, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	var integrity string
	if err := bk.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v; want ok", integrity, err)
	}
	rows, err := bk.Query("SELECT source_id FROM alerts WHERE source = 'bk'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestOldSnapshotDoesNotStallWriter: a backup holds one read snapshot for
// as long as it runs, seconds on a large database. Meanwhile the writer
// may find the WAL full and empty it between two transactions; it must
// not wait for the backup to end, with the write lock held, while every
// ingest waits behind it. Here a read transaction stands in for the
// backup, and ingest goes on until the WAL is well past its limit.
func TestOldSnapshotDoesNotStallWriter(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dir, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustIngest(t, db, newAlert(t, "snap", "first", "before the snapshot", alert.SeverityLow))

	reader, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.SQLiteFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	snap, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Rollback()
	var n int
	if err := snap.QueryRow("SELECT COUNT(*) FROM alerts").Scan(&n); err != nil { // the snapshot starts here
		t.Fatal(err)
	}

	const walPast = 80 << 20 // beyond the 64 MiB at which the writer empties the WAL
	padding := bytes.Repeat([]byte("x"), 4000)
	var slowest time.Duration
	deadline := time.Now().Add(60 * time.Second)
	for batch := 0; ; batch++ {
		if st, err := os.Stat(filepath.Join(dir, store.SQLiteFile+"-wal")); err == nil && st.Size() > walPast {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL did not pass %d bytes in 60s", walPast)
		}
		alerts := make([]alert.Alert, 200)
		for i := range alerts {
			a := alert.Alert{Source: "snap", SourceID: fmt.Sprintf("a-%d-%d", batch, i), Title: "load",
				Description: string(padding), Severity: alert.SeverityLow, Raw: []byte(`{}`)}
			if err := a.Normalize(t0); err != nil {
				t.Fatal(err)
			}
			alerts[i] = a
		}
		start := time.Now()
		mustIngest(t, db, alerts...)
		slowest = max(slowest, time.Since(start))
		// Let the checkpointer (every 200 ms) notice the full WAL.
		if batch%20 == 19 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if slowest > 2*time.Second {
		t.Errorf("slowest ingest while an old snapshot was open took %v, want well under the 10 s busy timeout", slowest)
	}
	t.Logf("slowest ingest with an old snapshot open: %v", slowest)
}
