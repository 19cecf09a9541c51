package graph

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
)

func TestLimiter(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2025, 3, 1, 10, 0, s, 0, time.UTC) }
	l := newLimiter(2, time.Minute)
	for _, tc := range []struct {
		now  time.Time
		want time.Duration // 0: granted
	}{
		{at(0), 0},
		{at(10), 0},
		{at(20), 40 * time.Second}, // the first leaves the window at 60
		{at(59), time.Second},
		{at(60), 0},                 // the first left; the one at 10 and this one remain
		{at(65), 5 * time.Second},   // the one at 10 leaves at 70
		{at(130), 0},                // everything left
		{at(130), 0},                // two at once are within the budget
		{at(131), 59 * time.Second}, // and the third waits for them
	} {
		if got := l.reserve(tc.now); got != tc.want {
			t.Errorf("reserve at %s = %s, want %s", tc.now.Format("04:05"), got, tc.want)
		}
	}
}

// TestParseError reads Graph's documented error bodies.
func TestParseError(t *testing.T) {
	c := &Client{clock: clock.NewFake(time.Date(2020, 8, 18, 12, 51, 51, 0, time.UTC))}
	for _, tc := range []struct {
		file, retryAfter string
		status           int
		code             string
		retry            bool
		after            time.Duration
	}{
		{"throttled_429_response.json", "10", 429, "TooManyRequests", true, 10 * time.Second},
		{"error_response.json", "", 416, "invalidRange", false, 0},
	} {
		body, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		res := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			res.Header.Set("Retry-After", tc.retryAfter)
		}
		e := c.parseError(res, body)
		if e.Code != tc.code || e.Message == "" || e.RetryAfter != tc.after {
			t.Errorf("%s: %+v", tc.file, e)
		}
		var re *outbox.RetryableError
		if got := errors.As(e.classify(), &re); got != tc.retry {
			t.Errorf("%s: retryable = %v, want %v", tc.file, got, tc.retry)
		}
	}
}
