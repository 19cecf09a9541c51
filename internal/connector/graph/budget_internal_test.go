package graph

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// TestBudget reads the sliding-minute limiter on a fake clock: a request
// counts until a window has passed since it was granted.
func TestBudget(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	c := &Client{limiter: newLimiter(3, time.Minute), clock: clk, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	take := func() {
		t.Helper()
		if err := c.take(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want int) {
		t.Helper()
		used, limit, window := c.Budget()
		if used != want || limit != 3 || window != time.Minute {
			t.Errorf("%s: Budget() = %d, %d, %s; want %d, 3, 1m0s", step, used, limit, window, want)
		}
	}
	check("fresh", 0)
	take() // at 0s
	clk.Advance(10 * time.Second)
	take() // at 10s
	take() // at 10s
	check("three sent", 3)
	clk.Advance(49 * time.Second) // 59s: all still inside
	check("at 59s", 3)
	clk.Advance(time.Second) // 60s: the first left the window
	check("at 60s", 2)
	take() // at 60s
	check("one more", 3)
	clk.Advance(10 * time.Second) // 70s: the two at 10s left
	check("at 70s", 1)
	clk.Advance(time.Hour)
	check("an hour later", 0)
}

// TestBudgetConcurrent reads the budget while requests take slots (run
// with -race).
func TestBudgetConcurrent(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC))
	c := &Client{limiter: newLimiter(1000, time.Minute), clock: clk, log: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := c.take(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if used, limit, _ := c.Budget(); used < 1 || used > limit {
					t.Errorf("Budget() used = %d, limit %d", used, limit)
					return
				}
			}
		})
	}
	wg.Wait()
	if used, _, _ := c.Budget(); used != 400 {
		t.Errorf("used = %d after 400 requests, want 400", used)
	}
}
