package jira_test

import (
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
)

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"webhookEvent":"jira:issue_updated"}`)
	good := "sha256=" + hex.EncodeToString(jira.Sign("s3cret", body))
	tests := []struct {
		name, secret, sig string
		want              error
	}{
		{"good", "s3cret", good, nil},
		{"upper-case method", "s3cret", "SHA256=" + good[7:], nil},
		{"other secret", "other", good, jira.ErrBadSignature},
		{"tampered", "s3cret", "sha256=" + hex.EncodeToString(jira.Sign("s3cret", []byte("{}"))), jira.ErrBadSignature},
		{"sha1", "s3cret", "sha1=" + good[7:], jira.ErrBadSignature},
		{"not hex", "s3cret", "sha256=zz", jira.ErrBadSignature},
		{"missing", "s3cret", "", jira.ErrNoSignature},
		{"no secret configured", "", good, jira.ErrNoSecret},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.sig != "" {
			h.Set("X-Hub-Signature", tc.sig)
		}
		if err := jira.VerifyWebhook(tc.secret, body, h); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		name, body string
		want       jira.Event
		wantErr    bool
	}{
		{"status change", `{"timestamp":1764999000000,"webhookEvent":"jira:issue_updated",
			"user":{"accountId":"5b10a","displayName":"Mia Krystof"},
			"issue":{"id":"10001","key":"SEC-1","fields":{"labels":["triage","vigil-42"],"status":{"name":"Done"}}},
			"changelog":{"items":[{"field":"assignee","fromString":"a","toString":"b"},{"field":"status","fieldtype":"jira","fromString":"In Progress","toString":"Done"}]}}`,
			jira.Event{Type: "jira:issue_updated", IssueID: "10001", IssueKey: "SEC-1", WorkItemID: 42, Status: "Done", FromStatus: "In Progress",
				Moved: true, Who: "Mia Krystof", AccountID: "5b10a", Time: time.UnixMilli(1764999000000).UTC()}, false},
		{"no move, no label", `{"webhookEvent":"jira:issue_updated","user":{"accountId":"5b10a"},
			"issue":{"key":"OPS-3","fields":{"labels":["vigil-x"],"status":{"name":"To Do"}}},"changelog":{"items":[]}}`,
			jira.Event{Type: "jira:issue_updated", IssueKey: "OPS-3", Status: "To Do", Who: "5b10a", AccountID: "5b10a"}, false},
		{"not an issue event", `{"webhookEvent":"sprint_started"}`, jira.Event{}, true},
		{"no key", `{"webhookEvent":"jira:issue_created","issue":{}}`, jira.Event{}, true},
		{"not JSON", `{`, jira.Event{}, true},
	}
	for _, tc := range tests {
		got, err := jira.ParseWebhook([]byte(tc.body))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// Jira round-trips a state change: vigil creates and moves the issue, a
// Jira user finishes it, and the signed webhook maps back to Closed.
func TestWebhookRoundTrip(t *testing.T) {
	e := setup(t, jirasim.Options{}, jira.Config{})
	if err := e.send(t, jira.OpCreate, jira.CreatePayload{WorkItemID: 77, Title: "Phishing: invoice.zip", State: "Active"}); err != nil {
		t.Fatal(err)
	}
	body, h, err := e.sim.UserTransition(e.refs.get(77), "Done", "Mia Krystof", "hook-secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := jira.VerifyWebhook("hook-secret", body, h); err != nil {
		t.Fatal(err)
	}
	ev, err := jira.ParseWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.WorkItemID != 77 || ev.FromStatus != "In Progress" || ev.Status != "Done" || !ev.Moved || ev.Who != "Mia Krystof" || !ev.Time.Equal(t0) {
		t.Fatalf("event %+v", ev)
	}
	if st, ok := e.client.VigilState(ev.Status, "Active"); !ok || st != "Closed" {
		t.Errorf("VigilState(Done) = %q %v, want Closed", st, ok)
	}
}

func TestVigilState(t *testing.T) {
	custom := map[string]string{"New": "Open", "Active": "Investigating", "Closed": "Resolved", "Removed": "Rejected"}
	tests := []struct {
		states                map[string]string
		status, current, want string
		ok                    bool
	}{
		{nil, "To Do", "Active", "New", true},
		{nil, "To Do", "Approved", "Approved", true}, // stays where it is
		{nil, "in progress", "New", "Active", true},
		{nil, "Done", "Removed", "Removed", true},
		{nil, "Done", "Active", "Closed", true},
		{nil, "Blocked", "Active", "", false},
		{custom, "Rejected", "Active", "Removed", true},
		{custom, "To Do", "New", "", false},
	}
	for _, tc := range tests {
		if got, ok := jira.VigilState(tc.states, tc.status, tc.current); got != tc.want || ok != tc.ok {
			t.Errorf("VigilState(%q, current %q) = %q %v, want %q %v", tc.status, tc.current, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDecodeError(t *testing.T) {
	fixture, err := os.ReadFile("testdata/create_issue_error_400.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"fixture", 400, string(fixture), "400 Field 'priority' is required"},
		{"field errors", 400, `{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue.","labels":"bad"}}`,
			"400 labels: bad; summary: You must specify a summary of the issue."},
		{"gateway message", 401, `{"message":"Client must be authenticated to access this resource.","status-code":401}`,
			"401 Client must be authenticated to access this resource."},
		{"html", 502, "<html><body>Bad Gateway</body></html>", "502 Bad Gateway"},
		{"text", 503, "upstream connect error", "503 upstream connect error"},
		{"empty", 500, "", "500 Internal Server Error"},
		{"non-string field error", 400, `{"errors":{"x":[1]}}`, "400 x: [1]"},
	}
	for _, tc := range tests {
		if got := jira.DecodeError(tc.status, []byte(tc.body)).Error(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
