package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// pingStore is the real store with switches that make Ping fail, as an
// unreachable database would, and ListAlerts fail with an internal error.
type pingStore struct {
	*store.DB
	down      atomic.Bool
	listFails atomic.Bool
}

// dbError is an error whose text must never reach a client.
const dbError = "dial tcp 10.0.0.7:5432: connect: connection refused"

func (s *pingStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errors.New(dbError)
	}
	return s.DB.Ping(ctx)
}

func (s *pingStore) ListAlerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error) {
	if s.listFails.Load() {
		return nil, fmt.Errorf("list alerts: %s", dbError)
	}
	return s.DB.ListAlerts(ctx, f)
}

var _ web.Store = (*pingStore)(nil)

// env is a running vigil: the real server on a real socket, a SQLite store,
// the ingest pipeline and the work-item service, with one API token per
// role.
type env struct {
	url   string
	db    *store.DB
	store *pingStore
	clk   *clock.Fake
	reg   *prometheus.Registry
	// stopIngest stops the ingest pipeline, as a shutdown does.
	stopIngest func()
	// secret and name of the token of each role.
	token map[auth.Role]string
	name  map[auth.Role]string
}

// Shorthands for the tokens' roles.
const (
	viewer    = auth.RoleViewer
	responder = auth.RoleResponder
	admin     = auth.RoleAdmin
)

// noAuth sends a request without an Authorization header.
const noAuth auth.Role = ""

func newEnv(t *testing.T, opts ...func(*web.Options)) *env {
	t.Helper()
	return newEnvWith(t, workitem.DefaultProcess(), nil, opts...)
}

// newEnvWith is newEnv with a process of the test's, and react, when not
// nil, wiring the ingest pipeline's reactor to the work-item service.
func newEnvWith(t *testing.T, proc *workitem.Process, react func(*ingest.Pipeline, *workitem.Service), opts ...func(*web.Options)) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	db := storetest.SQLite(t, clk)
	reg := prometheus.NewRegistry()
	pipe := ingest.New(db, proc, ingest.Options{Registry: reg})
	items := workitem.NewService(db, proc, clk)
	if react != nil {
		react(pipe, items)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		pipe.Run(ctx)
		close(stopped)
	}()
	e := &env{db: db, store: &pingStore{DB: db}, clk: clk, reg: reg,
		token: map[auth.Role]string{}, name: map[auth.Role]string{}}
	o := web.Options{Ingest: pipe, Store: e.store, Incidents: db, Items: items,
		Clock: clk, Registry: reg, Version: "test-1.2.3"}
	for _, f := range opts {
		f(&o)
	}
	srv := httptest.NewServer(web.New(o))
	e.url = srv.URL
	e.stopIngest = func() {
		cancel()
		<-stopped
	}
	// Cleanups run last-registered first: the server and the pipeline stop
	// before storetest closes the database.
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-stopped
	})
	for _, role := range []auth.Role{viewer, responder, admin} {
		name := string(role) + "-bot"
		secret, _, err := db.CreateToken(context.Background(), name, role)
		if err != nil {
			t.Fatalf("CreateToken(%s): %v", role, err)
		}
		e.token[role], e.name[role] = secret, name
	}
	return e
}

// actor is how the timeline names the token of role.
func (e *env) actor(role auth.Role) string { return "token:" + e.name[role] }

// resp is a response, read in full.
type resp struct {
	method, path string
	code         int
	hdr          http.Header
	body         []byte
}

func (r resp) String() string {
	return fmt.Sprintf("%s %s → %d %s", r.method, r.path, r.code, bytes.TrimSpace(r.body))
}

// decode unmarshals the body into v, failing the test if it does not.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: decode body: %v", r, err)
	}
}

// apiErr is the error envelope.
type apiErr struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Field   string   `json:"field"`
		Allowed []string `json:"allowed"`
	} `json:"error"`
}

func (r resp) apiErr(t testing.TB) apiErr {
	t.Helper()
	var e apiErr
	r.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: error envelope without code or message", r)
	}
	return e
}

// wantCode fails the test now unless the status is want.
func (r resp) wantCode(t testing.TB, want int) resp {
	t.Helper()
	if r.code != want {
		t.Fatalf("%s: got status %d, want %d", r, r.code, want)
	}
	return r
}

// do sends a request as the token of role (noAuth for none). body is sent
// as is when it is a string or []byte, else as JSON. hdr is pairs of header
// name and value. Every answer is checked against the OpenAPI document:
// its status must be documented for the operation, and a JSON body must
// match the documented schema.
func (e *env) do(t testing.TB, role auth.Role, method, path string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != noAuth {
		req.Header.Set("Authorization", "Bearer "+e.token[role])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := resp{method: method, path: path, code: res.StatusCode, hdr: res.Header, body: b}
	conformsToDoc(t, r)
	return r
}

// ingestAnswer is the answer of POST /api/v1/alerts.
type ingestAnswer struct {
	Accepted int `json:"accepted"`
	Results  []struct {
		AlertID    int64  `json:"alert_id"`
		Version    int    `json:"version"`
		WorkItemID int64  `json:"workitem_id"`
		Outcome    string `json:"outcome"`
	} `json:"results"`
}

// ingest posts alerts as the responder and returns the answer.
func (e *env) ingest(t testing.TB, alerts ...map[string]any) ingestAnswer {
	t.Helper()
	var body any = alerts
	r := e.do(t, responder, "POST", "/api/v1/alerts", body).wantCode(t, http.StatusOK)
	var a ingestAnswer
	r.decode(t, &a)
	if a.Accepted != len(alerts) || len(a.Results) != len(alerts) {
		t.Fatalf("%s: got %d accepted, %d results, want %d", r, a.Accepted, len(a.Results), len(alerts))
	}
	return a
}

// item is a work item as the API shows it.
type item struct {
	ID         int64      `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	State      string     `json:"state"`
	Severity   string     `json:"severity"`
	Assignee   string     `json:"assignee"`
	Tags       []string   `json:"tags"`
	Source     string     `json:"source"`
	Rev        int        `json:"rev"`
	AlertCount int        `json:"alert_count"`
	PreviousID int64      `json:"previous_id"`
	ClosedAt   *time.Time `json:"closed_at"`
	AlertIDs   []int64    `json:"alert_ids"`
}

func (e *env) item(t testing.TB, id int64) item {
	t.Helper()
	var it item
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d", id), nil).wantCode(t, http.StatusOK).decode(t, &it)
	return it
}

// entry is a timeline entry.
type entry struct {
	ID     int64           `json:"id"`
	Actor  string          `json:"actor"`
	Kind   string          `json:"kind"`
	Msg    string          `json:"message"`
	Reason string          `json:"reason"`
	Data   json.RawMessage `json:"data"`
}

func (e *env) timeline(t testing.TB, id int64) []entry {
	t.Helper()
	var p struct {
		Items []entry `json:"items"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/timeline", id), nil).wantCode(t, http.StatusOK).decode(t, &p)
	return p.Items
}

// apiAlert is an alert as the API shows it.
type apiAlert struct {
	ID         int64           `json:"id"`
	Source     string          `json:"source"`
	SourceID   string          `json:"source_id"`
	Product    string          `json:"product"`
	Title      string          `json:"title"`
	Severity   string          `json:"severity"`
	Status     string          `json:"status"`
	Version    int             `json:"version"`
	SeenCount  int64           `json:"seen_count"`
	WorkItemID int64           `json:"workitem_id"`
	FirstSeen  time.Time       `json:"first_seen"`
	LastSeen   time.Time       `json:"last_seen"`
	Entities   []entity        `json:"entities"`
	Raw        json.RawMessage `json:"raw"`
}

type entity struct {
	Kind  string            `json:"kind"`
	Value string            `json:"value"`
	Attrs map[string]string `json:"attrs"`
}

// alerts lists every alert (one page is enough for the tests).
func (e *env) alerts(t testing.TB, query string) []apiAlert {
	t.Helper()
	var p struct {
		Items []apiAlert `json:"items"`
	}
	e.do(t, viewer, "GET", "/api/v1/alerts"+query, nil).wantCode(t, http.StatusOK).decode(t, &p)
	return p.Items
}

// wantNoAlerts fails unless the store holds no alert.
func (e *env) wantNoAlerts(t testing.TB) {
	t.Helper()
	if got := e.alerts(t, ""); len(got) != 0 {
		t.Errorf("got %d alerts stored after a rejected request, want none: %+v", len(got), got)
	}
}

// fixture reads a file of testdata/.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// fixtureWith reads a JSON object fixture and sets top-level fields.
func fixtureWith(t testing.TB, name string, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// alertBody is a valid native alert; set overrides or (with nil) removes
// fields.
func alertBody(title string, set map[string]any) map[string]any {
	a := map[string]any{
		"source": "suricata", "product": "Suricata IDS", "title": title, "severity": "high",
		"entities": []map[string]any{{"kind": "ip", "value": "203.0.113.9"}},
	}
	for k, v := range set {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return a
}

func mustJSONBytes(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}
