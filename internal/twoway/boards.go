package twoway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/vigil-soc/vigil/internal/connector/devops"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Boards spells work-item changes for the Azure Boards mirror.
type Boards struct {
	// BaseURL is vigil's address, for the link back on each Boards item.
	BaseURL string
}

// Target implements Tracker.
func (Boards) Target() string { return devops.Target }

// Create implements Tracker.
func (b Boards) Create(it workitem.Item) (outbox.Message, error) {
	p, err := json.Marshal(devops.CreatePayload{WorkItemID: it.ID, Type: string(it.Type), State: it.State, Title: it.Title,
		Severity: string(it.Severity), URL: b.itemURL(it.ID),
		Description: fmt.Sprintf("Mirrored from vigil work item %d (%s, %d alerts).", it.ID, it.Source, it.AlertCount)})
	return outbox.Message{Target: devops.Target, Op: devops.OpCreate, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: p}, err
}

// Update implements Tracker.
func (Boards) Update(it workitem.Item, from, to, reason string) (outbox.Message, error) {
	p, err := json.Marshal(devops.UpdatePayload{WorkItemID: it.ID, From: from, State: to, Title: it.Title, Reason: reason})
	return outbox.Message{Target: devops.Target, Op: devops.OpUpdate, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: p}, err
}

// Comment implements Tracker.
func (Boards) Comment(it workitem.Item, text string) (outbox.Message, error) {
	p, err := json.Marshal(devops.CommentPayload{WorkItemID: it.ID, Message: text})
	return outbox.Message{Target: devops.Target, Op: devops.OpComment, Resource: fmt.Sprintf("vigil:%d", it.ID), Payload: p}, err
}

func (b Boards) itemURL(id int64) string {
	if b.BaseURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/api/v1/workitems/%d", strings.TrimRight(b.BaseURL, "/"), id)
}

// BoardsClient is what the inbound side needs of the Boards connector.
type BoardsClient interface {
	WorkItemFor(ctx context.Context, ch devops.Change) (int64, error)
	StateFromBoards(state string) string
	// OwnChange reports a change vigil itself made in Boards.
	OwnChange(ch devops.Change) bool
}

// BoardsHook receives Azure Boards `workitem.updated` service hooks: a
// state change made in Boards moves the vigil work item, and from there
// the write-backs flow on to the sources (closing the Boards item resolves
// the Sentinel incident). Changes vigil made itself come back too: they
// are recognised by their author and ignored, so nothing echoes.
type BoardsHook struct {
	client         BoardsClient
	items          Follower
	user, password string
	log            *slog.Logger
}

// NewBoardsHook returns the receiver; user and password are the basic
// credentials configured on the service hook subscription.
func NewBoardsHook(c BoardsClient, items Follower, user, password string, log *slog.Logger) *BoardsHook {
	return &BoardsHook{client: c, items: items, user: user, password: password, log: log.With("component", "boards-hook")}
}

// Credentials are the basic-auth credentials a hook must carry.
func (h *BoardsHook) Credentials() (user, password string) { return h.user, h.password }

// Receive handles one hook body and says what it did.
func (h *BoardsHook) Receive(ctx context.Context, body []byte) (string, error) {
	ch, err := devops.ParseHook(body)
	if err != nil {
		return "", validation.NewFieldError("body", "%v", err)
	}
	if ch.NewState == "" || ch.NewState == ch.OldState {
		return fmt.Sprintf("Boards work item %d: no state change", ch.BoardsID), nil
	}
	if h.client.OwnChange(ch) {
		// vigil's own write, coming back: following it could move the
		// item back to a state it has since left (New → Approved →
		// Active in quick succession echoes Approved after Active).
		return fmt.Sprintf("Boards work item %d: vigil's own change to %s", ch.BoardsID, ch.NewState), nil
	}
	id, err := h.client.WorkItemFor(ctx, ch)
	if err != nil {
		return "", err
	}
	if id == 0 {
		return fmt.Sprintf("Boards work item %d does not mirror a vigil work item", ch.BoardsID), nil
	}
	to := h.client.StateFromBoards(ch.NewState)
	cause := fmt.Sprintf("Azure Boards work item %d moved to %s by %s", ch.BoardsID, ch.NewState, orSomeone(ch.ChangedBy))
	if ch.Reason != "" {
		cause += " (" + ch.Reason + ")"
	}
	_, moved, err := h.items.Follow(ctx, id, to, devops.Target, cause, map[string]any{
		"boards_id": ch.BoardsID, "rev": ch.Rev, "from": ch.OldState, "to": ch.NewState, "changed_by": ch.ChangedBy})
	if err != nil {
		return "", fmt.Errorf("follow Boards work item %d: %w", ch.BoardsID, err)
	}
	if !moved {
		return fmt.Sprintf("work item %d is already %s or closed", id, to), nil
	}
	h.log.Info("work item follows Azure Boards", "workitem", id, "boards_id", ch.BoardsID, "to", to)
	return fmt.Sprintf("work item %d moved to %s", id, to), nil
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
