// Package engine runs vigil's background work: the pollers, the
// reconciler and the mirrors (as one sync pass), the outbox sender, the
// live-update feed, the session purge, and whatever comes next (rules,
// escalations, notifications, feeds).
//
// A module is a name and an idempotent pass. The engine runs each module
// in its own loop, on a ticker or at once when poked, with a deadline per
// pass and a watchdog that reports a pass that ignores its deadline.
// Every pass is recorded in a Health registry (for the connector-health
// page) and in Prometheus metrics.
//
// Several instances can share one PostgreSQL database. A Locker then
// decides, before each pass, whether this instance runs it: at most one
// instance runs a module's pass at a time, a pass another instance ran
// within the module's interval is not run again, and an instance whose
// module version is older than the one recorded stands the module down
// instead of fighting a newer release over it. With SQLite there is one
// process and no locker: every pass runs.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Module is one background worker: a name, unique among the modules of
// one configuration, and an idempotent pass. Running a pass twice, or on
// two instances one after the other, does no harm: it does what is due.
type Module interface {
	Name() string
	UpdateAll(ctx context.Context) error
}

// Versioned is implemented by a module whose behaviour changed in a way
// an older release must not undo. A module without it is version 1.
type Versioned interface{ Version() int }

// Spec says when and where a module runs.
type Spec struct {
	// Every is the time between passes (required).
	Every time.Duration
	// Timeout is a pass's deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// Local modules serve this instance's own clients (the live-update
	// feed): every instance runs them, without a lock.
	Local bool
	// After runs after each pass this instance ran (poking the outbox
	// sender after a sync pass).
	After func()
}

// DefaultTimeout is a pass's deadline when its Spec names none.
const DefaultTimeout = 5 * time.Minute

// watchdogGrace is how long past its deadline a pass may take to return
// before the watchdog reports it stuck: a module must honour its context.
const watchdogGrace = 30 * time.Second

// Decision is a Locker's answer for one pass.
type Decision int

// Decisions.
const (
	Run       Decision = iota // this instance runs the pass
	Busy                      // another instance is running it now
	Recent                    // another instance ran it within the interval
	StandDown                 // a newer version of the module is running elsewhere
)

func (d Decision) String() string {
	switch d {
	case Run:
		return "run"
	case Busy:
		return "busy"
	case Recent:
		return "recent"
	case StandDown:
		return "stand-down"
	}
	return fmt.Sprintf("decision(%d)", int(d))
}

// Locker decides whether this instance runs a module's pass now.
type Locker interface {
	// Begin asks to run module name's pass. When the answer is Run, the
	// returned Lease holds the module until End; the lease also ends by
	// itself when this instance dies or hangs past hold, so that another
	// instance takes the work over. poked passes run even if another
	// instance ran one within every: something is due now.
	Begin(ctx context.Context, name string, version int, every, hold time.Duration, poked bool) (Lease, Decision, error)
}

// Lease is one pass's hold on its module.
type Lease interface {
	// End records the pass's outcome and releases the module.
	End(ctx context.Context, passErr error) error
}

// Options configures an engine.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// Locker shares modules between instances; nil runs every pass
	// (one process, as with SQLite).
	Locker Locker
	// Health records each pass; nil gets a fresh registry.
	Health *Health
	// Metrics exports each pass to Prometheus; nil exports nothing.
	Metrics *Metrics
}

// Engine runs modules until its context ends. Add every module before
// Run.
type Engine struct {
	clk     clock.Clock
	log     *slog.Logger
	locker  Locker
	health  *Health
	metrics *Metrics

	mu       sync.Mutex
	services []service
	mods     []*entry
	byName   map[string]*entry
	running  bool
}

type entry struct {
	m       Module
	spec    Spec
	version int
	poke    chan struct{}
	// last logged decision other than Run, so that standing by is
	// logged once, not every tick.
	lastSkip Decision
}

// New returns an engine with no modules.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Health == nil {
		o.Health = NewHealth(o.Clock)
	}
	o.Health.Export(o.Metrics)
	return &Engine{clk: o.Clock, log: o.Logger.With("component", "engine"), locker: o.Locker,
		health: o.Health, metrics: o.Metrics, byName: map[string]*entry{}}
}

// Add registers m to run as s says. It panics on a duplicate name or a
// missing interval: both are wiring mistakes.
func (e *Engine) Add(m Module, s Spec) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		panic("engine: Add after Run")
	}
	if s.Every <= 0 {
		panic("engine: module " + m.Name() + " has no interval")
	}
	if _, dup := e.byName[m.Name()]; dup {
		panic("engine: duplicate module " + m.Name())
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	version := 1
	if v, ok := m.(Versioned); ok {
		version = v.Version()
	}
	en := &entry{m: m, spec: s, version: version, poke: make(chan struct{}, 1), lastSkip: Run}
	e.mods = append(e.mods, en)
	e.byName[m.Name()] = en
	e.health.Register(m)
}

// service is work that runs for the engine's whole life rather than in
// passes: the live-update feed, woken by notifications.
type service struct {
	name string
	run  func(ctx context.Context)
}

// serviceRestart is how long a service that stopped by itself waits
// before it runs again.
const serviceRestart = time.Second

// AddService registers run to run on this instance for as long as the
// engine runs; should it return or panic early, it is logged and run
// again. Services are local: every instance runs its own.
func (e *Engine) AddService(name string, run func(ctx context.Context)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		panic("engine: AddService after Run")
	}
	e.services = append(e.services, service{name, run})
}

func (e *Engine) supervise(ctx context.Context, s service) {
	for ctx.Err() == nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					e.log.Error("service panicked", "service", s.name, "panic", v)
				}
			}()
			s.run(ctx)
		}()
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("service stopped by itself; restarting", "service", s.name)
		select {
		case <-ctx.Done():
		case <-clock.After(e.clk, serviceRestart):
		}
	}
}

// Health is the registry every pass is recorded in.
func (e *Engine) Health() *Health { return e.health }

// Modules lists the registered modules' names, in the order they were added.
func (e *Engine) Modules() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.mods)+len(e.services))
	for _, m := range e.mods {
		names = append(names, m.m.Name())
	}
	for _, s := range e.services {
		names = append(names, s.name)
	}
	return names
}

// Poke makes module name run a pass now rather than at its next tick
// (something became due: a write was queued). Unknown names are ignored.
func (e *Engine) Poke(name string) {
	e.mu.Lock()
	en := e.byName[name]
	e.mu.Unlock()
	if en == nil {
		return
	}
	select {
	case en.poke <- struct{}{}:
	default:
	}
}

// Poker returns a function that pokes module name, for code that must
// not know the engine.
func (e *Engine) Poker(name string) func() { return func() { e.Poke(name) } }

// Run runs every module's loop until ctx is done, and returns when the
// last pass has ended.
func (e *Engine) Run(ctx context.Context) {
	e.mu.Lock()
	e.running = true
	mods := append([]*entry(nil), e.mods...)
	services := append([]service(nil), e.services...)
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() { e.supervise(ctx, s) })
	}
	for _, en := range mods {
		wg.Go(func() { e.loop(ctx, en) })
	}
	wg.Wait()
}

func (e *Engine) loop(ctx context.Context, en *entry) {
	poked := false
	for {
		wait := en.spec.Every
		if standby := e.pass(ctx, en, poked); standby {
			wait = standbyWait(en.spec.Every)
		}
		tick, stop := clock.NewTimer(e.clk, wait)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-tick:
			poked = false
		case <-en.poke:
			stop()
			poked = true
		}
	}
}

// standbyWait is how soon an instance that left a pass to another one
// asks again. A tenth of the interval: the pass is due again when 90% of
// the interval since the last one began has gone by, so a standby asking
// this often takes over from an instance that died within one interval
// of its last pass's start, whatever the phase of its own ticker. Asking
// only every interval could leave the work undone for almost two.
func standbyWait(every time.Duration) time.Duration {
	return max(every/10, 100*time.Millisecond)
}

// pass runs one pass of en if this instance may, and records it. It
// reports whether it stood by for another instance that holds the module
// or ran it within the interval.
func (e *Engine) pass(ctx context.Context, en *entry, poked bool) (standby bool) {
	if ctx.Err() != nil {
		return false
	}
	name := en.m.Name()
	var lease Lease
	if e.locker != nil && !en.spec.Local {
		// The lease outlives a pass that overruns its deadline by the
		// watchdog's grace, so that a slow pass is not run twice.
		l, dec, err := e.locker.Begin(ctx, name, en.version, en.spec.Every, en.spec.Timeout+watchdogGrace, poked)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("engine lock unavailable; pass skipped", "module", name, "err", err)
				e.metrics.skipped(name, "error")
			}
			return false
		}
		if dec != Run {
			e.skip(en, dec)
			return dec == Busy || dec == Recent
		}
		lease = l
	}
	if en.lastSkip != Run {
		e.log.Info("module taken over by this instance", "module", name, "was", en.lastSkip.String())
		en.lastSkip = Run
	}
	pctx, cancel := context.WithTimeout(ctx, en.spec.Timeout)
	// The watchdog's timer is set and stopped here, not in its goroutine:
	// when the pass returns no timer of it is left, so that a test's fake
	// clock counts only the loops' own waits.
	fire, stop := clock.NewTimer(e.clk, en.spec.Timeout+watchdogGrace)
	done := make(chan struct{})
	go e.watch(ctx, en, done, fire)
	err := e.health.Run(pctx, en.m)
	close(done)
	stop()
	cancel()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("pass exceeded its %s deadline: %w", en.spec.Timeout, err)
	}
	if lease != nil {
		// The outcome is recorded even while shutting down.
		if lerr := lease.End(context.WithoutCancel(ctx), err); lerr != nil {
			e.log.Warn("engine lease not ended cleanly", "module", name, "err", lerr)
		}
	}
	if en.spec.After != nil && ctx.Err() == nil {
		en.spec.After()
	}
	return false
}

// skip records a pass another instance has, logging a change of state
// once.
func (e *Engine) skip(en *entry, dec Decision) {
	name := en.m.Name()
	e.metrics.skipped(name, dec.String())
	if dec == en.lastSkip {
		return
	}
	switch dec {
	case StandDown:
		e.log.Warn("module stood down: a newer version of it runs on another instance", "module", name, "version", en.version)
	case Busy, Recent:
		if en.lastSkip == Run {
			e.log.Debug("module runs on another instance", "module", name)
		}
	}
	en.lastSkip = dec
}

// watch reports a pass still running past its deadline plus a grace:
// its module ignores its context, and its lock is held for nothing.
func (e *Engine) watch(ctx context.Context, en *entry, done <-chan struct{}, fire <-chan time.Time) {
	select {
	case <-done:
	case <-ctx.Done():
	case <-fire:
		e.log.Error("module stuck: its pass ignored its deadline", "module", en.m.Name(), "deadline", en.spec.Timeout)
		e.metrics.stuck(en.m.Name())
	}
}
