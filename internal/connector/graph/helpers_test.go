package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// t0 is when fake-clock tests start.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// env is a simulated tenant over TLS and what a test needs around it.
type env struct {
	srv  *simulator.Server
	sim  *simulator.Simulator
	fake *clock.Fake // nil on the wall clock
	rec  *recorder
}

// start serves a simulator. With fake set, the simulator and the clients
// share one fake clock, so that token expiry, throttling windows and the
// client's waits all follow Advance.
func start(t *testing.T, opt simulator.Options, fake bool) *env {
	t.Helper()
	e := &env{}
	if fake {
		e.fake = clock.NewFake(t0)
		opt.Clock = e.fake
	}
	e.sim = simulator.New(opt)
	srv, err := simulator.Listen(e.sim, "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e.srv = srv
	var clk clock.Clock = clock.Real{}
	if e.fake != nil {
		clk = e.fake
	}
	e.rec = &recorder{next: srv.Client(), clock: clk}
	return e
}

// client returns a connector client for the simulator; edit adjusts its
// configuration.
func (e *env) client(t *testing.T, edit func(*graph.Config)) *graph.Client {
	t.Helper()
	info := e.srv.Info
	cfg := graph.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		AuthorityHost: info.Authority, GraphURL: info.GraphURL, Transport: e.rec}
	if e.fake != nil {
		cfg.Clock = e.fake
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// post calls the simulator's control API and decodes the answer into out
// (when not nil).
func (e *env) post(t *testing.T, path string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := e.srv.Client().Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("POST %s: %s", path, res.Status)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// raised is the control API's answer for a Defender for Cloud alert.
type raised struct {
	Name         string `json:"name"`
	GraphAlertID string `json:"graphAlertId"`
}

// raiseDefender raises a Defender for Cloud alert, as Defender for Cloud
// does; it reaches alerts_v2 and the legacy API.
func (e *env) raiseDefender(t *testing.T, spec simulator.AlertSpec) raised {
	t.Helper()
	var r raised
	e.post(t, "/sim/v1/defender/alerts", spec, &r)
	return r
}

// raiseGraph raises an alert of another product, which lives in Graph only.
func (e *env) raiseGraph(t *testing.T, spec simulator.GraphAlertSpec) string {
	t.Helper()
	var r struct {
		ID string `json:"id"`
	}
	e.post(t, "/sim/v1/graph/alerts", spec, &r)
	return r.ID
}

// fault injects a fault through the control API.
func (e *env) fault(t *testing.T, f simulator.Fault) { e.post(t, "/sim/v1/faults", f, nil) }

// drive advances the fake clock by step whenever c waits, until the test
// ends or stop is called: for tests that only care that a wait happens and
// is honoured, not when.
func (e *env) drive(t *testing.T, c *graph.Client, step time.Duration) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }) }
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			if graph.Waiting(c) > 0 {
				e.fake.Advance(step)
			}
		}
	}()
	t.Cleanup(stop)
	return stop
}

// recorder is the client's transport: it passes requests to the
// simulator's TLS client and notes when each Graph request was sent.
type recorder struct {
	next  *http.Client
	clock clock.Clock
	mu    sync.Mutex
	sent  []time.Time
}

var _ policy.Transporter = (*recorder)(nil)

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/graph/") {
		r.mu.Lock()
		r.sent = append(r.sent, r.clock.Now())
		r.mu.Unlock()
	}
	return r.next.Do(req)
}

func (r *recorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.sent...)
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
