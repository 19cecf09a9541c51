package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/web"
)

// fakeJira verifies with the connector's real HMAC check and records the
// bodies handed on; parsing is the connector's too, so a bad body gets its
// field error.
type fakeJira struct {
	secret string
	bodies []string
}

func (f *fakeJira) Verify(body []byte, h http.Header) error {
	return jira.VerifyWebhook(f.secret, body, h)
}
func (f *fakeJira) Receive(_ context.Context, body []byte) (string, error) {
	ev, err := jira.ParseWebhook(body)
	if err != nil {
		return "", err
	}
	f.bodies = append(f.bodies, string(body))
	return fmt.Sprintf("work item 3 moved to Closed (%s %s)", ev.IssueKey, ev.Status), nil
}

func TestJiraWebhook(t *testing.T) {
	hook := &fakeJira{secret: "jira-secret"}
	e := newEnv(t, func(o *web.Options) { o.Jira = hook })
	body := `{"webhookEvent":"jira:issue_updated","issue":{"key":"SEC-3","fields":{"labels":["vigil-3"]}},` +
		`"changelog":{"items":[{"field":"status","fromString":"To Do","toString":"Done"}]}}`
	sig := func(secret, b string) string { return fmt.Sprintf("sha256=%x", jira.Sign(secret, []byte(b))) }
	badBody := `{"webhookEvent":"sprint_started"}`
	tests := []struct {
		name, body, sig string
		code            int
		want            string
	}{
		{"unsigned", body, "", http.StatusUnauthorized, "X-Hub-Signature"},
		{"wrong secret", body, sig("other", body), http.StatusUnauthorized, "X-Hub-Signature"},
		{"signature of another body", body, sig("jira-secret", badBody), http.StatusUnauthorized, "X-Hub-Signature"},
		{"bad body names the field", badBody, sig("jira-secret", badBody), http.StatusBadRequest, `"field":"webhookEvent"`},
		{"not json names the body", `{"webhookEvent":`, sig("jira-secret", `{"webhookEvent":`), http.StatusBadRequest, `"field":"body"`},
		{"too large", strings.Repeat(" ", 2<<20) + body, "sha256=00", http.StatusRequestEntityTooLarge, ""},
		{"delivered", body, sig("jira-secret", body), http.StatusOK, "SEC-3 Done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.sig != "" {
				hdr = []string{jira.SignatureHeader, tt.sig}
			}
			r := e.do(t, noAuth, "POST", web.JiraWebhookPath, tt.body, hdr...)
			r.wantCode(t, tt.code)
			if !strings.Contains(string(r.body), tt.want) {
				t.Errorf("body = %s, want %q", r.body, tt.want)
			}
		})
	}
	if len(hook.bodies) != 1 {
		t.Errorf("bodies handed on = %d, want only the signed valid one", len(hook.bodies))
	}

	// Without a Jira mirror with a secret, the endpoint says so.
	bare := newEnv(t)
	bare.do(t, noAuth, "POST", web.JiraWebhookPath, body, jira.SignatureHeader, sig("jira-secret", body)).wantCode(t, http.StatusNotFound)
}
