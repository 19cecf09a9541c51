package tiupload_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/tiupload"
)

// env is a simulated tenant over TLS, sharing one fake clock with its
// clients (the rate windows of both follow Advance).
type env struct {
	srv *simulator.Server
	clk *clock.Fake
	log *logBuffer
}

func start(t *testing.T) *env {
	t.Helper()
	// Near the wall clock: azidentity caches tokens by the wall clock.
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv, err := simulator.Listen(simulator.New(simulator.Options{Clock: clk}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &env{srv: srv, clk: clk, log: &logBuffer{}}
}

// client connects a client to the simulated workspace; edit adjusts its
// configuration.
func (e *env) client(t *testing.T, edit func(*tiupload.Config)) *tiupload.Client {
	t.Helper()
	info := e.srv.Info
	cfg := tiupload.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		AuthorityHost: info.Authority, BaseURL: info.TIUploadURL, WorkspaceID: info.WorkspaceID,
		Transport: e.srv.Client(), Clock: e.clk, Logger: slog.New(slog.NewTextHandler(e.log, nil))}
	if edit != nil {
		edit(&cfg)
	}
	c, err := tiupload.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objects reads the workspace's threat intelligence through the
// simulator's control route.
func (e *env) objects(t *testing.T) []map[string]any {
	t.Helper()
	res, err := e.srv.Client().Get(e.srv.URL + "/sim/v1/sentinel/ti-objects")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Value []map[string]any }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Value
}

// logBuffer collects a client's log, for checks of what it says and
// never says.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// countingTransport counts the requests that reach the service.
type countingTransport struct {
	next *http.Client
	mu   sync.Mutex
	n    map[string]int // by path
}

func (c *countingTransport) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.URL.Path]++
	c.mu.Unlock()
	return c.next.Do(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}
