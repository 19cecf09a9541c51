package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PassDecision is what BeginPass decided for one module's pass.
type PassDecision int

// Pass decisions.
const (
	PassRun       PassDecision = iota // this instance holds the module for the pass
	PassBusy                          // another instance holds it now
	PassRecent                        // another instance began a pass within the interval
	PassStandDown                     // a newer version of the module has run
)

// ModulePass is one pass's hold on an engine module: a transaction that
// keeps the module's row locked until End. If the instance dies, its
// connection closes and PostgreSQL ends the transaction, releasing the
// module; if it hangs, idle_in_transaction_session_timeout does.
type ModulePass struct {
	db    *DB
	conn  *sql.Conn
	tx    *sql.Tx
	name  string
	start time.Time
	now   func() time.Time
}

// lockNotAvailable is PostgreSQL's SQLSTATE for a NOWAIT lock refused.
const lockNotAvailable = "55P03"

// BeginPass asks to run module name's pass on this instance (holder),
// at now, for a module of version that runs every interval. hold bounds
// how long the lock survives an instance that stops responding. A poked
// pass runs even when another began within the interval. The pass's
// start is committed before it runs (claimPass), then the row stays
// locked for the pass (holdPass). Only PostgreSQL shares modules between
// instances; on SQLite every pass runs.
func (db *DB) BeginPass(ctx context.Context, name, holder string, version int, every, hold time.Duration, poked bool, now func() time.Time) (*ModulePass, PassDecision, error) {
	if db.dialect != Postgres {
		return &ModulePass{db: db, name: name, start: now(), now: now}, PassRun, nil
	}
	// The row is created once, outside any pass's transaction. An INSERT
	// … ON CONFLICT on an existing row would wait for the holder's whole
	// pass (its row version is uncommitted), so it runs only when a plain
	// read, which never waits, finds no row.
	var one int
	err := db.w.QueryRowContext(ctx, `SELECT 1 FROM engine_modules WHERE name = $1`, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.w.ExecContext(ctx, `INSERT INTO engine_modules (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("engine module %s: %w", name, err)
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("engine module %s: %w", name, err)
	}
	start, d, err := claimPass(ctx, conn, name, holder, version, every, poked, now)
	if err != nil || d != PassRun {
		conn.Close()
		return nil, d, err
	}
	tx, err := holdPass(ctx, conn, name, holder, start, hold)
	if err != nil || tx == nil {
		conn.Close()
		return nil, PassBusy, err
	}
	return &ModulePass{db: db, conn: conn, tx: tx, name: name, start: start, now: now}, PassRun, nil
}

// claimPass decides whether this instance runs the pass and, if so,
// records its start and holder and commits them before the pass begins.
// The start must outlive an instance killed in the middle of the pass:
// were it rolled back with the pass, the next instance would run the
// pass again at once and call the same APIs twice within one interval
// (the cluster test's "0 duplicate polls"). The takeover still comes
// within the interval of the dead pass's start.
func claimPass(ctx context.Context, conn *sql.Conn, name, holder string, version int, every time.Duration, poked bool, now func() time.Time) (time.Time, PassDecision, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("engine module %s: %w", name, err)
	}
	defer tx.Rollback()
	var stored int
	var lastStart int64
	err = tx.QueryRowContext(ctx, `SELECT version, last_start FROM engine_modules WHERE name = $1 FOR UPDATE NOWAIT`, name).
		Scan(&stored, &lastStart)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == lockNotAvailable:
		return time.Time{}, PassBusy, nil
	case err != nil:
		return time.Time{}, 0, fmt.Errorf("engine module %s: %w", name, err)
	case stored > version:
		return time.Time{}, PassStandDown, nil
	}
	start := now()
	// A tick a little early must not skip a whole interval: passes are
	// due when 90% of it has gone by.
	if !poked && lastStart > 0 && start.Sub(fromUS(lastStart)) < every*9/10 {
		return time.Time{}, PassRecent, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE engine_modules SET version = GREATEST(version, $2), holder = $3, last_start = $4 WHERE name = $1`,
		name, version, holder, us(start)); err != nil {
		return time.Time{}, 0, fmt.Errorf("engine module %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return time.Time{}, 0, fmt.Errorf("engine module %s: %w", name, err)
	}
	return start, PassRun, nil
}

// holdPass locks the module's row again for the pass: the lock is what
// keeps others out while it runs (they get PassBusy), and it ends with
// this instance's connection. Between the claim's commit and this lock
// another instance may hold the row for an instant to find the pass
// recent, so the lock waits a little; a poked pass elsewhere may have
// claimed the module meanwhile, and then this one stands by (nil tx).
// hold bounds how long the lock survives an instance that hangs.
func holdPass(ctx context.Context, conn *sql.Conn, name, holder string, start time.Time, hold time.Duration) (*sql.Tx, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("engine module %s: %w", name, err)
	}
	// SET cannot take a parameter; both are durations we computed.
	for _, set := range []string{
		fmt.Sprintf(`SET LOCAL idle_in_transaction_session_timeout = %d`, max(hold.Milliseconds(), 1000)),
		`SET LOCAL lock_timeout = 2000`,
	} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("engine module %s: %w", name, err)
		}
	}
	var gotHolder string
	var gotStart int64
	err = tx.QueryRowContext(ctx, `SELECT holder, last_start FROM engine_modules WHERE name = $1 FOR UPDATE`, name).Scan(&gotHolder, &gotStart)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == lockNotAvailable:
		tx.Rollback()
		return nil, nil
	case err != nil:
		tx.Rollback()
		return nil, fmt.Errorf("engine module %s: %w", name, err)
	case gotHolder != holder || gotStart != us(start):
		tx.Rollback()
		return nil, nil
	}
	return tx, nil
}

// End records the pass's outcome and releases the module.
func (p *ModulePass) End(ctx context.Context, passErr error) error {
	if p.tx == nil {
		return nil
	}
	defer p.conn.Close()
	end := us(p.now())
	var err error
	if passErr == nil {
		_, err = p.tx.ExecContext(ctx, `UPDATE engine_modules SET last_end = $2, last_success = $2, last_error = '' WHERE name = $1`, p.name, end)
	} else {
		msg := passErr.Error()
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		_, err = p.tx.ExecContext(ctx, `UPDATE engine_modules SET last_end = $2, last_error = $3 WHERE name = $1`, p.name, end, msg)
	}
	if err != nil {
		p.tx.Rollback()
		return fmt.Errorf("end pass of %s: %w", p.name, err)
	}
	if err := p.tx.Commit(); err != nil {
		return fmt.Errorf("end pass of %s: %w", p.name, err)
	}
	return nil
}

// ModuleState is the shared record of one engine module.
type ModuleState struct {
	Name        string
	Version     int
	Holder      string // the instance that began the last pass
	LastStart   time.Time
	LastEnd     time.Time
	LastSuccess time.Time
	LastError   string
}

// ModuleStates returns every engine module's shared record, by name.
func (db *DB) ModuleStates(ctx context.Context) ([]ModuleState, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, version, holder, last_start, last_end, last_success, last_error FROM engine_modules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("engine modules: %w", err)
	}
	defer rows.Close()
	var out []ModuleState
	for rows.Next() {
		var m ModuleState
		var start, end, ok int64
		if err := rows.Scan(&m.Name, &m.Version, &m.Holder, &start, &end, &ok, &m.LastError); err != nil {
			return nil, fmt.Errorf("engine modules: %w", err)
		}
		m.LastStart, m.LastEnd, m.LastSuccess = usTime(start), usTime(end), usTime(ok)
		out = append(out, m)
	}
	return out, rows.Err()
}

// usTime is fromUS with 0 as the zero time ("never").
func usTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromUS(v)
}

// RecordModuleState shares one pass of a module that is not itself
// locked (a poller inside the sync pass) with the other instances, for
// their connector-health pages. passErr "" is a success. Never call it
// for a module run under BeginPass: its row is locked for the pass.
func (db *DB) RecordModuleState(ctx context.Context, name, holder string, start, end time.Time, passErr string) error {
	var success int64
	if passErr == "" {
		success = us(end)
	}
	err := db.tx(ctx, func(tx dbtx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO engine_modules (name, holder, last_start, last_end, last_success, last_error)
		    VALUES (?, ?, ?, ?, ?, ?)
		    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, last_start = excluded.last_start, last_end = excluded.last_end,
		      last_success = CASE WHEN excluded.last_success > 0 THEN excluded.last_success ELSE engine_modules.last_success END,
		      last_error = excluded.last_error`), name, holder, us(start), us(end), success, passErr)
		return err
	})
	if err != nil {
		return fmt.Errorf("record module %s: %w", name, err)
	}
	return nil
}
