package jira_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
	"github.com/vigil-soc/vigil/internal/outbox"
)

func TestCreateMoveComment(t *testing.T) {
	e := setup(t, jirasim.Options{}, jira.Config{})
	if err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 42, Title: "Impossible travel: alice", Description: "Sign-ins from two countries.\nWithin 5 minutes.", Severity: "high", State: "New", URL: "https://vigil.example/items/42"}); err != nil {
		t.Fatal(err)
	}
	is := e.issueOf(t, 42)
	if is.Key != "SEC-1" || is.Status != "To Do" || is.Fields["summary"] != "Impossible travel: alice" || labelled(e.sim, "vigil-42") != 1 {
		t.Fatalf("created %+v", is)
	}

	steps := []struct {
		from, to, reason, want string
		comments               int
	}{
		{"New", "Active", "", "In Progress", 0},
		{"Active", "Verification", "", "In Progress", 0}, // same status: no move
		{"Verification", "Closed", "fixed by rotating the token", "Done", 1},
	}
	for _, s := range steps {
		if err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 42, From: s.from, State: s.to, Reason: s.reason}); err != nil {
			t.Fatalf("%s → %s: %v", s.from, s.to, err)
		}
		if got := e.issueOf(t, 42); got.Status != s.want || len(got.Comments) != s.comments {
			t.Errorf("%s → %s: status %q with %d comments, want %q with %d", s.from, s.to, got.Status, len(got.Comments), s.want, s.comments)
		}
	}
	if txt := e.sim.CommentText("SEC-1"); len(txt) != 1 || !strings.Contains(txt[0], "Verification → Closed: fixed by rotating the token") {
		t.Errorf("transition comment = %q", txt)
	}

	// A comment, and its resend after a lost answer, make one comment.
	e.sim.Inject(1, jirasim.Fault{Method: "POST", Path: "/rest/api/3/issue/SEC-1/comment", DropAnswer: true})
	c := jira.CommentPayload{WorkItemID: 42, Message: "Token revoked.\nAll sessions ended."}
	if err := e.resend(t, 900, jira.OpComment, c); err == nil {
		t.Fatal("lost answer: no error")
	}
	if err := e.resend(t, 900, jira.OpComment, c); err != nil {
		t.Fatal(err)
	}
	txt := e.sim.CommentText("SEC-1")
	if len(txt) != 2 || !strings.Contains(txt[1], "Token revoked.\nAll sessions ended.\n[vigil #42 note 900]") {
		t.Errorf("comments = %q", txt)
	}

	// A resent create after success finds the ref and does nothing.
	if err := e.resend(t, 1, jira.OpCreate, jira.CreatePayload{WorkItemID: 42, Title: "x"}); err != nil || len(e.sim.Issues()) != 1 {
		t.Errorf("resent create: %v, %d issues", err, len(e.sim.Issues()))
	}
}

func TestCreateResendAfterLostAnswer(t *testing.T) {
	tests := []struct {
		name      string
		fault     jirasim.Fault
		failSaves int
	}{
		{"answer lost", jirasim.Fault{Method: "POST", Path: "/rest/api/3/issue", DropAnswer: true}, 0},
		{"ref not saved", jirasim.Fault{Path: "/nothing"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, jirasim.Options{}, jira.Config{})
			e.sim.Inject(1, tc.fault)
			e.refs.failSaves = tc.failSaves
			p := jira.CreatePayload{WorkItemID: 7, Title: "Malware on host-3", State: "Active"}
			err := e.resend(t, 1, jira.OpCreate, p)
			var re *outbox.RetryableError
			if !errors.As(err, &re) {
				t.Fatalf("first send: %v, want retryable", err)
			}
			if err := e.resend(t, 1, jira.OpCreate, p); err != nil {
				t.Fatal(err)
			}
			if n := len(e.sim.Issues()); n != 1 {
				t.Fatalf("%d issues after the resend, want 1", n)
			}
			if is := e.issueOf(t, 7); is.Status != "In Progress" {
				t.Errorf("status %q, want In Progress (created Active)", is.Status)
			}
			if e.sim.Hits("GET /rest/api/3/search/jql") != 2 {
				t.Errorf("search hits %d, want 2", e.sim.Hits("GET /rest/api/3/search/jql"))
			}
		})
	}
}

func TestMissingTransition(t *testing.T) {
	// A workflow where Done is reached only from In Progress.
	opts := jirasim.Options{Transitions: []jirasim.Transition{
		{ID: "21", Name: "Start", To: "In Progress", From: []string{"To Do"}},
		{ID: "31", Name: "Finish", To: "Done", From: []string{"In Progress"}},
	}}
	e := setup(t, opts, jira.Config{})
	if err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 1, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 1, From: "New", State: "Closed"})
	var re *outbox.RetryableError
	var ce *outbox.ConflictError
	if err == nil || errors.As(err, &re) || errors.As(err, &ce) {
		t.Fatalf("err = %v, want a plain (final) error", err)
	}
	for _, want := range []string{`status "Done"`, `"Start" (21) to "In Progress"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "token") {
		t.Errorf("error mentions the credential: %v", err)
	}
}

func TestResolvedInJiraIsNotReopened(t *testing.T) {
	e := setup(t, jirasim.Options{}, jira.Config{})
	if err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 5, Title: "t", State: "Active"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.sim.UserTransition("SEC-1", "Done", "Mia", ""); err != nil {
		t.Fatal(err)
	}
	err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 5, From: "Active", State: "Verification"})
	var ce *outbox.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "moved to Done in Jira") {
		t.Fatalf("err = %v, want a conflict", err)
	}
	// vigil closing it too agrees with Jira: nothing to do.
	if err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 5, From: "Active", State: "Closed"}); err != nil {
		t.Fatal(err)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*env)
		retryable bool
		after     time.Duration
		contains  string
	}{
		{"429 with Retry-After", func(e *env) {
			e.sim.Inject(1, jirasim.Fault{Path: "/rest/api/3/search/jql", Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})
		}, true, 30 * time.Second, "429 Rate limit exceeded."},
		{"503 page", func(e *env) {
			e.sim.Inject(1, jirasim.Fault{Method: "POST", Status: http.StatusServiceUnavailable})
		}, true, 0, "503 Service Unavailable"},
		{"400 required field", func(e *env) { e.sim.RequireFields("priority") }, false, 0, "400 Field 'priority' is required"},
		{"401 bad token", func(e *env) {}, false, 0, "401 Client must be authenticated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jira.Config{}
			if strings.HasPrefix(tc.name, "401") {
				cfg.Email, cfg.APIToken = "vigil@example.com", "wrong-secret-value"
			}
			e := setup(t, jirasim.Options{}, cfg)
			tc.setup(e)
			err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 3, Title: "t"})
			var re *outbox.RetryableError
			if errors.As(err, &re) != tc.retryable {
				t.Fatalf("err = %v (%T), retryable want %v", err, err, tc.retryable)
			}
			if tc.retryable && re.After != tc.after {
				t.Errorf("After = %s, want %s", re.After, tc.after)
			}
			if err == nil || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %v, want it to contain %q", err, tc.contains)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-secret-value") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestUpdateBeforeCreateAndGone(t *testing.T) {
	e := setup(t, jirasim.Options{}, jira.Config{})
	var re *outbox.RetryableError
	if err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 9, State: "Active"}); !errors.As(err, &re) {
		t.Errorf("update before create: %v, want retryable", err)
	}
	e.refs.refs[9] = "SEC-99"
	var ce *outbox.ConflictError
	if err := e.send(t, jira.OpUpdate, jira.UpdatePayload{WorkItemID: 9, State: "Active"}); !errors.As(err, &ce) {
		t.Errorf("deleted issue: %v, want conflict", err)
	}
	if err := e.send(t, "ticket.bogus", map[string]any{"workitem_id": 9}); err == nil {
		t.Error("unknown op accepted")
	}
}

func TestNewValidates(t *testing.T) {
	refs := &memRefs{refs: map[int64]string{}}
	tests := []struct {
		name string
		cfg  jira.Config
	}{
		{"no URL", jira.Config{Email: "a", APIToken: "b", Project: "SEC"}},
		{"creds in URL", jira.Config{BaseURL: "https://u:p@x.atlassian.net", Email: "a", APIToken: "b", Project: "SEC"}},
		{"no token", jira.Config{BaseURL: "https://x.atlassian.net", Email: "a", Project: "SEC"}},
		{"bad project", jira.Config{BaseURL: "https://x.atlassian.net", Email: "a", APIToken: "b", Project: `SEC" OR x`}},
		{"bad prefix", jira.Config{BaseURL: "https://x.atlassian.net", Email: "a", APIToken: "b", Project: "SEC", KeyPrefix: "a b"}},
	}
	for _, tc := range tests {
		if _, err := jira.New(tc.cfg, refs); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestPriorityAndSummary(t *testing.T) {
	e := setup(t, jirasim.Options{}, jira.Config{Priorities: map[string]string{"high": "High", "critical": "Highest"}})
	if err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 4, Title: "  Brute\nforce  ", Severity: "High"}); err != nil {
		t.Fatal(err)
	}
	is := e.issueOf(t, 4)
	if is.Fields["summary"] != "Brute force" || fmt.Sprint(is.Fields["priority"]) != "map[name:High]" {
		t.Fatalf("created summary %q priority %v", is.Fields["summary"], is.Fields["priority"])
	}
	steps := []struct {
		p    jira.UpdatePayload
		puts int
		prio string
	}{
		{jira.UpdatePayload{WorkItemID: 4, Severity: "high", Title: "Brute force"}, 0, "High"}, // already so
		{jira.UpdatePayload{WorkItemID: 4, Severity: "critical"}, 1, "Highest"},
		{jira.UpdatePayload{WorkItemID: 4, Severity: "medium", Title: "Brute force on vpn"}, 2, "Highest"}, // medium is not mapped
	}
	for i, s := range steps {
		if err := e.send(t, jira.OpUpdate, s.p); err != nil {
			t.Fatal(err)
		}
		is := e.issueOf(t, 4)
		if n := e.sim.Hits("PUT /rest/api/3/issue/{key}"); n != s.puts || fmt.Sprint(is.Fields["priority"]) != "map[name:"+s.prio+"]" {
			t.Errorf("step %d: %d edits, priority %v; want %d, %s", i, n, is.Fields["priority"], s.puts, s.prio)
		}
	}
	if is := e.issueOf(t, 4); is.Fields["summary"] != "Brute force on vpn" {
		t.Errorf("summary %q", is.Fields["summary"])
	}
}
