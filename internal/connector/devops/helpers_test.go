package devops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/devops"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// memRefs is an in-memory devops.Refs.
type memRefs struct {
	mu   sync.Mutex
	refs map[string]string // "id/system" → ref
	fail error             // returned by every call when set
}

func newRefs() *memRefs { return &memRefs{refs: map[string]string{}} }

func (m *memRefs) ExternalRef(_ context.Context, id int64, system string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refs[fmt.Sprintf("%d/%s", id, system)], m.fail
}

func (m *memRefs) SaveExternalRef(_ context.Context, id int64, system, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.refs[fmt.Sprintf("%d/%s", id, system)] = ref
	return nil
}

func (m *memRefs) WorkItemByRef(_ context.Context, system, ref string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.refs {
		idText, sys, _ := strings.Cut(k, "/")
		if sys == system && v == ref {
			id, _ := strconv.ParseInt(idText, 10, 64)
			return id, m.fail
		}
	}
	return 0, m.fail
}

// hookedTransport lets a test act just before a request reaches the
// simulator, or answer in its place.
type hookedTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	// before runs before each request; a non-nil answer replaces the
	// simulator's.
	before func(r *http.Request, body []byte) *http.Response
	// loseAnswer, when it returns true, lets the request through and then
	// drops the answer, as a broken connection would.
	loseAnswer func(r *http.Request) bool
}

func (h *hookedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.mu.Lock()
	before, lose := h.before, h.loseAnswer
	h.mu.Unlock()
	if before != nil {
		if resp := before(r, body); resp != nil {
			return resp, nil
		}
	}
	resp, err := h.next.RoundTrip(r)
	if err == nil && lose != nil && lose(r) {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// env is a simulator with a client and in-memory refs.
type env struct {
	t     *testing.T
	srv   *simulator.Server
	c     *devops.Client
	refs  *memRefs
	tr    *hookedTransport
	http  *http.Client
	nextW int64
}

func start(t *testing.T, cfg devops.Config) *env {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &env{t: t, srv: srv, refs: newRefs(), http: srv.Client(), nextW: 100}
	e.tr = &hookedTransport{next: e.http.Transport}
	cfg.OrgURL = srv.Info.DevOpsURL + "/" + srv.Info.DevOpsOrg
	cfg.Project = srv.Info.DevOpsProject
	if cfg.PAT == "" {
		cfg.PAT = srv.Info.ClientSecret
	}
	cfg.Transport = e.tr
	e.c, err = devops.New(cfg, e.refs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// send sends one outbox message with payload p.
func (e *env) send(op string, p any) error {
	e.t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.c.Send(context.Background(), outbox.Message{Target: devops.Target, Op: op, Payload: raw})
}

// mirror creates the mirror of a new vigil work item in state and returns
// the vigil and Boards ids.
func (e *env) mirror(typ, state string) (int64, int) {
	e.t.Helper()
	e.nextW++
	id := e.nextW
	if err := e.send(devops.OpCreate, devops.CreatePayload{WorkItemID: id, Type: typ, State: state, Title: "Suspicious sign-in " + strconv.FormatInt(id, 10), Severity: "high"}); err != nil {
		e.t.Fatalf("create mirror of %d: %v", id, err)
	}
	return id, e.boardsID(id)
}

func (e *env) boardsID(id int64) int {
	e.t.Helper()
	ref, _ := e.refs.ExternalRef(context.Background(), id, devops.Target)
	n, err := strconv.Atoi(ref)
	if err != nil {
		e.t.Fatalf("ref of work item %d = %q, want a Boards id", id, ref)
	}
	return n
}

func (e *env) get(id int) devops.WorkItem {
	e.t.Helper()
	it, err := e.c.Get(context.Background(), id)
	if err != nil {
		e.t.Fatalf("get %d: %v", id, err)
	}
	return it
}

// portal acts as a user in Azure Boards: action is "state" or "edit".
func (e *env) portal(id int, action string, body any) {
	e.t.Helper()
	if err := portal(e.http, e.srv.URL, id, action, body); err != nil {
		e.t.Fatal(err)
	}
}

func portal(c *http.Client, base string, id int, action string, body any) error {
	raw, _ := json.Marshal(body)
	resp, err := c.Post(fmt.Sprintf("%s/sim/v1/devops/workitems/%d/%s", base, id, action), "application/json", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("portal %s on %d: %d %s", action, id, resp.StatusCode, b)
	}
	return nil
}
