package freshdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/freshdesk"
	"github.com/vigil-soc/vigil/internal/connector/freshdesk/freshdesksim"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// memRefs is an in-memory Refs; failSaves makes the next saves fail.
type memRefs struct {
	mu        sync.Mutex
	refs      map[int64]string
	failSaves int
}

func newRefs() *memRefs { return &memRefs{refs: map[int64]string{}} }

func (m *memRefs) ExternalRef(_ context.Context, id int64, system string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if system != freshdesk.Target {
		return "", nil
	}
	return m.refs[id], nil
}

func (m *memRefs) SaveExternalRef(_ context.Context, id int64, system, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSaves > 0 {
		m.failSaves--
		return errors.New("database is locked")
	}
	m.refs[id] = ref
	return nil
}

func (m *memRefs) WorkItemByRef(_ context.Context, system, ref string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.refs {
		if r == ref {
			return id, nil
		}
	}
	return 0, nil
}

type env struct {
	sim    *freshdesksim.Server
	srv    *httptest.Server
	refs   *memRefs
	client *freshdesk.Client
	nextID int64
}

func setup(t *testing.T, opts freshdesksim.Options, cfg freshdesk.Config) *env {
	t.Helper()
	sim := freshdesksim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if cfg.URL == "" {
		cfg.URL = srv.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = "test-key"
	}
	if cfg.RequesterEmail == "" {
		cfg.RequesterEmail = "soc@example.com"
	}
	cfg.HTTPClient = srv.Client()
	refs := newRefs()
	c, err := freshdesk.New(cfg, refs)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, refs: refs, client: c}
}

// send sends op with payload as a new outbox message.
func (e *env) send(t *testing.T, op string, payload any) error {
	t.Helper()
	e.nextID++
	return e.resend(t, e.nextID, op, payload)
}

// resend sends op as outbox message id (again).
func (e *env) resend(t *testing.T, id int64, op string, payload any) error {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return e.client.Send(context.Background(), outbox.Message{ID: id, Target: freshdesk.Target, Op: op, Payload: raw})
}

func (e *env) ticketOf(t *testing.T, workItemID int64) freshdesksim.Ticket {
	t.Helper()
	ref := e.refs.refs[workItemID]
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		t.Fatalf("work item %d has ref %q", workItemID, ref)
	}
	tk, ok := e.sim.Ticket(id)
	if !ok {
		t.Fatalf("no ticket %d", id)
	}
	return tk
}

func tagged(sim *freshdesksim.Server, tag string) int {
	n := 0
	for _, tk := range sim.Tickets() {
		for _, x := range tk.Tags {
			if x == tag {
				n++
			}
		}
	}
	return n
}

func TestCreateUpdateComment(t *testing.T) {
	e := setup(t, freshdesksim.Options{}, freshdesk.Config{GroupID: 7, TicketType: "Incident"})
	create := freshdesk.CreatePayload{WorkItemID: 42, Title: "Suspicious sign-in", Description: "From 203.0.113.9\n<script>",
		Severity: "high", State: "New", URL: "https://vigil.example/items/42"}
	if err := e.send(t, freshdesk.OpCreate, create); err != nil {
		t.Fatal(err)
	}
	tk := e.ticketOf(t, 42)
	if tk.Subject != "Suspicious sign-in" || tk.Status != freshdesk.StatusOpen || tk.Priority != freshdesk.PriorityHigh ||
		tk.Email != "soc@example.com" || tk.GroupID != 7 || tk.Type != "Incident" || len(tk.Tags) != 1 || tk.Tags[0] != "vigil-42" {
		t.Errorf("created ticket = %+v", tk)
	}
	if !strings.Contains(tk.Description, "&lt;script&gt;") || !strings.Contains(tk.Description, "https://vigil.example/items/42") {
		t.Errorf("description = %q, want the escaped text and the link", tk.Description)
	}
	// The same create again (a duplicate message) does nothing.
	if err := e.send(t, freshdesk.OpCreate, create); err != nil || len(e.sim.Tickets()) != 1 {
		t.Fatalf("second create: %v, %d tickets", err, len(e.sim.Tickets()))
	}

	steps := []struct {
		name       string
		p          freshdesk.UpdatePayload
		wantStatus int
		wantPrio   int
		wantNotes  int
	}{
		{"approve", freshdesk.UpdatePayload{WorkItemID: 42, From: "New", State: "Approved"}, freshdesk.StatusOpen, freshdesk.PriorityHigh, 0},
		{"start", freshdesk.UpdatePayload{WorkItemID: 42, From: "Approved", State: "Active", Severity: "critical"}, freshdesk.StatusOpen, freshdesk.PriorityUrgent, 0},
		{"verify", freshdesk.UpdatePayload{WorkItemID: 42, From: "Active", State: "Verification", Reason: "patched"}, freshdesk.StatusPending, freshdesk.PriorityUrgent, 1},
		{"close", freshdesk.UpdatePayload{WorkItemID: 42, From: "Verification", State: "Closed", Reason: "True positive, contained"}, freshdesk.StatusResolved, freshdesk.PriorityUrgent, 2},
	}
	for _, s := range steps {
		if err := e.send(t, freshdesk.OpUpdate, s.p); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		tk := e.ticketOf(t, 42)
		if tk.Status != s.wantStatus || tk.Priority != s.wantPrio || len(tk.Notes) != s.wantNotes {
			t.Errorf("%s: status %d priority %d notes %d; want %d %d %d", s.name, tk.Status, tk.Priority, len(tk.Notes), s.wantStatus, s.wantPrio, s.wantNotes)
		}
	}
	tk = e.ticketOf(t, 42)
	if last := tk.Notes[len(tk.Notes)-1]; !last.Private || !strings.Contains(last.Body, "True positive, contained") {
		t.Errorf("resolution note = %+v", last)
	}

	if err := e.send(t, freshdesk.OpComment, freshdesk.CommentPayload{WorkItemID: 42, Message: "VirusTotal: 3/90 engines"}); err != nil {
		t.Fatal(err)
	}
	tk = e.ticketOf(t, 42)
	if last := tk.Notes[len(tk.Notes)-1]; !last.Private || !strings.HasPrefix(last.Body, "VirusTotal: 3/90 engines") {
		t.Errorf("comment = %+v", last)
	}
	// A title change is written; nothing else changes.
	if err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 42, Title: "Suspicious sign-in (contained)"}); err != nil {
		t.Fatal(err)
	}
	if tk := e.ticketOf(t, 42); tk.Subject != "Suspicious sign-in (contained)" || tk.Status != freshdesk.StatusResolved {
		t.Errorf("after the title change: %+v", tk)
	}
}

func TestUpdateAlreadySoWritesNothing(t *testing.T) {
	e := setup(t, freshdesksim.Options{}, freshdesk.Config{})
	if err := e.send(t, freshdesk.OpCreate, freshdesk.CreatePayload{WorkItemID: 1, Title: "t", Severity: "low", State: "Active"}); err != nil {
		t.Fatal(err)
	}
	puts := e.sim.Hits("PUT /api/v2/tickets/{id}")
	if err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 1, From: "Approved", State: "Active", Severity: "informational", Reason: "go"}); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Hits("PUT /api/v2/tickets/{id}"); got != puts {
		t.Errorf("PUTs = %d, want %d: nothing differed", got, puts)
	}
	if tk := e.ticketOf(t, 1); len(tk.Notes) != 0 {
		t.Errorf("notes = %+v, want none", tk.Notes)
	}
}

func TestResendAfterLostAnswerDoesNotDuplicate(t *testing.T) {
	tests := []struct {
		name      string
		lag       time.Duration // search index delay
		lose      func(e *env)  // makes the first attempt's answer get lost
		wantFirst string
	}{
		{"create answer lost, search has it", 0, func(e *env) {
			e.sim.Inject(1, freshdesksim.Fault{Method: "POST", Path: "/api/v2/tickets", DropAnswer: true})
		}, "POST"},
		{"create answer lost, search lags", time.Hour, func(e *env) {
			e.sim.Inject(1, freshdesksim.Fault{Method: "POST", Path: "/api/v2/tickets", DropAnswer: true})
		}, "POST"},
		{"ref not saved", time.Hour, func(e *env) { e.refs.failSaves = 1 }, "save"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
			e := setup(t, freshdesksim.Options{SearchLag: tt.lag, Clock: clk}, freshdesk.Config{})
			tt.lose(e)
			p := freshdesk.CreatePayload{WorkItemID: 9, Title: "t", Severity: "medium", State: "New"}
			err := e.resend(t, 100, freshdesk.OpCreate, p)
			var re *outbox.RetryableError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantFirst) {
				t.Fatalf("first attempt: %v, want a retryable error about %s", err, tt.wantFirst)
			}
			clk.Advance(5 * time.Second)
			if err := e.resend(t, 100, freshdesk.OpCreate, p); err != nil {
				t.Fatalf("resend: %v", err)
			}
			if n := tagged(e.sim, "vigil-9"); n != 1 {
				t.Errorf("%d tickets tagged vigil-9, want 1", n)
			}
			if tk := e.ticketOf(t, 9); tk.ID != 1 {
				t.Errorf("ref points at ticket %d, want 1", tk.ID)
			}
		})
	}
}

func TestCommentResentAfterLostAnswerIsNotDuplicated(t *testing.T) {
	e := setup(t, freshdesksim.Options{}, freshdesk.Config{})
	if err := e.send(t, freshdesk.OpCreate, freshdesk.CreatePayload{WorkItemID: 3, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	e.sim.Inject(1, freshdesksim.Fault{Method: "POST", Path: "/api/v2/tickets/1/notes", DropAnswer: true})
	c := freshdesk.CommentPayload{WorkItemID: 3, Message: "GeoIP: NL"}
	var re *outbox.RetryableError
	if err := e.resend(t, 500, freshdesk.OpComment, c); !errors.As(err, &re) {
		t.Fatalf("lost answer: %v, want retryable", err)
	}
	if err := e.resend(t, 500, freshdesk.OpComment, c); err != nil {
		t.Fatal(err)
	}
	if n := len(e.ticketOf(t, 3).Notes); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	// A different message with the same text is a different note.
	if err := e.resend(t, 501, freshdesk.OpComment, c); err != nil {
		t.Fatal(err)
	}
	if n := len(e.ticketOf(t, 3).Notes); n != 2 {
		t.Errorf("%d notes, want 2", n)
	}
}

func TestUpdateConflictsAndMissingTicket(t *testing.T) {
	e := setup(t, freshdesksim.Options{}, freshdesk.Config{})
	for id := int64(1); id <= 3; id++ {
		if err := e.send(t, freshdesk.OpCreate, freshdesk.CreatePayload{WorkItemID: id, Title: "t", State: "Active"}); err != nil {
			t.Fatal(err)
		}
	}
	// An agent resolves ticket 1 in Freshdesk; vigil moves its item on.
	if err := e.sim.AgentUpdate(1, map[string]any{"status": freshdesksim.StatusResolved}); err != nil {
		t.Fatal(err)
	}
	e.sim.AgentDelete(2)
	var ce *outbox.ConflictError
	err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 1, From: "Active", State: "Verification"})
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "Resolved") {
		t.Errorf("update of an agent-resolved ticket: %v, want a conflict", err)
	}
	if tk := e.ticketOf(t, 1); tk.Status != freshdesk.StatusResolved {
		t.Errorf("status = %d, want it left Resolved", tk.Status)
	}
	// vigil closing it too is no conflict: it is already so.
	if err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 1, From: "Verification", State: "Closed"}); err != nil {
		t.Errorf("close of a resolved ticket: %v", err)
	}
	if err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 2, State: "Closed"}); !errors.As(err, &ce) {
		t.Errorf("update of a deleted ticket: %v, want a conflict", err)
	}
	if err := e.send(t, freshdesk.OpComment, freshdesk.CommentPayload{WorkItemID: 2, Message: "x"}); !errors.As(err, &ce) {
		t.Errorf("comment on a deleted ticket: %v, want a conflict", err)
	}
	// Item 4 has no ticket yet: its create has not gone through.
	var re *outbox.RetryableError
	if err := e.send(t, freshdesk.OpUpdate, freshdesk.UpdatePayload{WorkItemID: 4, State: "Active"}); !errors.As(err, &re) || !strings.Contains(err.Error(), "not created yet") {
		t.Errorf("update before create: %v, want retryable 'not created yet'", err)
	}
	if err := e.send(t, freshdesk.OpComment, freshdesk.CommentPayload{WorkItemID: 4, Message: "x"}); !errors.As(err, &re) {
		t.Errorf("comment before create: %v, want retryable", err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	tests := []struct {
		name      string
		opts      freshdesksim.Options
		cfg       freshdesk.Config
		before    func(e *env)
		retryable bool
		after     time.Duration
		contains  []string
	}{
		{name: "rate limited", opts: freshdesksim.Options{RateLimit: 1, Clock: clk},
			before:    func(e *env) { clk.Advance(20 * time.Second) },
			retryable: true, after: 40 * time.Second, contains: []string{"429"}},
		{name: "injected 429", before: func(e *env) {
			e.sim.Inject(1, freshdesksim.Fault{Status: 429, RetryAfter: 90 * time.Second})
		}, retryable: true, after: 90 * time.Second, contains: []string{"429"}},
		{name: "server error", before: func(e *env) {
			e.sim.Inject(1, freshdesksim.Fault{Status: 502})
		}, retryable: true, contains: []string{"502"}},
		{name: "network", before: func(e *env) { e.srv.Close() }, retryable: true},
		{name: "wrong key", cfg: freshdesk.Config{APIKey: "sekrit-wrong-key"}, contains: []string{"401", "invalid_credentials"}},
		{name: "invalid requester", cfg: freshdesk.Config{RequesterEmail: "soc-at-example"}, contains: []string{"400", "email", "invalid_value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.opts, tt.cfg)
			if tt.opts.RateLimit > 0 { // use up the window
				if err := e.send(t, freshdesk.OpCreate, freshdesk.CreatePayload{WorkItemID: 1, Title: "t"}); err == nil {
					t.Fatal("create with one request to spare succeeded")
				}
			}
			if tt.before != nil {
				tt.before(e)
			}
			err := e.send(t, freshdesk.OpCreate, freshdesk.CreatePayload{WorkItemID: 2, Title: "t"})
			t.Logf("error: %v", err)
			var re *outbox.RetryableError
			if err == nil || errors.As(err, &re) != tt.retryable {
				t.Fatalf("err = %v (%T), want retryable %v", err, err, tt.retryable)
			}
			if tt.retryable && re.After != tt.after {
				t.Errorf("After = %v, want %v", re.After, tt.after)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "test-key") {
				t.Errorf("err = %q leaks the API key", err)
			}
		})
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	e := setup(t, freshdesksim.Options{}, freshdesk.Config{})
	for _, m := range []outbox.Message{
		{Op: "ticket.delete", Payload: json.RawMessage(`{"workitem_id":1}`)},
		{Op: freshdesk.OpCreate, Payload: json.RawMessage(`{"title":"no item"}`)},
		{Op: freshdesk.OpComment, Payload: json.RawMessage(`not json`)},
	} {
		err := e.client.Send(context.Background(), m)
		var re *outbox.RetryableError
		if err == nil || errors.As(err, &re) {
			t.Errorf("Send(%s %s) = %v, want a permanent error", m.Op, m.Payload, err)
		}
	}
	// The message's work item stands in for a payload without one.
	m := outbox.Message{WorkItemID: 5, Op: freshdesk.OpCreate, Payload: json.RawMessage(`{"title":"from the message"}`)}
	if err := e.client.Send(context.Background(), m); err != nil || e.refs.refs[5] == "" {
		t.Errorf("Send with the item on the message: %v, refs %v", err, e.refs.refs)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	refs := newRefs()
	for _, cfg := range []freshdesk.Config{
		{URL: "", APIKey: "k", RequesterEmail: "soc@example.com"},
		{URL: "ftp://x.freshdesk.com", APIKey: "k", RequesterEmail: "soc@example.com"},
		{URL: "https://key:X@x.freshdesk.com", APIKey: "k", RequesterEmail: "soc@example.com"},
		{URL: "https://x.freshdesk.com", RequesterEmail: "soc@example.com"},
		{URL: "https://x.freshdesk.com", APIKey: "k"},
		{URL: "https://x.freshdesk.com", APIKey: "k", RequesterEmail: "soc@example.com", KeyPrefix: "a' OR tag:'b"},
	} {
		if _, err := freshdesk.New(cfg, refs); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := freshdesk.New(freshdesk.Config{URL: "https://x.freshdesk.com", APIKey: "k", RequesterEmail: "soc@example.com"}, nil); err == nil {
		t.Error("New without Refs succeeded")
	}
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		state string
		want  int
		ok    bool
	}{
		{"New", freshdesk.StatusOpen, true},
		{"Approved", freshdesk.StatusOpen, true},
		{"Active", freshdesk.StatusOpen, true},
		{"Verification", freshdesk.StatusPending, true},
		{"Closed", freshdesk.StatusResolved, true},
		{"Removed", freshdesk.StatusClosed, true},
		{"Triage", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		if got, ok := freshdesk.Status(tt.state); got != tt.want || ok != tt.ok {
			t.Errorf("Status(%q) = %d, %v; want %d, %v", tt.state, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPriorityMapping(t *testing.T) {
	tests := []struct {
		severity string
		want     int
		ok       bool
	}{
		{"informational", freshdesk.PriorityLow, true},
		{"low", freshdesk.PriorityLow, true},
		{"medium", freshdesk.PriorityMedium, true},
		{"High", freshdesk.PriorityHigh, true},
		{"critical", freshdesk.PriorityUrgent, true},
		{"severe", 0, false},
	}
	for _, tt := range tests {
		if got, ok := freshdesk.Priority(tt.severity); got != tt.want || ok != tt.ok {
			t.Errorf("Priority(%q) = %d, %v; want %d, %v", tt.severity, got, ok, tt.want, tt.ok)
		}
	}
}
