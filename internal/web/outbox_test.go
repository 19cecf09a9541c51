package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// outboxMsg is an outbox message as the API shows it.
type outboxMsg struct {
	ID         int64           `json:"id"`
	WorkItemID int64           `json:"workitem_id"`
	Target     string          `json:"target"`
	Op         string          `json:"op"`
	Resource   string          `json:"resource"`
	Payload    json.RawMessage `json:"payload"`
	IdemKey    string          `json:"idem_key"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	NextAt     time.Time       `json:"next_at"`
	LastError  string          `json:"last_error"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	DoneAt     *time.Time      `json:"done_at"`
}

type outboxPage struct {
	Items      []outboxMsg `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// enqueue queues msgs through the real store, in a change of item id, as a
// write-back would be.
func (e *env) enqueue(t testing.TB, id int64, msgs ...outbox.Message) {
	t.Helper()
	_, err := e.db.UpdateWorkItemEffects(context.Background(), id,
		func(it *workitem.Item) ([]workitem.Entry, []outbox.Message, error) {
			return []workitem.Entry{{Actor: "test", Kind: workitem.KindUpdate, Message: "write back"}}, msgs, nil
		})
	if err != nil {
		t.Fatalf("UpdateWorkItemEffects(%d): %v", id, err)
	}
}

// outboxIDs lists the outbox at path as the viewer and returns the ids in
// answer order and the next cursor.
func (e *env) outboxIDs(t testing.TB, path string) ([]int64, string) {
	t.Helper()
	var p outboxPage
	e.do(t, viewer, "GET", path, nil).wantCode(t, http.StatusOK).decode(t, &p)
	ids := []int64{}
	for _, m := range p.Items {
		ids = append(ids, m.ID)
	}
	return ids, p.NextCursor
}

func (e *env) outboxMsg(t testing.TB, id int64) outboxMsg {
	t.Helper()
	var m outboxMsg
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/outbox/%d", id), nil).wantCode(t, http.StatusOK).decode(t, &m)
	return m
}

// outboxFixture is three items: a with three messages (1 failed, 2
// delivered, 3 pending), b with one pending message (4), c with none.
type outboxFixture struct {
	e       *env
	a, b, c int64
}

func newOutboxFixture(t *testing.T) outboxFixture {
	t.Helper()
	e := newEnv(t)
	ans := e.ingest(t,
		alertBody("Outbox A", map[string]any{"source_id": "ob-a"}),
		alertBody("Outbox B", map[string]any{"source_id": "ob-b"}),
		alertBody("Outbox C", map[string]any{"source_id": "ob-c"}))
	f := outboxFixture{e: e, a: ans.Results[0].WorkItemID, b: ans.Results[1].WorkItemID, c: ans.Results[2].WorkItemID}
	if f.a == f.b || f.b == f.c || f.a == f.c {
		t.Fatalf("want three work items, got %d, %d, %d", f.a, f.b, f.c)
	}
	e.enqueue(t, f.a,
		outbox.Message{Target: "defender", Op: "alert.resolve", Resource: "r1", IdemKey: "k1", Payload: []byte(`{"reason":"benign"}`)},
		outbox.Message{Target: "sentinel", Op: "incident.close", Resource: "r2", IdemKey: "k2"})
	e.enqueue(t, f.a, outbox.Message{Target: "devops", Op: "workitem.update", Resource: "r3", IdemKey: "k3"})
	e.enqueue(t, f.b, outbox.Message{Target: "defender", Op: "alert.resolve", Resource: "r4", IdemKey: "k4"})
	ctx := context.Background()
	if err := e.db.FailOutbox(ctx, 1, "403 Forbidden: missing permission"); err != nil {
		t.Fatal(err)
	}
	if err := e.db.CompleteOutbox(ctx, 2); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOutboxList(t *testing.T) {
	f := newOutboxFixture(t)
	e := f.e

	tests := []struct {
		query string
		want  []int64
	}{
		{"", []int64{4, 3, 2, 1}},
		{"?state=pending", []int64{4, 3}},
		{"?state=failed", []int64{1}},
		{"?state=done", []int64{2}},
		{fmt.Sprintf("?workitem_id=%d", f.a), []int64{3, 2, 1}},
		{fmt.Sprintf("?workitem_id=%d&state=pending", f.a), []int64{3}},
		{fmt.Sprintf("?workitem_id=%d", f.b), []int64{4}},
		{fmt.Sprintf("?workitem_id=%d", f.c), []int64{}},
		{"?workitem_id=999", []int64{}},
	}
	for _, tt := range tests {
		got, next := e.outboxIDs(t, "/api/v1/outbox"+tt.query)
		if !slices.Equal(got, tt.want) || next != "" {
			t.Errorf("GET /api/v1/outbox%s = %v (next %q), want %v and no next page", tt.query, got, next, tt.want)
		}
	}

	// The messages as stored.
	var p outboxPage
	e.do(t, viewer, "GET", "/api/v1/outbox", nil).wantCode(t, http.StatusOK).decode(t, &p)
	byID := map[int64]outboxMsg{}
	for _, m := range p.Items {
		byID[m.ID] = m
	}
	failed := byID[1]
	if failed.WorkItemID != f.a || failed.Target != "defender" || failed.Op != "alert.resolve" || failed.Resource != "r1" ||
		failed.IdemKey != "k1" || failed.State != outbox.Failed || failed.Attempts != 1 ||
		failed.LastError != "403 Forbidden: missing permission" || string(failed.Payload) != `{"reason":"benign"}` ||
		!failed.CreatedAt.Equal(t0) || failed.DoneAt != nil {
		t.Errorf("failed message = %+v", failed)
	}
	if done := byID[2]; done.State != outbox.Done || done.DoneAt == nil || done.LastError != "" || string(done.Payload) != `{}` {
		t.Errorf("delivered message = %+v", done)
	}
	if pending := byID[4]; pending.State != outbox.Pending || pending.WorkItemID != f.b || pending.Attempts != 0 ||
		!pending.NextAt.Equal(t0) {
		t.Errorf("pending message = %+v", pending)
	}

	// Keyset paging, newest first, through every message exactly once.
	var seen []int64
	path := "/api/v1/outbox?limit=3"
	for range 5 {
		ids, next := e.outboxIDs(t, path)
		seen = append(seen, ids...)
		if next == "" {
			break
		}
		path = "/api/v1/outbox?limit=3&cursor=" + next
	}
	if want := []int64{4, 3, 2, 1}; !slices.Equal(seen, want) {
		t.Errorf("paged through %v, want %v", seen, want)
	}
	ids, next := e.outboxIDs(t, "/api/v1/outbox?limit=2")
	if !slices.Equal(ids, []int64{4, 3}) || next != "3" {
		t.Errorf("first page of 2 = %v, next %q; want [4 3], next \"3\"", ids, next)
	}
	ids, _ = e.outboxIDs(t, "/api/v1/outbox?state=pending&limit=1&cursor=4")
	if !slices.Equal(ids, []int64{3}) {
		t.Errorf("pending after cursor 4 = %v, want [3]", ids)
	}

	// Bad input names the field.
	for _, c := range []struct{ query, field string }{
		{"?state=bogus", "state"},
		{"?state=Pending", "state"},
		{"?workitem_id=0", "workitem_id"},
		{"?workitem_id=abc", "workitem_id"},
		{"?limit=0", "limit"},
		{"?cursor=x", "cursor"},
	} {
		r := e.do(t, viewer, "GET", "/api/v1/outbox"+c.query, nil).wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != c.field {
			t.Errorf("%s: field %q, want %q", r, got, c.field)
		}
	}
	e.do(t, noAuth, "GET", "/api/v1/outbox", nil).wantCode(t, http.StatusUnauthorized)
}

func TestOutboxGet(t *testing.T) {
	f := newOutboxFixture(t)
	e := f.e
	m := e.outboxMsg(t, 3)
	if m.ID != 3 || m.WorkItemID != f.a || m.Target != "devops" || m.Op != "workitem.update" || m.Resource != "r3" ||
		m.IdemKey != "k3" || m.State != outbox.Pending {
		t.Errorf("GET /api/v1/outbox/3 = %+v", m)
	}
	r := e.do(t, viewer, "GET", "/api/v1/outbox/999", nil).wantCode(t, http.StatusNotFound)
	if msg := r.apiErr(t).Error.Message; msg != "outbox message 999: not found" {
		t.Errorf("%s: message %q, want \"outbox message 999: not found\"", r, msg)
	}
	r = e.do(t, viewer, "GET", "/api/v1/outbox/abc", nil).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "id" {
		t.Errorf("%s: field %q, want id", r, got)
	}
	e.do(t, noAuth, "GET", "/api/v1/outbox/3", nil).wantCode(t, http.StatusUnauthorized)
}

func TestOutboxRetry(t *testing.T) {
	f := newOutboxFixture(t)
	e := f.e
	e.clk.Advance(5 * time.Minute)
	now := t0.Add(5 * time.Minute)

	// Viewers may read but not retry; no token is 401. Neither changes it.
	r := e.do(t, viewer, "POST", "/api/v1/outbox/1/retry", nil).wantCode(t, http.StatusForbidden)
	r.apiErr(t)
	e.do(t, noAuth, "POST", "/api/v1/outbox/1/retry", nil).wantCode(t, http.StatusUnauthorized)
	if m := e.outboxMsg(t, 1); m.State != outbox.Failed {
		t.Fatalf("after refused retries: state %q, want failed", m.State)
	}

	// A failed message becomes pending and due now; its history stays.
	var m outboxMsg
	e.do(t, responder, "POST", "/api/v1/outbox/1/retry", nil).wantCode(t, http.StatusOK).decode(t, &m)
	if m.ID != 1 || m.State != outbox.Pending || !m.NextAt.Equal(now) || !m.UpdatedAt.Equal(now) ||
		m.Attempts != 1 || m.LastError != "403 Forbidden: missing permission" || m.DoneAt != nil {
		t.Errorf("after retry: %+v; want pending, due at %s, attempts and last error kept", m, now)
	}
	if got := e.outboxMsg(t, 1); got.State != outbox.Pending || !got.NextAt.Equal(now) {
		t.Errorf("stored after retry: %+v", got)
	}
	if ids, _ := e.outboxIDs(t, "/api/v1/outbox?state=failed"); len(ids) != 0 {
		t.Errorf("failed after retry = %v, want none", ids)
	}

	// A message still waiting is made due now; admins may retry too.
	e.do(t, admin, "POST", "/api/v1/outbox/4/retry", nil).wantCode(t, http.StatusOK).decode(t, &m)
	if m.State != outbox.Pending || !m.NextAt.Equal(now) {
		t.Errorf("retry of a waiting message: %+v", m)
	}

	// A delivered message cannot be sent again: 409, and it stays done.
	r = e.do(t, responder, "POST", "/api/v1/outbox/2/retry", nil).wantCode(t, http.StatusConflict)
	if ae := r.apiErr(t); ae.Error.Code != "conflict" || !strings.Contains(ae.Error.Message, "already delivered") {
		t.Errorf("%s: want code conflict and a message saying it was delivered", r)
	}
	if got := e.outboxMsg(t, 2); got.State != outbox.Done || got.DoneAt == nil {
		t.Errorf("delivered message after a refused retry: %+v", got)
	}

	// Unknown and malformed ids.
	r = e.do(t, responder, "POST", "/api/v1/outbox/999/retry", nil).wantCode(t, http.StatusNotFound)
	if msg := r.apiErr(t).Error.Message; msg != "outbox message 999: not found" {
		t.Errorf("%s: message %q", r, msg)
	}
	r = e.do(t, responder, "POST", "/api/v1/outbox/0/retry", nil).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "id" {
		t.Errorf("%s: field %q, want id", r, got)
	}
	r = e.do(t, responder, "GET", "/api/v1/outbox/1/retry", nil).wantCode(t, http.StatusMethodNotAllowed)
	if allow := r.hdr.Get("Allow"); allow != "POST" {
		t.Errorf("%s: Allow %q, want POST", r, allow)
	}
}

func TestWorkItemOutbox(t *testing.T) {
	f := newOutboxFixture(t)
	e := f.e
	path := func(id int64, query string) string { return fmt.Sprintf("/api/v1/workitems/%d/outbox%s", id, query) }
	tests := []struct {
		path string
		want []int64
	}{
		{path(f.a, ""), []int64{3, 2, 1}},
		{path(f.a, "?state=failed"), []int64{1}},
		{path(f.a, "?state=pending"), []int64{3}},
		{path(f.b, ""), []int64{4}},
		{path(f.c, ""), []int64{}}, // exists, queued nothing
	}
	for _, tt := range tests {
		got, next := e.outboxIDs(t, tt.path)
		if !slices.Equal(got, tt.want) || next != "" {
			t.Errorf("GET %s = %v (next %q), want %v", tt.path, got, next, tt.want)
		}
	}
	var p outboxPage
	e.do(t, viewer, "GET", path(f.a, ""), nil).wantCode(t, http.StatusOK).decode(t, &p)
	for _, m := range p.Items {
		if m.WorkItemID != f.a {
			t.Errorf("item %d's outbox holds message %d of item %d", f.a, m.ID, m.WorkItemID)
		}
	}

	// Paging.
	ids, next := e.outboxIDs(t, path(f.a, "?limit=2"))
	if !slices.Equal(ids, []int64{3, 2}) || next != "2" {
		t.Errorf("first page = %v, next %q", ids, next)
	}
	if ids, _ = e.outboxIDs(t, path(f.a, "?limit=2&cursor="+next)); !slices.Equal(ids, []int64{1}) {
		t.Errorf("second page = %v, want [1]", ids)
	}

	// Errors.
	r := e.do(t, viewer, "GET", path(999, ""), nil).wantCode(t, http.StatusNotFound)
	if msg := r.apiErr(t).Error.Message; msg != "work item 999: not found" {
		t.Errorf("%s: message %q, want \"work item 999: not found\"", r, msg)
	}
	r = e.do(t, viewer, "GET", path(f.a, "?state=sent"), nil).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "state" {
		t.Errorf("%s: field %q, want state", r, got)
	}
	r = e.do(t, viewer, "GET", "/api/v1/workitems/x/outbox", nil).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "id" {
		t.Errorf("%s: field %q, want id", r, got)
	}
	e.do(t, noAuth, "GET", path(f.a, ""), nil).wantCode(t, http.StatusUnauthorized)
}
