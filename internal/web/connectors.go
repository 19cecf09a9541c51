package web

import (
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/twoway"
)

// connectorView is one sync module's health, as the API shows it.
type connectorView struct {
	Name                string      `json:"name"`
	Kind                string      `json:"kind"`
	LastRun             *time.Time  `json:"last_run"`
	LastSuccess         *time.Time  `json:"last_success"`
	LastError           string      `json:"last_error"`
	LastErrorAt         *time.Time  `json:"last_error_at"`
	DurationMS          float64     `json:"duration_ms"`
	Runs                int64       `json:"runs"`
	Failures            int64       `json:"failures"`
	ConsecutiveFailures int         `json:"consecutive_failures"`
	Budget              *budgetView `json:"budget"`
}

type budgetView struct {
	Used          int     `json:"used"`
	Limit         int     `json:"limit"`
	WindowSeconds float64 `json:"window_seconds"`
}

type outboxStatView struct {
	Target        string     `json:"target"`
	Pending       int        `json:"pending"`
	Failed        int        `json:"failed"`
	OldestPending *time.Time `json:"oldest_pending"`
	LastError     string     `json:"last_error"`
}

type connectorsView struct {
	Sync    bool             `json:"sync"`
	Modules []connectorView  `json:"modules"`
	Outbox  []outboxStatView `json:"outbox"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// connectors reports what the sync engine last did and the writes waiting
// per system: the admin page's connector health, for monitoring scripts.
// It reads only memory and the outbox table, never an external API.
func (s *Server) connectors(w http.ResponseWriter, r *http.Request) {
	v := connectorsView{Sync: s.health != nil, Modules: []connectorView{}, Outbox: []outboxStatView{}}
	if s.health != nil {
		for _, st := range s.health() {
			v.Modules = append(v.Modules, moduleView(st))
		}
	}
	stats, err := s.store.OutboxStats(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, o := range stats {
		v.Outbox = append(v.Outbox, outboxStatView{Target: o.Target, Pending: o.Pending, Failed: o.Failed,
			OldestPending: timeOrNil(o.OldestPending), LastError: o.LastError})
	}
	writeJSON(w, http.StatusOK, v)
}

func moduleView(st twoway.Status) connectorView {
	c := connectorView{Name: st.Name, Kind: st.Kind, LastRun: timeOrNil(st.LastRun), LastSuccess: timeOrNil(st.LastSuccess),
		LastError: st.LastError, LastErrorAt: timeOrNil(st.LastErrorAt), DurationMS: float64(st.Duration) / float64(time.Millisecond),
		Runs: st.Runs, Failures: st.Failures, ConsecutiveFailures: st.ConsecutiveFailures}
	if st.Budget != nil {
		c.Budget = &budgetView{Used: st.Budget.Used, Limit: st.Budget.Limit, WindowSeconds: st.Budget.Window.Seconds()}
	}
	return c
}
