package twoway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

const jiraSecret = "jira webhook secret of the test"

// jiraHarness is the harness with a Jira mirror against jirasim and the
// webhook receiver.
func jiraHarness(t *testing.T, accountID string) (*harness, *jirasim.Server, *twoway.JiraHook) {
	t.Helper()
	h := newHarness(t)
	sim := jirasim.New(jirasim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := jira.New(jira.Config{BaseURL: srv.URL, Email: "vigil@example.com", APIToken: "token", Project: "SEC",
		HTTPClient: srv.Client()}, h.db)
	if err != nil {
		t.Fatal(err)
	}
	mirror := twoway.NewMirror(twoway.Tickets{System: jira.Target}, h.db, h.proc, h.log)
	h.items = workitem.NewService(h.db, h.proc, h.clk).WithPlanner(writeback.New(h.db).With(mirror))
	h.sender = outbox.NewSender(h.db, map[string]outbox.Target{"sentinel": h.sentinel, "defender": h.defender,
		jira.Target: client}, h.clk, h.log)
	h.modules = append(h.modules, mirror)
	hook := twoway.NewJiraHook(client, h.db, h.items, twoway.JiraHookOptions{Secret: jiraSecret, AccountID: accountID}, h.log)
	return h, sim, hook
}

// TestJiraHookFollows: a status change made in Jira by a user moves the
// mirrored work item, with origin jira and a cause naming the issue, the
// status and the user; nothing goes back to Jira, the sources hear of it.
func TestJiraHookFollows(t *testing.T) {
	h, sim, hook := jiraHarness(t, "")
	ctx := context.Background()
	_, incName := h.raise(1)
	h.cycle()
	h.drain(5)
	it := h.itemOf(incName)
	key, err := h.db.ExternalRef(ctx, it.ID, jira.Target)
	if err != nil || key == "" {
		t.Fatalf("Jira ref of item %d = %q, %v", it.ID, key, err)
	}

	// vigil moves the item; the issue follows; the echo changes nothing.
	for _, to := range []string{"Approved", "Active"} {
		if _, err := h.items.Transition(ctx, analyst, it.ID, to, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	h.drain(5)
	if is, _ := sim.Issue(key); is.Status != "In Progress" {
		t.Fatalf("issue %s = %s after the item went Active, want In Progress", key, is.Status)
	}
	echo := issueUpdated(key, "To Do", "In Progress", jirasim.APIAccountID, "vigil integration")
	if res, err := hook.Receive(ctx, echo); err != nil || !strings.Contains(res, "already Active") {
		t.Errorf("echo of vigil's move: %q, %v; want already Active", res, err)
	}

	// A user closes the issue in Jira.
	body, hdr, err := sim.UserTransition(key, "Done", "Mia Krystof", jiraSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := hook.Verify(body, hdr); err != nil {
		t.Fatalf("Verify of jirasim's signed delivery: %v", err)
	}
	res, err := hook.Receive(ctx, body)
	if err != nil || !strings.Contains(res, "moved to Closed") {
		t.Fatalf("Receive = %q, %v; want the item moved to Closed", res, err)
	}
	got, err := h.db.GetWorkItem(ctx, it.ID)
	if err != nil || got.State != "Closed" {
		t.Fatalf("item = %s, %v; want Closed", got.State, err)
	}
	var entry *workitem.Entry
	for _, e := range h.timeline(it.ID) {
		if e.Kind == workitem.KindTransition && e.Actor == jira.Target {
			entry = &e
		}
	}
	if entry == nil || !strings.Contains(entry.Message, key) || !strings.Contains(entry.Message, "Done") || !strings.Contains(entry.Message, "Mia Krystof") {
		t.Fatalf("timeline has no transition by jira naming %s, Done and the user: %+v", key, entry)
	}
	// Nothing is queued back to Jira; the Sentinel incident is closed.
	ms, err := h.db.ListOutbox(ctx, outbox.Pending, 0, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Target == jira.Target {
			t.Errorf("a write back to Jira was queued after following Jira: %+v", m)
		}
	}
	before := sim.Hits("POST /rest/api/3/issue/{key}/transitions")
	h.drain(5)
	if got := h.incident(incName).Status; got != "Closed" {
		t.Errorf("Sentinel incident = %s after the Jira close, want Closed", got)
	}
	if after := sim.Hits("POST /rest/api/3/issue/{key}/transitions"); after != before {
		t.Errorf("vigil transitioned the issue again (%d → %d)", before, after)
	}
}

// TestJiraHookIgnores: what the hook answers without doing anything, and
// the bodies it refuses naming the field.
func TestJiraHookIgnores(t *testing.T) {
	h, sim, hook := jiraHarness(t, jirasim.APIAccountID)
	ctx := context.Background()
	_, incName := h.raise(1)
	h.cycle()
	h.drain(5)
	it := h.itemOf(incName)
	key, _ := h.db.ExternalRef(ctx, it.ID, jira.Target)
	if _, ok := sim.Issue(key); !ok {
		t.Fatalf("item %d has no Jira issue (ref %q)", it.ID, key)
	}

	tests := []struct {
		name, body, want, field string
	}{
		{"vigil's own late echo", string(issueUpdated(key, "In Progress", "Done", jirasim.APIAccountID, "vigil integration")), "vigil's own change", ""},
		{"unknown issue", string(issueUpdated("SEC-999", "To Do", "Done", "u1", "Mia")), "does not mirror", ""},
		{"unmapped status", string(issueUpdated(key, "To Do", "Blocked", "u1", "Mia")), "maps to no vigil state", ""},
		{"no status change", fmt.Sprintf(`{"webhookEvent":"jira:issue_updated","issue":{"key":%q,"fields":{"labels":[]}},"changelog":{"items":[{"field":"summary","toString":"x"}]}}`, key), "no status change", ""},
		{"created", fmt.Sprintf(`{"webhookEvent":"jira:issue_created","issue":{"key":%q,"fields":{}}}`, key), "needs nothing", ""},
		{"not json", `{"webhookEvent":`, "", "body"},
		{"not an issue event", `{"webhookEvent":"sprint_started"}`, "", "webhookEvent"},
		{"no issue key", `{"webhookEvent":"jira:issue_updated","issue":{}}`, "", "issue.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := hook.Receive(ctx, []byte(tt.body))
			if tt.field != "" {
				var fe *validation.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err = %v, want a field error on %s", err, tt.field)
				}
				return
			}
			if err != nil || !strings.Contains(res, tt.want) {
				t.Fatalf("Receive = %q, %v; want %q", res, err, tt.want)
			}
		})
	}
	if got, _ := h.db.GetWorkItem(ctx, it.ID); got.State != it.State {
		t.Errorf("item moved to %s by ignored deliveries", got.State)
	}

	body := issueUpdated(key, "To Do", "Done", "u1", "Mia")
	sign := func(secret string) http.Header {
		hdr := http.Header{}
		hdr.Set(jira.SignatureHeader, fmt.Sprintf("sha256=%x", jira.Sign(secret, body)))
		return hdr
	}
	verify := []struct {
		name string
		hook *twoway.JiraHook
		hdr  http.Header
		want error
	}{
		{"signed", hook, sign(jiraSecret), nil},
		{"wrong secret", hook, sign("another secret"), jira.ErrBadSignature},
		{"unsigned", hook, http.Header{}, jira.ErrNoSignature},
		{"no secret configured", twoway.NewJiraHook(nil, h.db, h.items, twoway.JiraHookOptions{}, h.log), sign(""), twoway.ErrJiraHookOff},
	}
	for _, tt := range verify {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.hook.Verify(body, tt.hdr); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// issueUpdated is a jira:issue_updated body moving an issue between statuses.
func issueUpdated(key, from, to, accountID, user string) []byte {
	return fmt.Appendf(nil, `{"timestamp":1700000000000,"webhookEvent":"jira:issue_updated",
		"user":{"accountId":%q,"displayName":%q},
		"issue":{"id":"10001","key":%q,"fields":{"labels":[],"status":{"name":%q}}},
		"changelog":{"items":[{"field":"status","fieldId":"status","fromString":%q,"toString":%q}]}}`,
		accountID, user, key, to, from, to)
}
