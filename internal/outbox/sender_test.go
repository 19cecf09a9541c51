package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// memStore is an in-memory Store: enough to test the sender's decisions.
type memStore struct {
	msgs     map[int64]*Message
	timeline []string
}

func (m *memStore) ClaimOutbox(_ context.Context, _ time.Duration, _ int) ([]Message, error) {
	var out []Message
	for _, msg := range m.msgs {
		if msg.State == Pending {
			out = append(out, *msg)
		}
	}
	return out, nil
}
func (m *memStore) CompleteOutbox(_ context.Context, id int64) error {
	m.msgs[id].State = Done
	m.msgs[id].Attempts++
	return nil
}
func (m *memStore) RescheduleOutbox(_ context.Context, id int64, next time.Time, e string) error {
	m.msgs[id].Attempts++
	m.msgs[id].NextAt, m.msgs[id].LastError = next, e
	return nil
}
func (m *memStore) FailOutbox(_ context.Context, id int64, e string) error {
	m.msgs[id].State, m.msgs[id].LastError = Failed, e
	m.msgs[id].Attempts++
	return nil
}
func (m *memStore) DeferOutbox(_ context.Context, id int64, next time.Time, e string) error {
	m.msgs[id].NextAt, m.msgs[id].LastError = next, e
	return nil
}
func (m *memStore) AppendTimeline(_ context.Context, _ int64, _, _, msg string, _ any) error {
	m.timeline = append(m.timeline, msg)
	return nil
}

type targetFunc func(context.Context, Message) error

func (f targetFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

func TestSenderOutcomes(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	throttled := &RetryableError{Err: errors.New("429 TooManyRequests"), After: 90 * time.Second}
	tests := []struct {
		name      string
		target    string
		attempts  int
		err       error
		wantState string
		wantNote  string
		check     func(t *testing.T, m *Message)
	}{
		{"delivered", "ok", 0, nil, Done, "write-back done", nil},
		{"permanent error fails at once", "ok", 0, errors.New("404 NotFound"), Failed, "write-back failed", nil},
		{"unknown target fails", "nowhere", 0, nil, Failed, "no connector", nil},
		{"throttled waits at least Retry-After", "ok", 0, throttled, Pending, "will be retried", func(t *testing.T, m *Message) {
			if wait := m.NextAt.Sub(t0); wait < 90*time.Second {
				t.Errorf("next attempt in %s, want at least the 90s Retry-After", wait)
			}
		}},
		{"conflict completes with the reason on the timeline", "ok", 0,
			fmt.Errorf("close incident: %w", &ConflictError{Reason: "incident 7 was closed in Sentinel as FalsePositive"}),
			Done, "incident 7 was closed in Sentinel as FalsePositive", nil},
		{"gives up after MaxAttempts", "ok", MaxAttempts - 1, throttled, Failed, "gave up after", nil},
		{"deferred by a rate limit counts no attempt", "ok", MaxAttempts - 1, &DeferError{Until: t0.Add(time.Minute), Reason: "1 text a minute"},
			Pending, "held until 12:01:00", func(t *testing.T, m *Message) {
				if m.Attempts != MaxAttempts-1 || !m.NextAt.Equal(t0.Add(time.Minute)) {
					t.Errorf("deferred message: attempts %d next %s", m.Attempts, m.NextAt)
				}
			}},
		{"skipped completes with the reason", "ok", 0, &SkipError{Reason: "bundled into notification x"}, Done, "not sent: ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{msgs: map[int64]*Message{1: {ID: 1, WorkItemID: 9, Target: tt.target, Op: "alert.resolve",
				Resource: "r", State: Pending, Attempts: tt.attempts}}}
			target := targetFunc(func(context.Context, Message) error { return tt.err })
			s := NewSender(st, map[string]Target{"ok": target}, clock.NewFake(t0), slog.New(slog.DiscardHandler))
			if err := s.UpdateAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			m := st.msgs[1]
			if m.State != tt.wantState {
				t.Errorf("state = %s, want %s (error %q)", m.State, tt.wantState, m.LastError)
			}
			if len(st.timeline) != 1 || !strings.Contains(st.timeline[0], tt.wantNote) {
				t.Errorf("timeline = %q, want one entry containing %q", st.timeline, tt.wantNote)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}
