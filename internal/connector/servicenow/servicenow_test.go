package servicenow_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/servicenow"
	"github.com/vigil-soc/vigil/internal/connector/servicenow/servicenowsim"
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
	if system != servicenow.Target {
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
	sim    *servicenowsim.Server
	srv    *httptest.Server
	refs   *memRefs
	client *servicenow.Client
	nextID int64
}

func setup(t *testing.T, opts servicenowsim.Options, cfg servicenow.Config) *env {
	t.Helper()
	sim := servicenowsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	if cfg.User == "" {
		cfg.User, cfg.Password = "vigil", "secret"
	}
	cfg.HTTPClient = srv.Client()
	refs := newRefs()
	c, err := servicenow.New(cfg, refs)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, refs: refs, client: c}
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
	return e.client.Send(context.Background(), outbox.Message{ID: id, Target: servicenow.Target, Op: op, Payload: raw})
}

func (e *env) incidentOf(t *testing.T, workItemID int64) map[string]string {
	t.Helper()
	rec, ok := e.sim.Incident(e.refs.refs[workItemID])
	if !ok {
		t.Fatalf("work item %d: no incident %q", workItemID, e.refs.refs[workItemID])
	}
	return rec
}

func correlated(sim *servicenowsim.Server, key string) int {
	n := 0
	for _, rec := range sim.Incidents() {
		if rec["correlation_id"] == key {
			n++
		}
	}
	return n
}

func TestCreateUpdateComment(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{AssignmentGroup: "287ebd7da9fe198100f92cc8d1d2154e", Category: "security"})
	create := servicenow.CreatePayload{WorkItemID: 42, Title: "Suspicious sign-in", Description: "From 203.0.113.9",
		Severity: "high", State: "New", URL: "https://vigil.example/items/42"}
	if err := e.send(t, servicenow.OpCreate, create); err != nil {
		t.Fatal(err)
	}
	inc := e.incidentOf(t, 42)
	if inc["short_description"] != "Suspicious sign-in" || inc["state"] != servicenow.StateNew || inc["impact"] != "1" ||
		inc["urgency"] != "2" || inc["priority"] != "2" || inc["correlation_id"] != "vigil-42" || inc["correlation_display"] != "vigil" ||
		inc["assignment_group"] != "287ebd7da9fe198100f92cc8d1d2154e" || inc["category"] != "security" ||
		!strings.Contains(inc["description"], "https://vigil.example/items/42") {
		t.Errorf("created incident = %v", inc)
	}
	if err := e.send(t, servicenow.OpCreate, create); err != nil || len(e.sim.Incidents()) != 1 {
		t.Fatalf("second create: %v, %d incidents", err, len(e.sim.Incidents()))
	}

	steps := []struct {
		name      string
		p         servicenow.UpdatePayload
		wantState string
		wantPrio  string
		check     func(rec map[string]string) bool
	}{
		{"approve", servicenow.UpdatePayload{WorkItemID: 42, From: "New", State: "Approved"}, "1", "2", nil},
		{"start", servicenow.UpdatePayload{WorkItemID: 42, From: "Approved", State: "Active", Severity: "critical"}, "2", "1", nil},
		{"verify", servicenow.UpdatePayload{WorkItemID: 42, From: "Active", State: "Verification", Severity: "medium"}, "2", "3", nil},
		{"close", servicenow.UpdatePayload{WorkItemID: 42, From: "Verification", State: "Closed", Reason: "True positive, contained"}, "6", "3",
			func(r map[string]string) bool {
				return r["close_code"] == "Solution provided" && r["close_notes"] == "True positive, contained" && r["resolved_at"] != ""
			}},
	}
	for _, s := range steps {
		if err := e.send(t, servicenow.OpUpdate, s.p); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rec := e.incidentOf(t, 42)
		if rec["state"] != s.wantState || rec["priority"] != s.wantPrio || (s.check != nil && !s.check(rec)) {
			t.Errorf("%s: state %s priority %s; want %s %s (%v)", s.name, rec["state"], rec["priority"], s.wantState, s.wantPrio, rec)
		}
	}
	if err := e.send(t, servicenow.OpComment, servicenow.CommentPayload{WorkItemID: 42, Message: "VirusTotal: 3/90 engines"}); err != nil {
		t.Fatal(err)
	}
	j := e.sim.Journal(e.refs.refs[42])
	if len(j) != 1 || j[0].Field != "work_notes" || !strings.HasPrefix(j[0].Value, "VirusTotal: 3/90 engines") {
		t.Errorf("journal = %+v", j)
	}
}

func TestRemovedCancelsWithWorkNote(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 5, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 5, From: "New", State: "Removed", Reason: "duplicate of #4"}); err != nil {
		t.Fatal(err)
	}
	if rec := e.incidentOf(t, 5); rec["state"] != servicenow.StateCanceled || rec["active"] != "false" {
		t.Errorf("after Removed: %v", rec)
	}
	if j := e.sim.Journal(e.refs.refs[5]); len(j) != 1 || !strings.Contains(j[0].Value, "duplicate of #4") {
		t.Errorf("journal = %+v", j)
	}
	// Canceled is read-only: sending it again is a no-op; a comment is a conflict.
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 5, From: "New", State: "Removed"}); err != nil {
		t.Errorf("Removed again: %v", err)
	}
	var ce *outbox.ConflictError
	if err := e.send(t, servicenow.OpComment, servicenow.CommentPayload{WorkItemID: 5, Message: "late"}); !errors.As(err, &ce) {
		t.Errorf("comment on a canceled incident: %v, want a conflict", err)
	}
}

func TestCreateInAClosedState(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 8, Title: "late mirror", State: "Closed", Severity: "low"}); err != nil {
		t.Fatal(err)
	}
	if rec := e.incidentOf(t, 8); rec["state"] != servicenow.StateResolved || rec["close_code"] == "" || rec["close_notes"] == "" || rec["priority"] != "4" {
		t.Errorf("incident = %v", rec)
	}
}

func TestUpdateAlreadySoWritesNothing(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 1, Title: "t", Severity: "low", State: "Active"}); err != nil {
		t.Fatal(err)
	}
	patches := e.sim.Hits("PATCH /api/now/table/{table}/{sys_id}")
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 1, From: "Active", State: "Verification", Severity: "low", Title: "t", Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Hits("PATCH /api/now/table/{table}/{sys_id}"); got != patches {
		t.Errorf("PATCHes = %d, want %d: nothing differed", got, patches)
	}
}

func TestResendAfterLostAnswerDoesNotDuplicate(t *testing.T) {
	tests := []struct {
		name      string
		lose      func(e *env)
		wantFirst string
	}{
		{"create answer lost", func(e *env) {
			e.sim.Inject(1, servicenowsim.Fault{Method: "POST", DropAnswer: true})
		}, "POST"},
		{"ref not saved", func(e *env) { e.refs.failSaves = 1 }, "save"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, servicenowsim.Options{}, servicenow.Config{})
			// Another item's incident, to show the query is by key.
			if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 90, Title: "other"}); err != nil {
				t.Fatal(err)
			}
			tt.lose(e)
			p := servicenow.CreatePayload{WorkItemID: 9, Title: "t", Severity: "medium"}
			err := e.resend(t, 100, servicenow.OpCreate, p)
			var re *outbox.RetryableError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantFirst) {
				t.Fatalf("first attempt: %v, want a retryable error about %s", err, tt.wantFirst)
			}
			if err := e.resend(t, 100, servicenow.OpCreate, p); err != nil {
				t.Fatalf("resend: %v", err)
			}
			if n := correlated(e.sim, "vigil-9"); n != 1 {
				t.Errorf("%d incidents for vigil-9, want 1", n)
			}
			if rec := e.incidentOf(t, 9); rec["correlation_id"] != "vigil-9" {
				t.Errorf("ref points at %v", rec)
			}
		})
	}
}

func TestCommentResentAfterLostAnswerIsNotDuplicated(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 3, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	e.sim.Inject(1, servicenowsim.Fault{Method: "PATCH", DropAnswer: true})
	c := servicenow.CommentPayload{WorkItemID: 3, Message: "GeoIP: NL"}
	var re *outbox.RetryableError
	if err := e.resend(t, 500, servicenow.OpComment, c); !errors.As(err, &re) {
		t.Fatalf("lost answer: %v, want retryable", err)
	}
	if err := e.resend(t, 500, servicenow.OpComment, c); err != nil {
		t.Fatal(err)
	}
	if j := e.sim.Journal(e.refs.refs[3]); len(j) != 1 {
		t.Errorf("journal = %+v, want 1 entry", j)
	}
	if err := e.resend(t, 501, servicenow.OpComment, c); err != nil {
		t.Fatal(err)
	}
	if j := e.sim.Journal(e.refs.refs[3]); len(j) != 2 {
		t.Errorf("journal = %+v, want 2 entries", j)
	}
}

func TestUpdateConflictsAndMissingIncident(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	for id := int64(1); id <= 3; id++ {
		if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: id, Title: "t", State: "Active"}); err != nil {
			t.Fatal(err)
		}
	}
	// An agent resolves incident 1 and closes incident 2 in ServiceNow.
	if err := e.sim.UserUpdate(e.refs.refs[1], map[string]string{"state": "6", "close_code": "Solution provided", "close_notes": "rebooted"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UserUpdate(e.refs.refs[2], map[string]string{"state": "7", "close_code": "Solution provided", "close_notes": "done"}); err != nil {
		t.Fatal(err)
	}
	var ce *outbox.ConflictError
	tests := []struct {
		name     string
		p        servicenow.UpdatePayload
		conflict string // "" for none
	}{
		{"reopen an agent-resolved incident", servicenow.UpdatePayload{WorkItemID: 1, From: "Active", State: "Verification"}, "resolved in ServiceNow"},
		{"close an agent-resolved incident", servicenow.UpdatePayload{WorkItemID: 1, From: "Verification", State: "Closed", Reason: "r"}, ""},
		{"move a closed incident", servicenow.UpdatePayload{WorkItemID: 2, From: "Active", State: "Verification"}, "is Closed"},
		{"severity of a closed incident", servicenow.UpdatePayload{WorkItemID: 2, Severity: "critical"}, ""},
	}
	for _, tt := range tests {
		err := e.send(t, servicenow.OpUpdate, tt.p)
		switch {
		case tt.conflict == "" && err != nil:
			t.Errorf("%s: %v, want nil", tt.name, err)
		case tt.conflict != "" && (!errors.As(err, &ce) || !strings.Contains(ce.Reason, tt.conflict)):
			t.Errorf("%s: %v, want a conflict about %q", tt.name, err, tt.conflict)
		}
	}
	if rec := e.incidentOf(t, 1); rec["state"] != "6" || rec["close_notes"] != "rebooted" {
		t.Errorf("incident 1 = %v; the agent's resolution must stand", rec)
	}
	// vigil reopening its own resolution is fine.
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 1, From: "Closed", State: "Active"}); err != nil {
		t.Errorf("reopen from vigil: %v", err)
	}
	if rec := e.incidentOf(t, 1); rec["state"] != "2" || rec["reopen_count"] != "1" {
		t.Errorf("after reopen: %v", rec)
	}
	// An incident that vanished (deleted, or not visible to the user).
	e.refs.refs[3] = "0123456789abcdef0123456789abcdef"
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 3, State: "Closed"}); !errors.As(err, &ce) {
		t.Errorf("update of a missing incident: %v, want a conflict", err)
	}
	var re *outbox.RetryableError
	if err := e.send(t, servicenow.OpUpdate, servicenow.UpdatePayload{WorkItemID: 4, State: "Active"}); !errors.As(err, &re) || !strings.Contains(err.Error(), "not created yet") {
		t.Errorf("update before create: %v, want retryable 'not created yet'", err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 59, 0, 0, time.UTC))
	tests := []struct {
		name      string
		opts      servicenowsim.Options
		cfg       servicenow.Config
		before    func(e *env)
		retryable bool
		after     time.Duration
		contains  []string
	}{
		{name: "rate limited", opts: servicenowsim.Options{RateLimit: 1, Clock: clk}, retryable: true, after: 60 * time.Second,
			contains: []string{"429", "Rate limit of 1 requests per hour for Table API exceeded"}},
		{name: "injected 429", before: func(e *env) {
			e.sim.Inject(1, servicenowsim.Fault{Status: 429, RetryAfter: 90 * time.Second})
		}, retryable: true, after: 90 * time.Second, contains: []string{"429", "Rate limit exceeded"}},
		{name: "server error page", before: func(e *env) {
			e.sim.Inject(1, servicenowsim.Fault{Status: 503, RetryAfter: 5 * time.Second})
		}, retryable: true, after: 5 * time.Second, contains: []string{"503 Service Unavailable"}},
		{name: "network", before: func(e *env) { e.srv.Close() }, retryable: true},
		{name: "wrong password", cfg: servicenow.Config{User: "vigil", Password: "sekrit-wrong"}, contains: []string{"401", "User Not Authenticated"}},
		{name: "data policy", before: func(e *env) { e.sim.RequireFields("assignment_group") },
			contains: []string{"403", "Data Policy Exception", "mandatory: Assignment group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, tt.opts, tt.cfg)
			if tt.opts.RateLimit > 0 {
				if err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 1, Title: "t"}); err == nil {
					t.Fatal("create with one request to spare succeeded")
				}
			}
			if tt.before != nil {
				tt.before(e)
			}
			err := e.send(t, servicenow.OpCreate, servicenow.CreatePayload{WorkItemID: 2, Title: "t"})
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
			if strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "secret") {
				t.Errorf("err = %q leaks the password", err)
			}
		})
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	e := setup(t, servicenowsim.Options{}, servicenow.Config{})
	for _, m := range []outbox.Message{
		{Op: "ticket.delete", Payload: json.RawMessage(`{"workitem_id":1}`)},
		{Op: servicenow.OpCreate, Payload: json.RawMessage(`{"title":"no item"}`)},
		{Op: servicenow.OpUpdate, Payload: json.RawMessage(`[]`)},
	} {
		err := e.client.Send(context.Background(), m)
		var re *outbox.RetryableError
		if err == nil || errors.As(err, &re) {
			t.Errorf("Send(%s %s) = %v, want a permanent error", m.Op, m.Payload, err)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	refs := newRefs()
	for _, cfg := range []servicenow.Config{
		{URL: "", User: "u", Password: "p"},
		{URL: "dev1234.service-now.com", User: "u", Password: "p"},
		{URL: "https://u:p@dev1234.service-now.com", User: "u", Password: "p"},
		{URL: "https://dev1234.service-now.com", User: "u"},
		{URL: "https://dev1234.service-now.com", User: "u", Password: "p", KeyPrefix: "x^ORactive=true"},
	} {
		if _, err := servicenow.New(cfg, refs); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestStateMapping(t *testing.T) {
	tests := []struct {
		state, want string
		ok          bool
	}{
		{"New", servicenow.StateNew, true},
		{"Approved", servicenow.StateNew, true},
		{"Active", servicenow.StateInProgress, true},
		{"Verification", servicenow.StateInProgress, true},
		{"Closed", servicenow.StateResolved, true},
		{"Removed", servicenow.StateCanceled, true},
		{"Triage", "", false},
	}
	for _, tt := range tests {
		if got, ok := servicenow.State(tt.state); got != tt.want || ok != tt.ok {
			t.Errorf("State(%q) = %q, %v; want %q, %v", tt.state, got, ok, tt.want, tt.ok)
		}
	}
}

func TestImpactUrgencyMapping(t *testing.T) {
	tests := []struct {
		severity, impact, urgency, priority string
		ok                                  bool
	}{
		{"critical", "1", "1", "1", true},
		{"high", "1", "2", "2", true},
		{"Medium", "2", "2", "3", true},
		{"low", "2", "3", "4", true},
		{"informational", "3", "3", "5", true},
		{"unknown", "", "", "", false},
	}
	for _, tt := range tests {
		imp, urg, ok := servicenow.ImpactUrgency(tt.severity)
		if imp != tt.impact || urg != tt.urgency || ok != tt.ok {
			t.Errorf("ImpactUrgency(%q) = %q, %q, %v; want %q, %q, %v", tt.severity, imp, urg, ok, tt.impact, tt.urgency, tt.ok)
		}
		if ok && servicenowsim.Priority(imp, urg) != tt.priority {
			t.Errorf("%s: priority %s, want %s", tt.severity, servicenowsim.Priority(imp, urg), tt.priority)
		}
	}
}
