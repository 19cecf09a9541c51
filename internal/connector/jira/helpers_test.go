package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// memRefs is an in-memory Refs; failSaves makes the next saves fail.
type memRefs struct {
	mu        sync.Mutex
	refs      map[int64]string
	failSaves int
}

func (m *memRefs) ExternalRef(_ context.Context, id int64, system string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if system != jira.Target {
		return "", nil
	}
	return m.refs[id], nil
}

func (m *memRefs) SaveExternalRef(_ context.Context, id int64, _, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSaves > 0 {
		m.failSaves--
		return errors.New("database is locked")
	}
	m.refs[id] = ref
	return nil
}

func (m *memRefs) WorkItemByRef(_ context.Context, _, ref string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.refs {
		if r == ref {
			return id, nil
		}
	}
	return 0, nil
}

func (m *memRefs) get(id int64) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refs[id]
}

type env struct {
	sim    *jirasim.Server
	refs   *memRefs
	client *jira.Client
	clk    *clock.Fake
	nextID int64
}

var t0 = time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)

func setup(t *testing.T, opts jirasim.Options, cfg jira.Config) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	opts.Clock = clk
	sim := jirasim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.HTTPClient, cfg.Clock = srv.URL, srv.Client(), clk
	if cfg.Email == "" {
		cfg.Email, cfg.APIToken = "vigil@example.com", "token"
	}
	if cfg.Project == "" {
		cfg.Project = "SEC"
	}
	refs := &memRefs{refs: map[int64]string{}}
	c, err := jira.New(cfg, refs)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, refs: refs, client: c, clk: clk}
}

func (e *env) send(t *testing.T, op string, payload any) error {
	t.Helper()
	e.nextID++
	return e.resend(t, e.nextID, op, payload)
}

func (e *env) resend(t *testing.T, id int64, op string, payload any) error {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return e.client.Send(context.Background(), outbox.Message{ID: id, Target: jira.Target, Op: op, Payload: raw})
}

func (e *env) issueOf(t *testing.T, workItemID int64) jirasim.Issue {
	t.Helper()
	is, ok := e.sim.Issue(e.refs.get(workItemID))
	if !ok {
		t.Fatalf("work item %d: no issue %q", workItemID, e.refs.get(workItemID))
	}
	return is
}

func labelled(sim *jirasim.Server, label string) int {
	n := 0
	for _, is := range sim.Issues() {
		ls, _ := is.Fields["labels"].([]any)
		for _, l := range ls {
			if l == label {
				n++
			}
		}
	}
	return n
}
