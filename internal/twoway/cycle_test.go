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

	"github.com/vigil-soc/vigil/internal/twoway"
)

// records is a slog handler that keeps every record, for tests that
// check what a cycle logs at which level.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// atLeast returns "LEVEL message attr=…" of each record at level or above.
func (r *records) atLeast(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		if rec.Level < level {
			continue
		}
		line := rec.Level.String() + " " + rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key != "took" {
				line += " " + a.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

// noting is a module whose pass i notes notes[i] (nothing when empty),
// and fails with errs[i] when that is not nil.
type noting struct {
	name  string
	notes []int
	errs  []error
	n     int
}

func (m *noting) Name() string { return m.name }

func (m *noting) UpdateAll(ctx context.Context) error {
	i := m.n
	m.n++
	if i < len(m.notes) {
		twoway.Note(ctx, "work item followed Sentinel", "work items followed Sentinel", m.notes[i])
	}
	if i < len(m.errs) {
		return m.errs[i]
	}
	return nil
}

// runCycles runs c for n cycles, calling each(i) at the end of cycle i.
func runCycles(c twoway.Cycle, n int, each func(i int)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	i := 0
	c.Interval = time.Millisecond
	c.After = func() {
		if each != nil {
			each(i)
		}
		if i++; i == n {
			cancel()
		}
	}
	c.Run(ctx)
}

// TestQuietCycleLogsNothingAtInfo: the demo syncs every 3 s, so a cycle
// in which nothing changed must not log at info (it would bury the
// banner); its passes are debug lines.
func TestQuietCycleLogsNothingAtInfo(t *testing.T) {
	rec := &records{}
	mods := []twoway.Module{&noting{name: "sentinel:ws"}, &noting{name: "defender:sub"}, &noting{name: "reconciler"}}
	runCycles(twoway.Cycle{Modules: mods, Log: slog.New(rec), Activity: twoway.NewActivity()}, 3, nil)
	if got := rec.atLeast(slog.LevelInfo); len(got) != 0 {
		t.Errorf("three quiet cycles logged at info or above:\n%s", strings.Join(got, "\n"))
	}
	if got := len(rec.atLeast(slog.LevelDebug)); got != 9 {
		t.Errorf("three quiet cycles of three modules logged %d debug lines, want 9 (one per pass)", got)
	}
}

// TestCycleSummarisesChanges: a cycle that changed something logs one
// info line with every change counted, including the outbox sender's
// deliveries noted between cycles, with thousands separators.
func TestCycleSummarisesChanges(t *testing.T) {
	rec := &records{}
	act := twoway.NewActivity()
	sentinel := &noting{name: "sentinel:ws", notes: []int{0, 3, 0, 1500}}
	reconciler := &noting{name: "reconciler"}
	runCycles(twoway.Cycle{Modules: []twoway.Module{sentinel, reconciler}, Log: slog.New(rec), Activity: act}, 4, func(i int) {
		if i == 1 || i == 3 {
			// The sender runs on its own ticker; what it delivers shows
			// in the summary of the cycle it was delivered in.
			act.Note("write delivered", "writes delivered", i/2+1)
		}
	})
	got := rec.atLeast(slog.LevelInfo)
	want := []string{
		"INFO sync cycle: 3 work items followed Sentinel, 1 write delivered",
		"INFO sync cycle: 1,500 work items followed Sentinel, 2 writes delivered",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("info lines of four cycles:\n got %q\nwant %q", got, want)
	}
}

// TestCycleLogsFailuresOnce: a module failing the same way every cycle
// is one warning, not one per cycle; a different failure is a new
// warning, and its recovery one info line. Secrets are scrubbed.
func TestCycleLogsFailuresOnce(t *testing.T) {
	rec := &records{}
	down := errors.New("dial tcp: connection refused")
	throttled := errors.New("429 client_secret=hunter2")
	m := &noting{name: "graph", errs: []error{down, down, down, throttled, nil, nil}}
	runCycles(twoway.Cycle{Modules: []twoway.Module{m}, Log: slog.New(rec)}, 6, nil)
	got := rec.atLeast(slog.LevelInfo)
	want := []string{
		"WARN sync pass failed module=graph err=dial tcp: connection refused",
		"WARN sync pass failed module=graph err=429 client_secret=[REDACTED]",
		"INFO sync pass recovered module=graph",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines at info or above over six cycles:\n got %q\nwant %q", got, want)
	}
}
