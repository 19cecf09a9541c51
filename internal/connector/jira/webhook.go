package jira

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Webhooks: an admin webhook (Jira settings → System → WebHooks, or
// POST /rest/webhooks/1.0/webhook) saved with a secret signs each
// delivery: X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body
// keyed with the secret>, the WebSub form
// (https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks).
// Webhooks registered by apps are not signed that way, so vigil accepts
// only admin webhooks with a secret.

// SignatureHeader is the header carrying a delivery's signature.
const SignatureHeader = "X-Hub-Signature"

// Errors of VerifyWebhook.
var (
	ErrNoSecret     = errors.New("jira webhook: no secret configured; set one on the Jira webhook and in vigil")
	ErrNoSignature  = errors.New("jira webhook: no " + SignatureHeader + " header")
	ErrBadSignature = errors.New("jira webhook: signature does not match")
)

// VerifyWebhook checks a delivery's signature against the raw body.
func VerifyWebhook(secret string, body []byte, header http.Header) error {
	if secret == "" {
		return ErrNoSecret
	}
	sig := strings.TrimSpace(header.Get(SignatureHeader))
	if sig == "" {
		return ErrNoSignature
	}
	method, digest, ok := strings.Cut(sig, "=")
	if !ok || !strings.EqualFold(method, "sha256") {
		return fmt.Errorf("jira webhook: signature method %q, want sha256: %w", method, ErrBadSignature)
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return fmt.Errorf("jira webhook: signature is not hex: %w", ErrBadSignature)
	}
	if !hmac.Equal(got, Sign(secret, body)) {
		return ErrBadSignature
	}
	return nil
}

// Sign is the HMAC-SHA256 of body keyed with secret; the header value is
// "sha256=" + hex of it.
func Sign(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// Event is what vigil takes from an issue webhook.
type Event struct {
	Type       string // webhookEvent: jira:issue_updated, jira:issue_created, jira:issue_deleted
	IssueID    string
	IssueKey   string
	WorkItemID int64  // from the label vigil-<id>; 0 when the issue has none
	Status     string // the status after the event; "" when unknown
	FromStatus string // the status before, when the changelog moved it
	Moved      bool   // the changelog has a status change
	Who        string // the user's display name, else account id
	AccountID  string
	Time       time.Time // from timestamp (ms since the epoch); zero when absent
}

// ParseWebhook reads an issue webhook whose label prefix is "vigil".
func ParseWebhook(body []byte) (Event, error) {
	return ParseWebhookPrefix(body, "vigil")
}

// ParseWebhookPrefix reads an issue webhook, taking the work item from a
// label <prefix>-<id>. Events of other kinds are an error, so that a
// mis-registered webhook shows.
func ParseWebhookPrefix(body []byte, prefix string) (Event, error) {
	var raw struct {
		Timestamp    json.Number `json:"timestamp"`
		WebhookEvent string      `json:"webhookEvent"`
		User         *struct {
			AccountID   string `json:"accountId"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		Issue *struct {
			ID     string `json:"id"`
			Key    string `json:"key"`
			Fields struct {
				Labels []string `json:"labels"`
				Status *struct {
					Name string `json:"name"`
				} `json:"status"`
			} `json:"fields"`
		} `json:"issue"`
		Changelog *struct {
			Items []struct {
				Field      string `json:"field"`
				FieldID    string `json:"fieldId"`
				FromString string `json:"fromString"`
				ToString   string `json:"toString"`
			} `json:"items"`
		} `json:"changelog"`
	}
	// The errors are validation.FieldErrors, so that the route answers
	// 400 naming what is wrong.
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, fmt.Errorf("jira webhook: %w", validation.NewFieldError("body", "%v", err))
	}
	if !strings.HasPrefix(raw.WebhookEvent, "jira:issue_") {
		return Event{}, fmt.Errorf("jira webhook: %w",
			validation.NewFieldError("webhookEvent", "event %q is not an issue event", raw.WebhookEvent))
	}
	if raw.Issue == nil || raw.Issue.Key == "" {
		return Event{}, fmt.Errorf("jira webhook: %w", validation.NewFieldError("issue.key", "%s has no issue key", raw.WebhookEvent))
	}
	ev := Event{Type: raw.WebhookEvent, IssueID: raw.Issue.ID, IssueKey: raw.Issue.Key}
	if ms, err := raw.Timestamp.Int64(); err == nil && ms > 0 {
		ev.Time = time.UnixMilli(ms).UTC()
	}
	if raw.User != nil {
		ev.AccountID, ev.Who = raw.User.AccountID, raw.User.DisplayName
		if ev.Who == "" {
			ev.Who = raw.User.AccountID
		}
	}
	for _, l := range raw.Issue.Fields.Labels {
		if n, ok := strings.CutPrefix(l, prefix+"-"); ok {
			if id, err := strconv.ParseInt(n, 10, 64); err == nil && id > 0 {
				ev.WorkItemID = id
				break
			}
		}
	}
	if raw.Issue.Fields.Status != nil {
		ev.Status = raw.Issue.Fields.Status.Name
	}
	if raw.Changelog != nil {
		// The changelog is the change itself; the issue's fields may have
		// been read later, so its status wins.
		for _, it := range raw.Changelog.Items {
			if it.Field == "status" || it.FieldID == "status" {
				ev.Moved, ev.FromStatus, ev.Status = true, it.FromString, it.ToString
			}
		}
	}
	return ev, nil
}
