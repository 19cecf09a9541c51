package jira_test

import (
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/jira"
)

// Webhook bodies come from outside; parsing must never panic, and an
// event it accepts has an issue key.
func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(`{"webhookEvent":"jira:issue_updated","issue":{"key":"SEC-1","fields":{"labels":["vigil-1"]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := jira.ParseWebhook(body)
		if err == nil && ev.IssueKey == "" {
			t.Errorf("accepted an event without an issue key: %q", body)
		}
		if ev.WorkItemID < 0 {
			t.Errorf("negative work item from %q", body)
		}
	})
}

// Error bodies come from Jira or whatever proxy sits before it.
func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"errorMessages":["Field 'priority' is required"],"errors":{}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := jira.DecodeError(status, body)
		if e == nil || e.Status != status || e.Error() == "" {
			t.Errorf("DecodeError(%d, %q) = %+v", status, body, e)
		}
	})
}
