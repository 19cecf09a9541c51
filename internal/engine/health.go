package engine

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Budget is a connector's own request budget: Used requests were sent
// within the last Window, out of Limit allowed.
type Budget struct {
	Used, Limit int
	Window      time.Duration
}

// BudgetReporter is implemented by a module whose connector spends a
// request budget (the Graph poller). A Budget with Limit 0 means none.
type BudgetReporter interface{ Budget() Budget }

// KindReporter is implemented by a module that says what it is
// ("poller", "reconciler", "mirror"); others are of kind "module".
type KindReporter interface{ Kind() string }

// Status is what the health registry knows of one module.
type Status struct {
	Name string // Module.Name()
	Kind string // KindReporter.Kind(), or "module"
	// LastRun is the start of the last pass (also of one still running).
	LastRun time.Time
	// LastSuccess is when the last pass that succeeded ended.
	LastSuccess time.Time
	// LastError is the last pass's error, scrubbed of credentials; ""
	// when the last pass succeeded.
	LastError string
	// LastErrorAt is when the last failed pass ended; it is kept after a
	// success, so that it tells when the module last failed.
	LastErrorAt time.Time
	// Duration is how long the last finished pass took.
	Duration time.Duration
	// Runs and Failures count finished passes since start.
	Runs, Failures      int64
	ConsecutiveFailures int
	// Budget is the connector's request budget now; nil when it has none.
	Budget *Budget
	// Elsewhere is the instance that ran the module's last pass when
	// that was another instance sharing the database; "" when this one.
	Elsewhere string
}

// Health records each module's passes for an admin page. It is safe for
// concurrent use. Modules are keyed by name, which is unique among the
// modules of one configuration (their cursors are named after it too).
type Health struct {
	onPass  func(Status) // called after each recorded pass; nil: none
	clk     clock.Clock
	metrics *Metrics // nil exports nothing
	mu      sync.Mutex
	order   []*healthEntry
	byName  map[string]*healthEntry
	secrets []string
}

type healthEntry struct {
	mod Module
	st  Status
}

// maxErrorLen bounds LastError; an error naming a thousand failed alerts
// says enough in its first lines.
const maxErrorLen = 2000

// NewHealth returns an empty registry reading time from clk (the wall
// clock when nil).
func NewHealth(clk clock.Clock) *Health {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Health{clk: clk, byName: map[string]*healthEntry{}}
}

// Export sends every pass this registry records to m as well (nil: none).
func (h *Health) Export(m *Metrics) {
	if h != nil {
		h.metrics = m
	}
}

// Register adds modules that have not run yet, so that they show before
// their first pass. Registering a name again keeps its record.
func (h *Health) Register(mods ...Module) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range mods {
		if m != nil {
			h.entry(m)
		}
	}
}

// Redact adds secret values (client secrets, PATs, API keys, passwords)
// that are replaced wherever they appear in an error, on top of the
// patterns every error is scrubbed of. Empty values are ignored.
func (h *Health) Redact(secrets ...string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			h.secrets = append(h.secrets, s)
		}
	}
}

// entry returns m's record, adding it if new. h.mu is held.
func (h *Health) entry(m Module) *healthEntry {
	name := m.Name()
	e := h.byName[name]
	if e == nil {
		e = &healthEntry{st: Status{Name: name}}
		h.byName[name] = e
		h.order = append(h.order, e)
	}
	e.mod = m
	e.st.Kind = "module"
	if k, ok := m.(KindReporter); ok && k.Kind() != "" {
		e.st.Kind = k.Kind()
	}
	return e
}

// Snapshot returns every module's status in registration order, with
// each budget as it is now.
func (h *Health) Snapshot() []Status {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	out := make([]Status, len(h.order))
	mods := make([]Module, len(h.order))
	for i, e := range h.order {
		out[i], mods[i] = e.st, e.mod
	}
	h.mu.Unlock()
	// Budgets are read outside the lock: a connector takes its own.
	for i, m := range mods {
		if r, ok := m.(BudgetReporter); ok {
			if b := r.Budget(); b.Limit > 0 {
				out[i].Budget = &b
			}
		}
	}
	return out
}

// Run runs one pass of m (m.UpdateAll) and records it, registering m if
// new; it returns the pass's error. A pass that fails because ctx ended
// is not counted: shutting down is not a connector failure. A nil Health
// only runs the pass.
func (h *Health) Run(ctx context.Context, m Module) error {
	if h == nil {
		return m.UpdateAll(ctx)
	}
	h.mu.Lock()
	e := h.entry(m)
	start := h.clk.Now()
	e.st.LastRun = start
	h.mu.Unlock()

	err := m.UpdateAll(ctx)
	end := h.clk.Now()
	if err != nil && ctx.Err() != nil {
		return err
	}
	h.metrics.observe(m.Name(), end.Sub(start), end, err)
	var text string
	if err != nil {
		text = err.Error() // outside the lock: an error may format slowly
	}
	h.mu.Lock()
	e.st.Runs++
	e.st.Duration = end.Sub(start)
	if err == nil {
		e.st.LastSuccess = end
		e.st.LastError = ""
		e.st.ConsecutiveFailures = 0
	} else {
		e.st.Failures++
		e.st.ConsecutiveFailures++
		e.st.LastErrorAt = end
		e.st.LastError = Scrub(text, h.secrets...)
		if e.st.LastError == "" {
			e.st.LastError = "error" // a failed pass never reads as a success
		}
	}
	st, onPass := e.st, h.onPass
	h.mu.Unlock()
	if onPass != nil {
		onPass(st)
	}
	return err
}

// OnPass calls fn with a module's status after each pass this registry
// records (to share it with the other instances); nil stops that.
func (h *Health) OnPass(fn func(Status)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.onPass = fn
	h.mu.Unlock()
}

// Scrubbed is Scrub with the registered secrets; a nil Health knows none.
func (h *Health) Scrubbed(text string) string {
	if h == nil {
		return Scrub(text)
	}
	h.mu.Lock()
	secrets := h.secrets
	h.mu.Unlock()
	return Scrub(text, secrets...)
}

const redacted = "[REDACTED]"

// scrubbers replace credentials that an error text can carry: a token
// request's form (client_secret=…), a token answer ("access_token": "…"),
// an Authorization header, a bearer token, a URL's password.
var scrubbers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*[\["']?\s*)(?:[a-z-]+\s+)?[^\s"',;&}\]]+`), "${1}" + redacted},
	{regexp.MustCompile(`(?i)\b(bearer\s+)[a-z0-9\-._~+/]+=*`), "${1}" + redacted},
	{regexp.MustCompile(`(?i)((?:client_secret|client_assertion|access_token|refresh_token|id_token|api_?key|password)` +
		`["']?\s*[:=]\s*["']?)[^\s"'&,;}\]]+`), "${1}" + redacted},
	{regexp.MustCompile(`(://[^/\s:@]+:)[^/\s@]+@`), "${1}" + redacted + "@"},
}

// Scrub returns s without credentials: each of secrets wherever it
// appears, and the values of client_secret=, access_token, Bearer and
// Authorization patterns. It also bounds the length of s.
func Scrub(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	for _, sc := range scrubbers {
		s = sc.re.ReplaceAllString(s, sc.repl)
	}
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "") + "…"
	}
	return s
}
