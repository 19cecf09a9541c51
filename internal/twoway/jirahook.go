package twoway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// JiraStates maps a Jira status back to a vigil state (jira.Client does).
type JiraStates interface {
	VigilState(status, current string) (state string, ok bool)
}

// JiraItems finds the work item an issue mirrors and reads it.
type JiraItems interface {
	WorkItemByRef(ctx context.Context, system, ref string) (int64, error)
	GetWorkItem(ctx context.Context, id int64) (workitem.Item, error)
}

// JiraHookOptions configure a JiraHook.
type JiraHookOptions struct {
	// Secret is the one saved on the Jira admin webhook; deliveries are
	// signed with it (X-Hub-Signature).
	Secret string
	// KeyPrefix is the connector's label prefix (default vigil).
	KeyPrefix string
	// AccountID is vigil's own Jira account: its changes are vigil's
	// writes coming back. Empty: only an item already in the state
	// recognises an echo.
	AccountID string
}

// JiraHook receives Jira's signed jira:issue_updated webhooks: a status
// change made in Jira moves the vigil work item its issue mirrors, and
// from there the write-backs flow on to the sources, but none back to
// Jira. Answers are 2xx for everything that is not vigil's fault or a
// forgery, since Jira retries the rest: an issue vigil does not mirror, a
// status no vigil state maps to, or vigil's own move coming back, is
// answered "nothing done".
type JiraHook struct {
	states JiraStates
	store  JiraItems
	items  Follower
	opts   JiraHookOptions
	log    *slog.Logger
}

// NewJiraHook returns the receiver.
func NewJiraHook(states JiraStates, st JiraItems, items Follower, o JiraHookOptions, log *slog.Logger) *JiraHook {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "vigil"
	}
	return &JiraHook{states: states, store: st, items: items, opts: o, log: log.With("component", "jira-hook")}
}

// ErrJiraHookOff is Verify's answer when no secret is configured.
var ErrJiraHookOff = errors.New("no Jira webhook secret is configured")

// Verify checks a delivery's signature against its raw body.
func (h *JiraHook) Verify(body []byte, header http.Header) error {
	if h.opts.Secret == "" {
		return ErrJiraHookOff
	}
	return jira.VerifyWebhook(h.opts.Secret, body, header)
}

// Enabled reports whether deliveries can be verified at all.
func (h *JiraHook) Enabled() bool { return h.opts.Secret != "" }

// Receive handles one verified delivery and says what it did. Parse
// errors are validation.FieldErrors.
func (h *JiraHook) Receive(ctx context.Context, body []byte) (string, error) {
	ev, err := jira.ParseWebhookPrefix(body, h.opts.KeyPrefix)
	if err != nil {
		return "", err
	}
	if ev.Type != "jira:issue_updated" {
		return fmt.Sprintf("Jira issue %s: %s needs nothing", ev.IssueKey, ev.Type), nil
	}
	if !ev.Moved || ev.Status == "" {
		return fmt.Sprintf("Jira issue %s: no status change", ev.IssueKey), nil
	}
	if h.opts.AccountID != "" && ev.AccountID == h.opts.AccountID {
		// vigil's own transition, coming back: following it could move the
		// item back to a state it has since left.
		return fmt.Sprintf("Jira issue %s: vigil's own change to %s", ev.IssueKey, ev.Status), nil
	}
	id, err := h.store.WorkItemByRef(ctx, jira.Target, ev.IssueKey)
	if err != nil {
		return "", fmt.Errorf("find the work item of Jira issue %s: %w", ev.IssueKey, err)
	}
	if id == 0 {
		return fmt.Sprintf("Jira issue %s does not mirror a vigil work item", ev.IssueKey), nil
	}
	it, err := h.store.GetWorkItem(ctx, id)
	if err != nil {
		return "", fmt.Errorf("read work item %d of Jira issue %s: %w", id, ev.IssueKey, err)
	}
	to, ok := h.states.VigilState(ev.Status, it.State)
	if !ok {
		return fmt.Sprintf("Jira status %q maps to no vigil state", ev.Status), nil
	}
	if to == it.State {
		// Typically vigil's own move, echoed.
		return fmt.Sprintf("work item %d is already %s", id, to), nil
	}
	cause := fmt.Sprintf("Jira issue %s moved to %s by %s", ev.IssueKey, ev.Status, orSomeone(ev.Who))
	_, moved, err := h.items.Follow(ctx, id, to, jira.Target, cause, map[string]any{
		"issue": ev.IssueKey, "from": ev.FromStatus, "to": ev.Status, "changed_by": ev.Who, "account_id": ev.AccountID})
	if err != nil {
		return "", fmt.Errorf("follow Jira issue %s: %w", ev.IssueKey, err)
	}
	if !moved {
		return fmt.Sprintf("work item %d is already %s or closed", id, to), nil
	}
	h.log.Info("work item follows Jira", "workitem", id, "issue", ev.IssueKey, "to", to)
	return fmt.Sprintf("work item %d moved to %s", id, to), nil
}
