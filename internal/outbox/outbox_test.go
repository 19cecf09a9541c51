package outbox

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		attempts   int
		retryAfter time.Duration
		min, max   time.Duration
	}{
		{1, 0, BaseDelay / 2, BaseDelay + BaseDelay/2},
		{3, 0, BaseDelay / 2, 4*BaseDelay + BaseDelay/2},
		{50, 0, BaseDelay / 2, MaxDelay + BaseDelay/2},
		{1, 30 * time.Second, 30 * time.Second, 30 * time.Second}, // Retry-After wins over a short backoff
		{1, 2 * time.Hour, 2 * time.Hour, 2 * time.Hour},          // and is honoured even past the cap
	}
	for _, tt := range tests {
		for range 200 {
			if d := Backoff(tt.attempts, tt.retryAfter, rnd); d < tt.min || d > tt.max {
				t.Fatalf("Backoff(%d, %s) = %s, want within [%s, %s]", tt.attempts, tt.retryAfter, d, tt.min, tt.max)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"10", 10 * time.Second},
		{"2.128", 2128 * time.Millisecond}, // as Graph's throttling docs show it
		{"0", 0},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := RetryAfter(tc.in, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
