package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/slack"
	"github.com/vigil-soc/vigil/internal/validation"
)

// SlackHooks verify Slack's interactivity requests.
type SlackHooks struct {
	// SigningSecret signs every request Slack makes (v0 signatures).
	SigningSecret string
}

// SlackInteractivityPath is the Request URL of the Slack app's
// interactivity settings.
const SlackInteractivityPath = "/api/v1/hooks/slack/interactivity"

// slackWindow is how old a Slack request may be, as Slack recommends.
const slackWindow = 5 * time.Minute

// slackActions maps the page message's buttons to page actions.
var slackActions = map[string]string{"vigil_ack": "a", "vigil_resolve": "c", "vigil_escalate": "e"}

// slackInteractivity is POST /api/v1/hooks/slack/interactivity: a button
// of a page's message was pressed. The member who pressed it acts as the
// vigil user who verified that member id as a Slack contact method; the
// message itself is updated in place through the outbox when the page
// changes, and the presser gets a short answer only they see.
func (s *Server) slackInteractivity(w http.ResponseWriter, r *http.Request) {
	if s.pager == nil || s.slack.SigningSecret == "" {
		writeError(w, http.StatusNotFound, "not_found", "no Slack app is configured (paging.slack)", nil)
		return
	}
	body, err := slack.VerifyRequest(r, s.slack.SigningSecret, s.clock.Now(), slackWindow)
	switch {
	case errors.Is(err, slack.ErrUnsigned):
		s.refused(r, "slack", "unsigned")
		writeError(w, http.StatusUnauthorized, "unauthorized", "the request has no Slack signature", nil)
		return
	case errors.Is(err, slack.ErrBadSignature), errors.Is(err, slack.ErrStale):
		s.refused(r, "slack", err.Error())
		writeError(w, http.StatusForbidden, "forbidden", "the request's Slack signature does not verify or is too old", nil)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	a, err := slack.ParseInteraction(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	action, ok := slackActions[a.ActionID]
	if !ok {
		s.fail(w, r, validation.NewFieldError("payload.actions.action_id", "unknown action %q", a.ActionID))
		return
	}
	page, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil || page <= 0 {
		s.fail(w, r, validation.NewFieldError("payload.actions.value", "is not a page number"))
		return
	}
	if s.replayed(w, r, "slack", a.UserID+":"+a.ActionID+":"+a.ActionTS) {
		return
	}
	answer, err := s.pager.Action(r.Context(), notify.TypeSlack, a.UserID, page, action)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"response_type": "ephemeral", "replace_original": false, "text": answer})
}
