package feeds

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0.Add(24 * time.Hour) }

func values(inds []Indicator) []string {
	out := make([]string, 0, len(inds))
	for _, i := range inds {
		out = append(out, i.Type+":"+i.Value)
	}
	return out
}

func mustPass(t *testing.T, f Feed, cursor string) Result {
	t.Helper()
	res, err := f.Pass(context.Background(), cursor)
	if err != nil {
		t.Fatalf("%s pass from %q: %v", f.Name(), cursor, err)
	}
	return res
}

// checkRetryable asserts err is an *outbox.RetryableError with After.
func checkRetryable(t *testing.T, err error, after time.Duration) {
	t.Helper()
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("want RetryableError, got %T %v", err, err)
	}
	if re.After != after {
		t.Errorf("After = %v, want %v", re.After, after)
	}
}

func checkNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error text holds the secret: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
