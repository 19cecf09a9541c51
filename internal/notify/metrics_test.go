package notify

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// statusRecorder keeps the statuses the target logged.
type statusRecorder struct{ statuses []string }

func (r *statusRecorder) RecordSend(_ context.Context, _ Notification, rc Receipt, _ error, _ bool, _ time.Duration) error {
	r.statuses = append(r.statuses, rc.Status)
	return nil
}

func TestMetricNotificationsCounted(t *testing.T) {
	retry := &outbox.RetryableError{Err: errors.New("503 Service Unavailable")}
	tests := []struct {
		name     string
		channel  *fakeChannel // nil: no channel for the contact method's type
		attempts int          // earlier attempts of the outbox message
		status   string
	}{
		{"sent", &fakeChannel{typ: TypeEmail}, 0, StatusSent},
		{"a retryable error", &fakeChannel{typ: TypeEmail, err: retry}, 0, StatusRetrying},
		{"a retryable error on the last attempt", &fakeChannel{typ: TypeEmail, err: retry}, outbox.MaxAttempts - 1, StatusFailed},
		{"a permanent error", &fakeChannel{typ: TypeEmail, err: errors.New("550 no such mailbox")}, 0, StatusFailed},
		{"no channel for the type", nil, 0, StatusFailed},
	}
	for _, tt := range tests {
		for _, recorded := range []bool{false, true} {
			name := tt.name
			if recorded {
				name += ", logged"
			}
			t.Run(name, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				c := NewCounter(reg)
				var chs []Channel
				if tt.channel != nil {
					chs = append(chs, tt.channel)
				}
				tg := NewTarget(chs...).Count(c)
				rec := &statusRecorder{}
				if recorded {
					tg.Record(rec, time.Now, slog.New(slog.DiscardHandler))
				}
				m, err := Message(samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"}))
				if err != nil {
					t.Fatal(err)
				}
				m.Attempts = tt.attempts
				_ = tg.Send(context.Background(), m)
				for _, s := range []string{StatusSent, StatusRetrying, StatusFailed} {
					want := 0.0
					if s == tt.status {
						want = 1
					}
					if got := testutil.ToFloat64(c.vec.WithLabelValues(TypeEmail, s)); got != want {
						t.Errorf("vigil_notifications_total{channel=email,status=%s} = %v, want %v", s, got, want)
					}
				}
				// The log and the counter agree on what happened.
				if recorded && tt.channel != nil && (len(rec.statuses) != 1 || rec.statuses[0] != tt.status) {
					t.Errorf("logged statuses %v, want [%s]", rec.statuses, tt.status)
				}
			})
		}
	}
}

func TestMetricNilCounterCountsNothing(t *testing.T) {
	var c *Counter
	c.Add(TypeEmail, StatusSent) // must not panic
	tg := NewTarget(&fakeChannel{typ: TypeEmail})
	m, _ := Message(samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"}))
	if err := tg.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}
