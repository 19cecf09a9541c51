package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/web"
)

func TestConnectors(t *testing.T) {
	type module struct {
		Name                string     `json:"name"`
		Kind                string     `json:"kind"`
		LastRun             *time.Time `json:"last_run"`
		LastError           string     `json:"last_error"`
		DurationMS          float64    `json:"duration_ms"`
		Runs, Failures      int64
		ConsecutiveFailures int `json:"consecutive_failures"`
		Budget              *struct {
			Used, Limit   int
			WindowSeconds float64 `json:"window_seconds"`
		} `json:"budget"`
	}
	type answer struct {
		Sync    bool     `json:"sync"`
		Modules []module `json:"modules"`
		Outbox  []struct {
			Target          string
			Pending, Failed int
		} `json:"outbox"`
	}

	t.Run("sync off", func(t *testing.T) {
		e := newEnv(t)
		var a answer
		e.do(t, viewer, "GET", "/api/v1/connectors", nil).wantCode(t, http.StatusOK).decode(t, &a)
		if a.Sync || len(a.Modules) != 0 || len(a.Outbox) != 0 {
			t.Errorf("got %+v, want sync off and nothing listed", a)
		}
		e.do(t, "", "GET", "/api/v1/connectors", nil).wantCode(t, http.StatusUnauthorized)
	})

	t.Run("sync on", func(t *testing.T) {
		ran := t0.Add(-time.Minute)
		e := newEnv(t, func(o *web.Options) {
			o.Connectors = func() []twoway.Status {
				return []twoway.Status{
					{Name: "graph", Kind: "poller", LastRun: ran, LastSuccess: ran, Duration: 1500 * time.Millisecond, Runs: 4,
						Budget: &twoway.Budget{Used: 12, Limit: 150, Window: time.Minute}},
					{Name: "sentinel:soc", Kind: "poller", LastRun: ran, LastError: "429 Too Many Requests", LastErrorAt: ran,
						Runs: 4, Failures: 2, ConsecutiveFailures: 2},
				}
			}
		})
		id := e.ingest(t, alertBody("needs a write", nil)).Results[0].WorkItemID
		e.enqueue(t, id, outbox.Message{Target: "sentinel", Op: "incident.close", Resource: "inc-1", IdemKey: "k1"})
		var a answer
		e.do(t, viewer, "GET", "/api/v1/connectors", nil).wantCode(t, http.StatusOK).decode(t, &a)
		if !a.Sync || len(a.Modules) != 2 {
			t.Fatalf("got %+v, want two modules", a)
		}
		g, s := a.Modules[0], a.Modules[1]
		if g.Name != "graph" || g.Budget == nil || g.Budget.Used != 12 || g.Budget.Limit != 150 || g.Budget.WindowSeconds != 60 ||
			g.DurationMS != 1500 || g.LastRun == nil || !g.LastRun.Equal(ran) {
			t.Errorf("graph = %+v", g)
		}
		if s.LastError != "429 Too Many Requests" || s.ConsecutiveFailures != 2 || s.Budget != nil {
			t.Errorf("sentinel = %+v", s)
		}
		if len(a.Outbox) != 1 || a.Outbox[0].Target != "sentinel" || a.Outbox[0].Pending != 1 {
			t.Errorf("outbox = %+v, want one pending write to sentinel", a.Outbox)
		}
	})
}
