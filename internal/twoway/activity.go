package twoway

import (
	"context"
	"strings"
	"sync"

	"github.com/vigil-soc/vigil/internal/numfmt"
)

// Activity counts what the sync engine changed since it was last drained,
// so that a cycle logs one line saying what happened ("sync cycle:
// 3 work items followed Sentinel, 2 writes delivered") instead of a line
// per change, and nothing when nothing changed. Modules note changes
// through their context (Note); the outbox sender, which runs on its own
// ticker, notes its deliveries directly. It is safe for concurrent use;
// a nil Activity counts nothing.
type Activity struct {
	mu     sync.Mutex
	order  []string
	counts map[string]*tally
}

type tally struct {
	one, many string
	n         int64
}

// NewActivity returns an empty Activity.
func NewActivity() *Activity { return &Activity{counts: map[string]*tally{}} }

// Note adds n changes of one kind, named in the singular (one) and the
// plural (many): Note("write delivered", "writes delivered", 2). n ≤ 0
// notes nothing.
func (a *Activity) Note(one, many string, n int) {
	if a == nil || n <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.counts[one]
	if t == nil {
		t = &tally{one: one, many: many}
		a.counts[one] = t
		a.order = append(a.order, one)
	}
	t.n += int64(n)
}

// Drain returns the changes noted since the last Drain, in the order
// they were first noted ("3 incidents, 1 write delivered"), and forgets
// them; "" when there were none.
func (a *Activity) Drain() string {
	if a == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	parts := make([]string, 0, len(a.order))
	for _, k := range a.order {
		t := a.counts[k]
		parts = append(parts, numfmt.Count(t.n, t.one, t.many))
	}
	a.order, a.counts = nil, map[string]*tally{}
	return strings.Join(parts, ", ")
}

type activityKey struct{}

// WithActivity returns ctx carrying a, for Note.
func WithActivity(ctx context.Context, a *Activity) context.Context {
	return context.WithValue(ctx, activityKey{}, a)
}

// Note adds n changes to the Activity of ctx (see Activity.Note); without
// one it does nothing. A module calls it where it would otherwise log a
// routine change at info.
func Note(ctx context.Context, one, many string, n int) {
	a, _ := ctx.Value(activityKey{}).(*Activity)
	a.Note(one, many, n)
}
