package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
)

// Module timings. A pass's deadline also bounds how long a hung instance
// keeps a module from the others (the lock outlives it by the engine's
// watchdog grace).
const (
	outboxEvery = 2 * time.Second
	// intelRefreshEvery is how soon an instance matches a feed's news.
	intelRefreshEvery = time.Minute
	outboxTimeout     = 2 * time.Minute
	syncTimeout       = 5 * time.Minute
	purgeEvery        = time.Hour
	purgeTimeout      = time.Minute
	rulesEvery        = 5 * time.Second
	pagingEvery       = time.Second
)

// storeLocker shares engine modules between the instances on one
// PostgreSQL database through the store's module rows (see
// store.BeginPass); on SQLite every pass runs.
type storeLocker struct {
	db     *store.DB
	holder string
	clk    clock.Clock
}

func (l storeLocker) Begin(ctx context.Context, name string, version int, every, hold time.Duration, poked bool) (engine.Lease, engine.Decision, error) {
	p, d, err := l.db.BeginPass(ctx, name, l.holder, version, every, hold, poked, l.clk.Now)
	if err != nil {
		return nil, 0, err
	}
	switch d {
	case store.PassRun:
		return p, engine.Run, nil
	case store.PassBusy:
		return nil, engine.Busy, nil
	case store.PassRecent:
		return nil, engine.Recent, nil
	case store.PassStandDown:
		return nil, engine.StandDown, nil
	}
	return nil, 0, fmt.Errorf("engine module %s: unknown decision %d", name, d)
}

// instanceName names this process in the module records: which instance
// ran a module last.
func instanceName(listen string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d (%s)", host, os.Getpid(), listen)
}

// sessionPurge deletes expired sign-in sessions.
type sessionPurge struct{ a *App }

func (sessionPurge) Name() string { return "sessions" }

func (p sessionPurge) UpdateAll(ctx context.Context) error {
	n, err := p.a.Accounts.PurgeExpired(ctx)
	if err != nil {
		return fmt.Errorf("purge expired sessions: %w", err)
	}
	if n > 0 {
		p.a.log.Info("purged expired sessions", "count", n)
	}
	return nil
}

// buildEngine registers the background modules this instance's role
// runs. Routine sync work is logged as one line per cycle that changed
// something, counting the outbox's deliveries too (twoway.Cycle).
func (a *App) buildEngine() *engine.Engine {
	var locker engine.Locker
	if a.DB.Dialect() == store.Postgres {
		locker = storeLocker{db: a.DB, holder: instanceName(a.cfg.Listen), clk: a.clock}
	}
	e := engine.New(engine.Options{Clock: a.clock, Logger: a.log, Locker: locker, Health: a.engineHealth, Metrics: a.metrics})
	a.poker.e.Store(e)
	if a.cfg.Role != config.RoleEngine {
		// Live updates serve this instance's open pages.
		e.AddService("live-updates", a.UI.Run)
	}
	// Every instance ingests, so each reloads the rules it runs: another
	// instance, or the CLI, may have changed them.
	e.AddService("rules-reload", a.Rules.Watch(rulesEvery))
	// Every instance matches what it ingests against the indicators, so
	// each adds to its matcher what the feeds (on one instance) brought.
	e.AddService("ti-refresh", a.Intel.Watch(intelRefreshEvery))
	if a.cfg.Role == config.RoleAPI {
		return e // serving HTTP only: the other instances run the engine
	}
	act := twoway.NewActivity()
	if len(a.sync.modules) > 0 {
		a.sender.CountInto(act)
	}
	e.Add(a.sender, engine.Spec{Every: outboxEvery, Timeout: outboxTimeout})
	if len(a.sync.modules) > 0 {
		// Pollers, the reconciler and the mirrors run as one "sync"
		// module, in that order, so that one cycle carries a change at a
		// source all the way to its write-back, and so that one instance
		// at a time calls Microsoft's APIs.
		seq := twoway.NewSequence(twoway.Cycle{Modules: a.sync.modules, After: e.Poker("outbox"),
			Log: a.log.With("component", "sync"), Health: a.sync.health, Activity: act})
		e.Add(seq, engine.Spec{Every: a.sync.interval, Timeout: syncTimeout})
	}
	// Threat intelligence: the feeds run on one instance.
	if a.intelFeeds > 0 {
		e.Add(a.Intel, engine.Spec{Every: a.cfg.ThreatIntel.Interval, Timeout: syncTimeout})
	}
	// Indicators to Sentinel, queued for the outbox; the telemetry hunt.
	if a.intelOut.upload != nil {
		e.Add(a.intelOut.upload, engine.Spec{Every: a.cfg.ThreatIntel.Interval, Timeout: syncTimeout, After: e.Poker("outbox")})
	}
	if a.intelOut.hunt != nil {
		e.Add(a.intelOut.hunt, engine.Spec{Every: a.cfg.ThreatIntel.Hunt.Interval, Timeout: syncTimeout})
	}
	// Escalation: due pages notify their next step.
	e.Add(a.Pager, engine.Spec{Every: pagingEvery, Timeout: outboxTimeout, After: e.Poker("outbox")})
	e.Add(sessionPurge{a}, engine.Spec{Every: purgeEvery, Timeout: purgeTimeout})
	// The reports' facts and roll-ups follow the board.
	e.Add(a.reportModule, engine.Spec{Every: reportsEvery, Timeout: syncTimeout})
	// The weekly summaries, queued for the outbox to mail.
	if a.summaries != nil {
		e.Add(a.summaries, engine.Spec{Every: summaryEvery, Timeout: syncTimeout, After: e.Poker("outbox")})
	}
	// Deleting rules expired past their retention is cluster work.
	e.Add(a.Rules, engine.Spec{Every: purgeEvery, Timeout: purgeTimeout})
	return e
}

// engineOnly serves what an engine-only instance answers: health,
// readiness and metrics, for its supervisor and Prometheus.
func engineOnly(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"GET /healthz", "GET /readyz", "GET /metrics"} {
		mux.Handle(p, h)
	}
	return mux
}

// logRole says what this instance does, once at start.
func logRole(log *slog.Logger, role string, e *engine.Engine) {
	log.Info("instance role", "role", role, "engine_modules", e.Modules())
}

// shareHealth records each sync module's pass in the database, so that
// every instance's connector-health page shows the pollers, whichever
// instance runs them (PostgreSQL only: SQLite has one instance).
func (a *App) shareHealth() {
	if a.DB.Dialect() != store.Postgres {
		return
	}
	holder := instanceName(a.cfg.Listen)
	a.sync.health.OnPass(func(st engine.Status) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		end := st.LastSuccess
		if st.LastError != "" {
			end = st.LastErrorAt
		}
		if err := a.DB.RecordModuleState(ctx, st.Name, holder, st.LastRun, end, st.LastError); err != nil {
			a.log.Debug("module state not shared", "module", st.Name, "err", err)
		}
	})
}

// connectors is the connector-health page's list: this instance's record
// of each module, completed with the shared record of passes that other
// instances ran more recently.
func (a *App) connectors() []twoway.Status {
	local := append(a.sync.health.Snapshot(), a.engineHealth.Snapshot()...)
	if a.DB.Dialect() != store.Postgres {
		return local
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := a.DB.ModuleStates(ctx)
	if err != nil {
		a.log.Warn("shared module states unavailable", "err", err)
		return local
	}
	me := instanceName(a.cfg.Listen)
	shared := map[string]store.ModuleState{}
	for _, s := range states {
		shared[s.Name] = s
	}
	for i := range local {
		s, ok := shared[local[i].Name]
		if !ok || s.Holder == me || !s.LastStart.After(local[i].LastRun) {
			continue
		}
		st := &local[i]
		st.LastRun, st.Elsewhere = s.LastStart, s.Holder
		if !s.LastSuccess.IsZero() {
			st.LastSuccess = s.LastSuccess
		}
		st.LastError = s.LastError
		if s.LastError != "" {
			st.LastErrorAt = s.LastEnd
		}
		if s.LastEnd.After(s.LastStart) {
			st.Duration = s.LastEnd.Sub(s.LastStart)
		}
	}
	return local
}
