package web

import (
	"context"
	"net/http"
)

// JiraWebhookPath receives Jira Cloud's signed admin webhooks.
const JiraWebhookPath = "/api/v1/webhooks/jira"

// JiraHook receives Jira's issue webhooks (twoway.JiraHook).
type JiraHook interface {
	// Verify checks the delivery's X-Hub-Signature against its raw body.
	Verify(body []byte, header http.Header) error
	Receive(ctx context.Context, body []byte) (string, error)
}

// jiraHook takes no session, token or key: the HMAC signature made with
// the webhook's secret is the credential, checked on the raw body before
// anything reads it.
func (s *Server) jiraHook(w http.ResponseWriter, r *http.Request) {
	if s.jira == nil {
		writeError(w, http.StatusNotFound, "not_found", "no Jira mirror with a webhook secret is configured", nil)
		return
	}
	body, err := readBody(w, r, smallBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.jira.Verify(body, r.Header); err != nil {
		s.log.Warn("jira webhook refused", "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "unauthorized", "the webhook's X-Hub-Signature is missing or does not match", nil)
		return
	}
	result, err := s.jira.Receive(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": result})
}
