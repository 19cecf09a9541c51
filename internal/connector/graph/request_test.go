package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestBudget: a client with a small budget never sends more than it in any
// minute, and waits exactly until the oldest request leaves the window.
func TestBudget(t *testing.T) {
	e := start(t, simulator.Options{}, true)
	const budget = 3
	c := e.client(t, func(cfg *graph.Config) { cfg.Budget = budget })
	ctx := context.Background()

	const reads = 7
	done := make(chan error, 1)
	go func() {
		for range reads {
			if _, err := c.AlertsV2(ctx, graph.Query{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	blocked := func(n int64) {
		t.Helper()
		waitFor(t, "the client to block on its budget", func() bool { return c.Requests() == n && graph.Waiting(c) == 1 })
		time.Sleep(20 * time.Millisecond) // a client that would overspend does so now
		if got := c.Requests(); got != n {
			t.Fatalf("requests = %d while the budget is spent, want %d", got, n)
		}
	}
	blocked(3)
	e.fake.Advance(59 * time.Second)
	blocked(3) // not yet a minute after the first
	e.fake.Advance(time.Second)
	blocked(6)
	e.fake.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := c.Requests(); got != reads {
		t.Errorf("requests = %d, want %d", got, reads)
	}
	sent := e.rec.times()
	for i := range sent {
		n := 0
		for _, s := range sent[i:] {
			if s.Sub(sent[i]) < time.Minute {
				n++
			}
		}
		if n > budget {
			t.Errorf("%d requests in the minute from %s, budget %d (sent %v)", n, sent[i], budget, sent)
		}
	}

	// A wait for budget ends with the caller's context.
	one := e.client(t, func(cfg *graph.Config) { cfg.Budget = 1 })
	if _, err := one.AlertsV2(ctx, graph.Query{}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	_, err := one.AlertsV2(cctx, graph.Query{})
	if !errors.Is(err, context.DeadlineExceeded) || !retryable(err) {
		t.Errorf("read with a spent budget and a short context: %v, want a retryable deadline error", err)
	}
}

// TestThrottling: reads wait out Graph's 429s (the simulator's own
// per-minute budget, and injected ones), within bounds.
func TestThrottling(t *testing.T) {
	ctx := context.Background()
	t.Run("simulator budget", func(t *testing.T) {
		e := start(t, simulator.Options{GraphBudget: 2}, true)
		c := e.client(t, nil)
		for range 2 {
			if _, err := c.AlertsV2(ctx, graph.Query{}); err != nil {
				t.Fatal(err)
			}
		}
		before := e.fake.Now()
		done := make(chan error, 1)
		go func() { _, err := c.AlertsV2(ctx, graph.Query{}); done <- err }()
		waitFor(t, "the client to wait out the 429", func() bool { return graph.Waiting(c) == 1 })
		if got := c.Requests(); got != 3 {
			t.Fatalf("requests = %d, want 3 (the third throttled)", got)
		}
		e.fake.Advance(time.Minute) // the simulator's window resets
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := c.Requests(); got != 4 {
			t.Errorf("requests = %d, want 4", got)
		}
		if waited := e.fake.Now().Sub(before); waited < time.Minute {
			t.Errorf("waited %s, want the Retry-After of about a minute", waited)
		}
	})
	for _, tc := range []struct {
		name      string
		fault     simulator.Fault
		wantErr   bool
		wantAfter time.Duration
		requests  int64
	}{
		{"429 waited out", simulator.Fault{Endpoint: "graph.alerts_v2.list", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 10, Times: 1},
			false, 0, 2},
		{"503 waited out", simulator.Fault{Endpoint: "graph.", Kind: simulator.FaultStatus, Status: 503, Times: 2}, false, 0, 3},
		{"Retry-After too long to block a read", simulator.Fault{Endpoint: "graph.alerts_v2.list", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 3600},
			true, time.Hour, 1},
		{"429s that do not end", simulator.Fault{Endpoint: "graph.alerts_v2.list", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 5},
			true, 5 * time.Second, 4},
		{"500s that do not end", simulator.Fault{Endpoint: "graph.", Kind: simulator.FaultStatus, Status: 500}, true, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, simulator.Options{}, true)
			c := e.client(t, nil)
			e.fault(t, tc.fault)
			e.drive(t, c, time.Second)
			_, err := c.AlertsV2(ctx, graph.Query{})
			checkRetryable(t, err, tc.wantErr, tc.wantAfter)
			if got := c.Requests(); got != tc.requests {
				t.Errorf("requests = %d, want %d", got, tc.requests)
			}
		})
	}
}

// TestInsufficientAccess: a 403 right after a role grant is retried with
// backoff, and returned as retryable if it persists.
func TestInsufficientAccess(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		times    int
		wantErr  bool
		requests int64
		waited   time.Duration
	}{
		{"first call", 1, false, 2, 2 * time.Second},
		{"first two calls", 2, false, 3, 7 * time.Second},
		{"not granted", 0, true, 4, 17 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, simulator.Options{}, true)
			c := e.client(t, nil)
			e.fault(t, simulator.Fault{Endpoint: "graph.alerts_v2.list", Kind: simulator.FaultInsufficientAccess, Times: tc.times})
			e.drive(t, c, 100*time.Millisecond)
			_, err := c.AlertsV2(ctx, graph.Query{})
			checkRetryable(t, err, tc.wantErr, 0)
			if got := c.Requests(); got != tc.requests {
				t.Errorf("requests = %d, want %d", got, tc.requests)
			}
			if waited := e.fake.Now().Sub(t0); waited < tc.waited {
				t.Errorf("backed off %s in all, want at least %s", waited, tc.waited)
			}
		})
	}
}

// TestExpiredTokens: after the tenant expires every token, reads and
// writes fetch a new one and go through.
func TestExpiredTokens(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	c := e.client(t, nil)
	ctx := context.Background()
	a := e.raiseDefender(t, simulator.AlertSpec{})
	if _, err := c.AlertsV2(ctx, graph.Query{}); err != nil {
		t.Fatal(err)
	}
	for i, step := range []func() error{
		func() error { _, err := c.AlertsV2(ctx, graph.Query{}); return err },
		func() error { _, err := c.LegacyAlerts(ctx, graph.LegacyQuery{Provider: "ASC"}); return err },
		func() error {
			return c.Send(ctx, message(graph.OpUpdate, a.GraphAlertID, graph.UpdatePayload{AssignedTo: "alice@contoso.com"}))
		},
	} {
		tokens, requests := e.sim.Hits("entra.token"), c.Requests()
		e.post(t, "/sim/v1/tokens/expire", nil, nil)
		if err := step(); err != nil {
			t.Fatalf("step %d after expiry: %v", i, err)
		}
		if got := e.sim.Hits("entra.token"); got != tokens+1 {
			t.Errorf("step %d: token requests %d → %d, want one more", i, tokens, got)
		}
		if got := c.Requests() - requests; got != 2 {
			t.Errorf("step %d: %d requests, want 2 (401, then the retry)", i, got)
		}
	}
	if got := e.sim.World().GraphAlertAnnotations(a.GraphAlertID).AssignedTo; got != "alice@contoso.com" {
		t.Errorf("assignedTo = %q after the write", got)
	}
}

func retryable(err error) bool {
	var re *outbox.RetryableError
	return errors.As(err, &re)
}

func checkRetryable(t *testing.T, err error, wantErr bool, after time.Duration) {
	t.Helper()
	if !wantErr {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
		return
	}
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *outbox.RetryableError", err, err)
	}
	if re.After != after {
		t.Errorf("Retry-After = %s, want %s", re.After, after)
	}
}

// TestWrongSecret: a credential the identity platform refuses is not worth
// retrying, and the error does not repeat the secret.
func TestWrongSecret(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	const secret = "not-the-secret-xyz"
	c := e.client(t, func(cfg *graph.Config) { cfg.ClientSecret = secret })
	_, err := c.AlertsV2(context.Background(), graph.Query{})
	if err == nil || retryable(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("err names the secret: %v", err)
	}
	if got := c.Requests(); got != 0 {
		t.Errorf("requests = %d, want 0: none can go out without a token", got)
	}
}
