package twoway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/twoway"
)

// scripted is a module whose passes take took on the fake clock and
// return the next of errs (nil: success).
type scripted struct {
	name string
	clk  *clock.Fake
	took time.Duration
	errs []error
	n    int
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) UpdateAll(ctx context.Context) error {
	s.clk.Advance(s.took)
	err := s.errs[s.n%len(s.errs)]
	s.n++
	return err
}

// kinded reports a kind and, with limit > 0, a budget.
type kinded struct {
	scripted
	kind         string
	used, limit  int
	budgetWindow time.Duration
}

func (k *kinded) Kind() string { return k.kind }

func (k *kinded) Budget() twoway.Budget {
	return twoway.Budget{Used: k.used, Limit: k.limit, Window: k.budgetWindow}
}

func TestHealthRecordsPasses(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const took = 3 * time.Second
	at := func(pass int) time.Time { return t0.Add(time.Duration(pass) * took) } // end of pass n (1-based)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		passes []error
		want   twoway.Status // Name, Kind and Duration are checked for every case
	}{
		{"never run", nil, twoway.Status{}},
		{"success", []error{nil},
			twoway.Status{LastRun: at(0), LastSuccess: at(1), Runs: 1}},
		{"failure", []error{boom},
			twoway.Status{LastRun: at(0), LastError: "boom", LastErrorAt: at(1), Runs: 1, Failures: 1, ConsecutiveFailures: 1}},
		{"consecutive failures", []error{nil, boom, fmt.Errorf("list alerts: %w", boom)},
			twoway.Status{LastRun: at(2), LastSuccess: at(1), LastError: "list alerts: boom", LastErrorAt: at(3),
				Runs: 3, Failures: 2, ConsecutiveFailures: 2}},
		{"success resets consecutive failures", []error{boom, boom, nil},
			twoway.Status{LastRun: at(2), LastSuccess: at(3), LastErrorAt: at(2), Runs: 3, Failures: 2}},
		{"failure after recovery", []error{boom, nil, boom},
			twoway.Status{LastRun: at(2), LastSuccess: at(2), LastError: "boom", LastErrorAt: at(3),
				Runs: 3, Failures: 2, ConsecutiveFailures: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			h := twoway.NewHealth(clk)
			m := &scripted{name: "sentinel:ws", clk: clk, took: took, errs: tc.passes}
			h.Register(m)
			for i := range tc.passes {
				got := h.Run(context.Background(), m)
				if !errors.Is(got, tc.passes[i]) {
					t.Errorf("pass %d returned %v, want %v", i+1, got, tc.passes[i])
				}
			}
			snap := h.Snapshot()
			if len(snap) != 1 {
				t.Fatalf("snapshot = %+v, want one module", snap)
			}
			want := tc.want
			want.Name, want.Kind = "sentinel:ws", "module"
			if len(tc.passes) > 0 {
				want.Duration = took
			}
			if snap[0] != want {
				t.Errorf("status =\n %+v\nwant\n %+v", snap[0], want)
			}
		})
	}
}

// TestHealthScrubsErrors keeps credentials off the health page.
func TestHealthScrubsErrors(t *testing.T) {
	const secret = "s3cr3t~Value.42"
	for _, tc := range []struct {
		name, err string
		want      string // what LastError must read
		gone      []string
	}{
		{"token request form", "POST https://login.example/t/oauth2/v2.0/token: client_id=app&client_secret=abc%2Bdef&scope=x: 400",
			"POST https://login.example/t/oauth2/v2.0/token: client_id=app&client_secret=[REDACTED]&scope=x: 400", []string{"abc%2Bdef"}},
		{"token answer", `unexpected answer {"token_type":"Bearer","access_token":"eyJ0eXAi.payload.sig","expires_in":3599}`,
			`unexpected answer {"token_type":"Bearer","access_token":"[REDACTED]","expires_in":3599}`, []string{"eyJ0eXAi"}},
		{"bearer token", "request failed with Bearer eyJhbGciOi.xyz-_~+/= in flight",
			"request failed with Bearer [REDACTED] in flight", []string{"eyJhbGciOi"}},
		{"authorization header", "headers: map[Authorization:[Bearer eyJabc.def] Accept:[application/json]]",
			"headers: map[Authorization:[[REDACTED]] Accept:[application/json]]", []string{"eyJabc"}},
		{"basic authorization", "Authorization: Basic dXNlcjpwYXNz; retry",
			"Authorization: [REDACTED]; retry", []string{"dXNlcjpwYXNz"}},
		{"password in URL", "GET https://svc:hunter2@example.service-now.com/api: refused",
			"GET https://svc:[REDACTED]@example.service-now.com/api: refused", []string{"hunter2"}},
		{"configured secret", "AADSTS7000215: Invalid client secret provided: " + secret,
			"AADSTS7000215: Invalid client secret provided: [REDACTED]", []string{secret}},
		{"nothing to scrub", "graph: 403 Authorization_RequestDenied: Insufficient privileges",
			"graph: 403 Authorization_RequestDenied: Insufficient privileges", nil},
		{"long error", strings.Repeat("x", 5000), strings.Repeat("x", 2000) + "…", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
			h := twoway.NewHealth(clk)
			h.Redact(secret, "")
			m := &scripted{name: "graph", clk: clk, errs: []error{errors.New(tc.err)}}
			if err := h.Run(context.Background(), m); err == nil || err.Error() != tc.err {
				t.Errorf("Run returned %v, want the module's own error", err)
			}
			got := h.Snapshot()[0].LastError
			if got != tc.want {
				t.Errorf("LastError =\n %s\nwant\n %s", got, tc.want)
			}
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("LastError %q still holds %q", got, g)
				}
			}
		})
	}
}

// TestHealthKindsAndBudgets reports each module's kind and its budget as
// it is when the snapshot is taken, in registration order.
func TestHealthKindsAndBudgets(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	h := twoway.NewHealth(clk)
	plain := &scripted{name: "defender:sub", clk: clk, errs: []error{nil}}
	budgeted := &kinded{scripted: scripted{name: "graph", clk: clk, errs: []error{nil}}, kind: "poller", used: 7, limit: 150, budgetWindow: time.Minute}
	unlimited := &kinded{scripted: scripted{name: "reconciler", clk: clk, errs: []error{nil}}, kind: "reconciler"}
	h.Register(plain, budgeted, unlimited)
	h.Register(budgeted) // again: no second entry
	budgeted.used = 9

	snap := h.Snapshot()
	if len(snap) != 3 {
		t.Fatalf("snapshot has %d modules, want 3", len(snap))
	}
	for i, want := range []struct {
		name, kind string
		budget     *twoway.Budget
	}{
		{"defender:sub", "module", nil},
		{"graph", "poller", &twoway.Budget{Used: 9, Limit: 150, Window: time.Minute}},
		{"reconciler", "reconciler", nil}, // a limit of 0 is no budget
	} {
		s := snap[i]
		if s.Name != want.name || s.Kind != want.kind {
			t.Errorf("module %d = %s (%s), want %s (%s)", i, s.Name, s.Kind, want.name, want.kind)
		}
		switch {
		case want.budget == nil && s.Budget != nil:
			t.Errorf("%s: budget %+v, want none", s.Name, *s.Budget)
		case want.budget != nil && (s.Budget == nil || *s.Budget != *want.budget):
			t.Errorf("%s: budget %v, want %+v", s.Name, s.Budget, *want.budget)
		}
	}
	// A snapshot is a copy.
	snap[1].Budget.Used, snap[1].Runs = 1000, 1000
	if again := h.Snapshot()[1]; again.Budget.Used != 9 || again.Runs != 0 {
		t.Errorf("snapshot shares state with the registry: %+v", again)
	}
}

// TestHealthGraphPollerBudget reads the Graph client's budget through the
// poller module.
func TestHealthGraphPollerBudget(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	c, err := graph.New(graph.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", Budget: 40, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	h := twoway.NewHealth(clk)
	h.Register(twoway.NewGraphPoller(c, nil, nil, twoway.GraphOptions{Clock: clk, Logger: log}), twoway.NewReconciler(nil, log))
	snap := h.Snapshot()
	if s := snap[0]; s.Name != "graph" || s.Kind != "poller" || s.Budget == nil ||
		*s.Budget != (twoway.Budget{Used: 0, Limit: 40, Window: time.Minute}) {
		t.Errorf("graph poller status = %+v (budget %v)", s, s.Budget)
	}
	if s := snap[1]; s.Kind != "reconciler" || s.Budget != nil {
		t.Errorf("reconciler status = %+v", s)
	}
}

// TestHealthCancelledPass does not count a pass cut short by shutdown.
func TestHealthCancelledPass(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	h := twoway.NewHealth(clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &scripted{name: "graph", clk: clk, errs: []error{context.Canceled}}
	if err := h.Run(ctx, m); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if s := h.Snapshot()[0]; s.Runs != 0 || s.Failures != 0 || s.LastError != "" {
		t.Errorf("cancelled pass recorded: %+v", s)
	}
}

// TestRunCycleWithHealth records every module's passes; a nil Health
// (RunCycle) records nothing and still runs them.
func TestRunCycleWithHealth(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	h := twoway.NewHealth(clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failing := &scripted{name: "sentinel:ws", clk: clk, errs: []error{errors.New("429 client_secret=oops")}}
	cycles := 0
	after := func() {
		if cycles++; cycles == 3 {
			cancel()
		}
	}
	ok := &scripted{name: "mirror:boards", clk: clk, took: time.Second, errs: []error{nil}}
	twoway.RunCycleWithHealth(ctx, []twoway.Module{failing, ok}, time.Millisecond, after, slog.New(slog.DiscardHandler), h)
	snap := h.Snapshot()
	if len(snap) != 2 || snap[0].Runs != 3 || snap[0].ConsecutiveFailures != 3 || snap[0].LastError != "429 client_secret=[REDACTED]" ||
		snap[1].Runs != 3 || snap[1].Failures != 0 || snap[1].Duration != time.Second {
		t.Errorf("after three cycles: %+v", snap)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	n := 0
	twoway.RunCycle(ctx2, []twoway.Module{ok}, time.Millisecond, func() { n++; cancel2() }, slog.New(slog.DiscardHandler))
	if n != 1 || ok.n != 4 {
		t.Errorf("RunCycle ran %d cycles and %d passes, want 1 and 4", n, ok.n)
	}
}

// TestHealthConcurrent takes snapshots while passes run (run with -race).
func TestHealthConcurrent(t *testing.T) {
	h := twoway.NewHealth(clock.Real{})
	var wg sync.WaitGroup
	for i := range 4 {
		m := &kinded{scripted: scripted{name: fmt.Sprintf("m%d", i), clk: clock.NewFake(time.Time{}), errs: []error{nil, errors.New("x")}},
			kind: "poller", limit: 10}
		wg.Go(func() {
			for range 200 {
				h.Run(context.Background(), m)
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			for _, s := range h.Snapshot() {
				if s.Runs < 0 || s.Budget == nil {
					t.Errorf("bad status %+v", s)
					return
				}
			}
		}
	})
	wg.Wait()
	for _, s := range h.Snapshot() {
		if s.Runs != 200 || s.Failures != 100 {
			t.Errorf("%s: runs %d, failures %d; want 200, 100", s.Name, s.Runs, s.Failures)
		}
	}
}
