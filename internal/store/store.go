// Package store is vigil's database access: SQLite embedded by default,
// PostgreSQL when a DSN is given. One set of queries serves both; they are
// written with ? placeholders and rebound for PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"github.com/vigil-soc/vigil/internal/automation"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/vigil-soc/vigil/internal/clock"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options selects and tunes the database.
type Options struct {
	// DSN is a PostgreSQL connection string ("postgres://…" or
	// "host=… dbname=…"). When empty, SQLite is used in DataDir.
	DSN     string
	DataDir string
	// Synchronous is SQLite's synchronous pragma: FULL (default) makes
	// every commit survive power loss; NORMAL survives a process crash.
	Synchronous string
	Logger      *slog.Logger
	Clock       clock.Clock
}

// DB is the store. It is safe for concurrent use.
type DB struct {
	dialect Dialect
	w       *sql.DB // writes: a single connection on SQLite, the pool on PostgreSQL
	r       *sql.DB // reads: a pool of read-only connections on SQLite
	log     *slog.Logger
	clock   clock.Clock

	rebound sync.Map // query with ? → query with $n (PostgreSQL)

	// SQLite only: the one write connection, pinned so that statements
	// prepared on it stay prepared, and a lock that serializes
	// transactions on it (a channel, so that waiting honours ctx).
	wconn *sql.Conn
	wlock chan struct{}
	stmts sync.Map // query → *sql.Stmt prepared on wconn

	cp      *sql.DB // SQLite only: runs WAL checkpoints
	cpStop  chan struct{}
	cpDone  chan struct{}
	walFull atomic.Bool // the WAL has outgrown walLimit

	// rules are the automation rules that creation triggers run inside
	// the ingest transaction (nil: none); see SetRules.
	rules atomic.Pointer[automation.Set]
	// incidents hears incidents that changed, after commit (nil: none);
	// see ObserveIncidents.
	incidents []IncidentObserver
}

// Open connects to the database and runs pending migrations.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	db := &DB{log: o.Logger.With("component", "store"), clock: o.Clock}
	var err error
	if o.DSN != "" {
		err = db.openPostgres(o.DSN)
	} else {
		err = db.openSQLite(o.DataDir, o.Synchronous)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.dialect == SQLite {
		c, err := db.w.Conn(ctx)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("pin sqlite write connection: %w", err)
		}
		db.wconn, db.wlock = c, make(chan struct{}, 1)
		db.cpStop, db.cpDone = make(chan struct{}), make(chan struct{})
		go db.checkpointer()
	}
	return db, nil
}

func (db *DB) openPostgres(dsn string) error {
	db.dialect = Postgres
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(16)
	p.SetMaxIdleConns(16)
	p.SetConnMaxIdleTime(5 * time.Minute)
	db.w, db.r = p, p
	return nil
}

func (db *DB) openSQLite(dir, synchronous string) error {
	db.dialect = SQLite
	if dir == "" {
		return errors.New("open sqlite: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	switch synchronous = strings.ToUpper(synchronous); synchronous {
	case "":
		synchronous = "FULL"
	case "FULL", "NORMAL", "EXTRA":
	default:
		return fmt.Errorf("sqlite synchronous %q: want FULL, NORMAL or EXTRA", synchronous)
	}
	path := filepath.Join(dir, "vigil.db")
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + synchronous + ")"
	// SQLite allows one writer at a time. A single write connection with
	// BEGIN IMMEDIATE serializes writers in Go instead of in busy-wait
	// loops, and never deadlocks on a read-to-write upgrade.
	// A 64 MiB page cache keeps a group-committed transaction's pages in
	// memory until COMMIT instead of spilling them to the WAL midway.
	// Checkpoints run in the background (checkpointer), not inside the
	// writer's commits, which are the bottleneck of ingest.
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// Readers see the last commit through WAL without blocking the writer.
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return fmt.Errorf("open sqlite readers: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	cp, err := sql.Open("sqlite", base)
	if err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	cp.SetMaxOpenConns(1)
	db.w, db.r, db.cp = w, r, cp
	// Create the file (and switch it to WAL) before readers open it.
	if _, err := w.Exec("PRAGMA user_version"); err != nil {
		db.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return nil
}

// Migrate applies the embedded migrations that have not run yet. On
// PostgreSQL a session advisory lock lets several instances start at once.
func (db *DB) Migrate(ctx context.Context) error {
	var (
		gd   goose.Dialect
		opts []goose.ProviderOption
	)
	dir := "migrations/" + string(db.dialect)
	switch db.dialect {
	case SQLite:
		gd = goose.DialectSQLite3
	case Postgres:
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts = append(opts, goose.WithGoMigrations(scrubMigration(db.dialect)))
	p, err := goose.NewProvider(gd, db.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		db.log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// walLimit is the WAL size, in 4 KiB frames, past which the writer empties
// the WAL: 64 MiB.
const walLimit = 16384

// checkpointer copies committed WAL frames into the database file every
// 200 ms from its own connection, concurrently with the writer. That alone
// does not bound the WAL: under sustained ingest the writer is always
// mid-transaction, the WAL never restarts from the top, and a checkpoint
// that needs the write lock never wins it. So when the WAL passes walLimit
// the checkpointer raises walFull, and the writer empties the WAL itself
// between two transactions (see tx): a short pause, since the background
// checkpoints have already copied nearly every frame.
func (db *DB) checkpointer() {
	defer close(db.cpDone)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-db.cpStop:
			return
		case <-t.C:
			var busy, frames, done int
			if err := db.cp.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
				db.log.Warn("checkpoint", "err", err)
				continue
			}
			if frames > walLimit {
				db.walFull.Store(true)
			}
		}
	}
}

// truncateWAL empties the WAL on the write connection; the caller holds
// the write lock and is between transactions.
func (db *DB) truncateWAL(ctx context.Context) {
	start := time.Now()
	// TRUNCATE waits, through the busy timeout, for every reader to leave
	// the WAL. A reader on an old snapshot (vigil backup, for seconds)
	// would hold up every writer behind this one for the whole 10 s. So
	// wait briefly, which outlasts ordinary queries; if a reader stays,
	// the WAL keeps growing and the next transaction tries again
	// (TestOldSnapshotDoesNotStallWriter).
	if _, err := db.wconn.ExecContext(ctx, "PRAGMA busy_timeout = 50"); err != nil {
		db.log.Warn("truncating checkpoint", "err", err)
		return
	}
	defer db.wconn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = 10000")
	var busy, frames, done int
	if err := db.wconn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		db.log.Warn("truncating checkpoint", "err", err)
		return
	}
	if busy != 0 {
		db.log.Debug("wal not truncated: a reader is on an older snapshot", "frames", frames, "took", time.Since(start))
		return
	}
	db.log.Debug("wal truncated", "took", time.Since(start))
}

// Dialect reports which database is in use.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes all connections.
func (db *DB) Close() error {
	var errs []error
	if db.cpStop != nil {
		close(db.cpStop)
		<-db.cpDone
		db.cpStop = nil
		// A full checkpoint on the way out leaves a small, tidy WAL.
		db.wlock <- struct{}{}
		db.truncateWAL(context.Background())
		<-db.wlock
	}
	db.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	if db.wconn != nil {
		errs = append(errs, db.wconn.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if db.r != nil && db.r != db.w {
		errs = append(errs, db.r.Close())
	}
	if db.cp != nil {
		errs = append(errs, db.cp.Close())
	}
	return errors.Join(errs...)
}

// q returns query in the dialect's placeholder syntax.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	s := rebind(query)
	db.rebound.Store(query, s)
	return s
}

// rebind turns ? placeholders (outside string literals) into PostgreSQL's
// $1, $2….
func rebind(query string) string {
	var b strings.Builder
	n := 0
	inStr := false
	for _, c := range query {
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteRune(c)
		case c == '?' && !inStr:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// dbtx is what code inside a write transaction runs queries on: a *sql.Tx
// on PostgreSQL, the pinned *sql.Conn inside BEGIN … COMMIT on SQLite.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryRow runs a single-row query inside tx. On SQLite the statement is
// prepared once on the pinned write connection and reused: parsing SQL
// costs more than executing a small insert. On PostgreSQL pgx caches
// prepared statements per connection by itself.
func (db *DB) queryRow(ctx context.Context, tx dbtx, query string, args ...any) *sql.Row {
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, db.q(query), args...)
}

// exec runs a statement inside tx, prepared once as queryRow does.
func (db *DB) exec(ctx context.Context, tx dbtx, query string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

// stmt returns the cached statement for query on the pinned SQLite write
// connection, or nil when statements are not cached (PostgreSQL) or cannot
// be prepared; callers then run the query directly and see any error.
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if db.wconn == nil {
		return nil
	}
	if v, ok := db.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	s, err := db.wconn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	db.stmts.Store(query, s)
	return s
}

// tx runs fn in a write transaction and commits it; on error it rolls back
// so that nothing half-written is left behind.
func (db *DB) tx(ctx context.Context, fn func(dbtx) error) error {
	if db.wconn == nil {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	// SQLite: BEGIN IMMEDIATE takes the write lock up front, so a
	// transaction never fails later trying to upgrade a read lock.
	select {
	case db.wlock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("begin: %w", ctx.Err())
	}
	defer func() { <-db.wlock }()
	if _, err := db.wconn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// The rollback and commit must run even when ctx is cancelled, or the
	// pinned connection would be left inside a transaction.
	bg := context.WithoutCancel(ctx)
	if err := fn(db.wconn); err != nil {
		if _, rerr := db.wconn.ExecContext(bg, "ROLLBACK"); rerr != nil {
			db.log.Error("rollback failed", "err", rerr)
		}
		return err
	}
	if _, err := db.wconn.ExecContext(bg, "COMMIT"); err != nil {
		db.wconn.ExecContext(bg, "ROLLBACK")
		return fmt.Errorf("commit: %w", err)
	}
	if db.walFull.CompareAndSwap(true, false) {
		db.truncateWAL(bg)
	}
	return nil
}

// us converts a time to the stored unix-microsecond form.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromUS converts a stored unix-microsecond value to UTC time.
func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
