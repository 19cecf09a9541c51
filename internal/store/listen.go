package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNoListen is what Listen returns at once on SQLite, which has no
// notifications: callers poll instead (one SQLite process pokes itself).
var ErrNoListen = errors.New("store: notifications need PostgreSQL")

// ChangesChannel is the channel on which PostgreSQL announces work-item
// changes (migration 00011): one empty notification per transaction that
// inserted or updated work items.
const ChangesChannel = "vigil_changes"

// Listening tunes Listen. The defaults suit production; tests shorten them.
var (
	// listenCheck is how long the listener waits for a notification
	// before it checks that its connection is still alive: a connection
	// cut without a FIN (a failed-over server, a dropped NAT entry)
	// would otherwise leave it waiting for ever.
	listenCheck = 30 * time.Second
	// listenBackoffMin and listenBackoffMax bound the wait between
	// attempts to reconnect.
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// Listen calls fn with the payload of every notification on channel until
// ctx is done, then returns ctx's error. It holds one connection of its
// own, outside the pool, and reconnects, with backoff, when it drops.
// Notifications sent while no connection listens are lost, so fn("") is
// called after each LISTEN takes effect, the first one included: the
// caller then re-reads whatever it watches. fn runs on the listener's
// goroutine and should return quickly.
//
// On SQLite Listen returns ErrNoListen at once.
func (db *DB) Listen(ctx context.Context, channel string, fn func(payload string)) error {
	if db.dialect != Postgres {
		return ErrNoListen
	}
	log := db.log.With("channel", channel)
	var cfg *pgx.ConnConfig
	backoff := listenBackoffMin
	for {
		var err error
		if cfg == nil {
			cfg, err = db.listenConfig(ctx)
		}
		if err == nil {
			err = db.listenOnce(ctx, cfg, channel, fn, func() { backoff = listenBackoffMin })
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenConfig borrows a pooled connection to copy its configuration, so
// that the listener connects as the pool does without the store keeping
// the DSN around.
func (db *DB) listenConfig(ctx context.Context) (*pgx.ConnConfig, error) {
	c, err := db.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: borrow a connection: %w", err)
	}
	defer c.Close()
	var cfg *pgx.ConnConfig
	err = c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen: driver connection is %T, not pgx", dc)
		}
		cfg = sc.Conn().Config() // a copy
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The copy delivers notifications to the pooled connection's buffer;
	// unset, the listener's own connection buffers them for itself.
	cfg.OnNotification = nil
	// A cancelled wait must leave the connection usable: a deadline on
	// the socket does, where a cancel request to the server might land
	// on the health check that follows.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	return cfg, nil
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx is done; listening is called once LISTEN has
// taken effect.
func (db *DB) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, channel string, fn func(string), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen %s: %w", channel, err)
	}
	listening()
	fn("")
	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			if err := ping(ctx, conn); err != nil {
				return err
			}
		default:
			return fmt.Errorf("listen %s: wait: %w", channel, err)
		}
	}
}

// ping checks that the listener's connection still answers.
func ping(ctx context.Context, conn *pgx.Conn) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		return fmt.Errorf("listen: health check: %w", err)
	}
	return nil
}

// ListenChanges calls fn whenever work items may have changed, through
// any instance sharing the database, until ctx is done: Listen on
// ChangesChannel. The live-update feed polls when it is called.
func (db *DB) ListenChanges(ctx context.Context, fn func()) error {
	return db.Listen(ctx, ChangesChannel, func(string) { fn() })
}
