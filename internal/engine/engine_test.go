package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/engine"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// counter is a module that counts its passes and reports each on ran.
type counter struct {
	name   string
	passes atomic.Int64
	ran    chan struct{}
	done   chan struct{} // a pass is over (see after)
	// block, when set, makes a pass wait for its context to end
	// (ignore: wait for release instead, as a module stuck in a call).
	block   bool
	ignore  chan struct{}
	fail    error
	version int
}

func newCounter(name string) *counter {
	return &counter{name: name, ran: make(chan struct{}, 100), done: make(chan struct{}, 100)}
}

// after chains a signal on c.done to a spec's After hook: a pass is then
// known to be over, its watchdog's timer gone, before the test counts the
// loops asleep on the clock (ran fires inside the pass).
func (c *counter) after(s engine.Spec) engine.Spec {
	prev := s.After
	s.After = func() {
		if prev != nil {
			prev()
		}
		c.done <- struct{}{}
	}
	return s
}

// finished waits for n more complete passes of c (see after).
func (c *counter) finished(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no complete pass (after %d)", c.name, c.passes.Load())
		}
	}
}

func (c *counter) Name() string { return c.name }

func (c *counter) Version() int {
	if c.version == 0 {
		return 1
	}
	return c.version
}

func (c *counter) UpdateAll(ctx context.Context) error {
	c.passes.Add(1)
	defer func() { c.ran <- struct{}{} }()
	switch {
	case c.ignore != nil:
		<-c.ignore
		return nil
	case c.block:
		<-ctx.Done()
		return ctx.Err()
	}
	return c.fail
}

// wait waits for n more passes of c, failing the test after a second.
func (c *counter) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.ran:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no pass (after %d)", c.name, c.passes.Load())
		}
	}
}

// asleep waits until every module loop waits on the fake clock.
func asleep(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d loops asleep on the clock, want %d", clk.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func start(t *testing.T, e *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("engine did not stop")
		}
	})
}

// Each module runs at once, then on its own ticker as the injected clock
// advances, or at once when poked; passes are recorded in health and
// metrics.
func TestTickerAndPoke(t *testing.T) {
	clk := clock.NewFake(t0)
	reg := prometheus.NewRegistry()
	e := engine.New(engine.Options{Clock: clk, Metrics: engine.NewMetrics(reg)})
	fast, slow := newCounter("fast"), newCounter("slow")
	slow.fail = errors.New("boom")
	after := atomic.Int64{}
	e.Add(fast, fast.after(engine.Spec{Every: time.Second, After: func() { after.Add(1) }}))
	e.Add(slow, slow.after(engine.Spec{Every: time.Minute}))
	start(t, e)
	fast.finished(t, 1)
	slow.finished(t, 1)
	asleep(t, clk, 2)

	clk.Advance(time.Second)
	fast.finished(t, 1)
	asleep(t, clk, 2)
	if got := slow.passes.Load(); got != 1 {
		t.Errorf("slow ran %d times after 1s, want 1", got)
	}
	e.Poke("slow")
	slow.finished(t, 1)
	e.Poke("nobody") // ignored
	asleep(t, clk, 2)
	clk.Advance(time.Minute)
	fast.finished(t, 1)
	slow.finished(t, 1)
	asleep(t, clk, 2)

	if got := after.Load(); got < 3 {
		t.Errorf("After ran %d times, want one per pass of fast (3)", got)
	}
	st := map[string]engine.Status{}
	for _, s := range e.Health().Snapshot() {
		st[s.Name] = s
	}
	if s := st["fast"]; s.Runs != 3 || s.LastSuccess.IsZero() || s.LastError != "" {
		t.Errorf("fast status = %+v, want 3 successful runs", s)
	}
	if s := st["slow"]; s.Runs != 3 || s.Failures != 3 || s.LastError != "boom" {
		t.Errorf("slow status = %+v, want 3 failed runs", s)
	}
	if got := testutil.ToFloat64(mustVec(t, reg, "vigil_engine_passes_total", "fast", "ok")); got != 3 {
		t.Errorf("vigil_engine_passes_total{fast,ok} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(mustVec(t, reg, "vigil_engine_passes_total", "slow", "error")); got != 3 {
		t.Errorf("vigil_engine_passes_total{slow,error} = %v, want 3", got)
	}
}

// mustVec finds one sample of a counter by its label values.
func mustVec(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := true
			for i, l := range m.GetLabel() {
				if i < len(labels) && l.GetValue() != labels[i] {
					ok = false
				}
			}
			if ok {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// A pass that outlives its deadline has its context cancelled and is
// recorded as failed; one that ignores its context is reported stuck.
func TestDeadlineAndWatchdog(t *testing.T) {
	clk := clock.NewFake(t0)
	logs := &lockedBuffer{}
	e := engine.New(engine.Options{Clock: clk, Logger: newLogger(logs)})
	stuck := newCounter("stuck")
	stuck.ignore = make(chan struct{})
	e.Add(stuck, engine.Spec{Every: time.Minute, Timeout: 10 * time.Second})
	start(t, e)
	asleep(t, clk, 1) // the watchdog's timer
	clk.Advance(10*time.Second + 31*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "module stuck") {
		if time.Now().After(deadline) {
			t.Fatalf("no stuck report; log:\n%s", logs)
		}
		time.Sleep(time.Millisecond)
	}
	close(stuck.ignore)
	stuck.wait(t, 1)
}

// fakeLocker answers each Begin from a script and records the leases.
type fakeLocker struct {
	mu        sync.Mutex
	decisions []engine.Decision
	begun     []bool // poked, per Begin
	ended     []error
	versions  []int
}

type fakeLease struct{ l *fakeLocker }

func (f fakeLease) End(_ context.Context, err error) error {
	f.l.mu.Lock()
	f.l.ended = append(f.l.ended, err)
	f.l.mu.Unlock()
	return nil
}

func (f *fakeLocker) Begin(_ context.Context, name string, version int, every, hold time.Duration, poked bool) (engine.Lease, engine.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begun = append(f.begun, poked)
	f.versions = append(f.versions, version)
	d := engine.Run
	if len(f.decisions) > 0 {
		d, f.decisions = f.decisions[0], f.decisions[1:]
	}
	if d != engine.Run {
		return nil, d, nil
	}
	return fakeLease{f}, engine.Run, nil
}

// With a locker, a pass runs only when the locker says so, the lease is
// ended with the pass's outcome, local modules skip the locker, and a
// module standing down says so once.
func TestLocker(t *testing.T) {
	clk := clock.NewFake(t0)
	logs := &lockedBuffer{}
	l := &fakeLocker{decisions: []engine.Decision{engine.Busy, engine.StandDown, engine.StandDown, engine.Run}}
	reg := prometheus.NewRegistry()
	e := engine.New(engine.Options{Clock: clk, Locker: l, Logger: newLogger(logs), Metrics: engine.NewMetrics(reg)})
	shared, local := newCounter("sync"), newCounter("feed")
	shared.version = 3
	e.Add(shared, shared.after(engine.Spec{Every: time.Second}))
	e.Add(local, local.after(engine.Spec{Every: time.Second, Local: true}))
	start(t, e)
	local.finished(t, 1)
	for range 2 { // the first pass was busy; then stand down twice
		asleep(t, clk, 2)
		clk.Advance(time.Second)
		local.finished(t, 1)
	}
	asleep(t, clk, 2)
	if got := shared.passes.Load(); got != 0 {
		t.Fatalf("sync ran %d times while another instance had it", got)
	}
	clk.Advance(time.Second)
	shared.wait(t, 1)
	// The lease ends just after the pass returns.
	var begun, ended, versions int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		begun, ended, versions = len(l.begun), len(l.ended), l.versions[0]
		l.mu.Unlock()
		if ended > 0 || time.Now().After(deadline) {
			break
		}
	}
	if begun != 4 || ended != 1 || versions != 3 {
		t.Errorf("locker: %d begun, %d ended, version %d; want 4 (the local module never asks), 1, 3", begun, ended, versions)
	}
	if n := strings.Count(logs.String(), "module stood down"); n != 1 {
		t.Errorf("stand-down logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "module taken over by this instance") {
		t.Errorf("taking the module over is not logged:\n%s", logs)
	}
	if got := testutil.ToFloat64(mustVec(t, reg, "vigil_engine_passes_skipped_total", "sync", "stand-down")); got != 2 {
		t.Errorf("skipped{sync,stand-down} = %v, want 2", got)
	}
}

// A service runs for the engine's life, and runs again if it stops or
// panics by itself.
func TestServiceRestarts(t *testing.T) {
	clk := clock.NewFake(t0)
	e := engine.New(engine.Options{Clock: clk})
	runs := make(chan int, 10)
	n := 0
	e.AddService("feed", func(ctx context.Context) {
		n++
		runs <- n
		switch n {
		case 1:
			return // stops by itself
		case 2:
			panic("boom")
		}
		<-ctx.Done()
	})
	start(t, e)
	for want := 1; want <= 3; want++ {
		select {
		case got := <-runs:
			if got != want {
				t.Fatalf("run %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("service not run a %d. time", want)
		}
		if want < 3 {
			asleep(t, clk, 1)
			clk.Advance(time.Second)
		}
	}
	if got := e.Modules(); len(got) != 1 || got[0] != "feed" {
		t.Errorf("Modules() = %v, want [feed]", got)
	}
}
