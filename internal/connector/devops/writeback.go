package devops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Write-back operations (outbox.Message.Op for Target).
const (
	OpCreate  = "workitem.create"
	OpUpdate  = "workitem.update"
	OpComment = "workitem.comment"
)

// CreatePayload mirrors a new vigil work item. Type and State are vigil's;
// the client maps them. Severity is vigil's scale (informational … critical).
type CreatePayload struct {
	WorkItemID  int64  `json:"workitem_id"`
	Type        string `json:"type"`
	State       string `json:"state"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Severity    string `json:"severity,omitempty"`
	URL         string `json:"url,omitempty"` // the item in vigil, linked from the description
}

// UpdatePayload moves the mirror from vigil state From to State. Title is
// for messages only: the mirror does not rename the Boards item, so a
// title edited there survives.
type UpdatePayload struct {
	WorkItemID int64  `json:"workitem_id"`
	From       string `json:"from,omitempty"`
	State      string `json:"state"`
	Title      string `json:"title,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// CommentPayload adds a discussion entry to the mirror.
type CommentPayload struct {
	WorkItemID int64  `json:"workitem_id"`
	Message    string `json:"message"`
}

// maxTries bounds the read-decide-write rounds of an update that keeps
// meeting newer revisions; the outbox retries later after that.
const maxTries = 3

// Send performs one write-back; it satisfies outbox.Target. Every
// operation is safe to resend after a lost answer (see each one).
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	switch m.Op {
	case OpCreate:
		var p CreatePayload
		if err := decode(m, &p, &p.WorkItemID); err != nil {
			return err
		}
		return c.sendCreate(ctx, p)
	case OpUpdate:
		var p UpdatePayload
		if err := decode(m, &p, &p.WorkItemID); err != nil {
			return err
		}
		return c.sendUpdate(ctx, p)
	case OpComment:
		var p CommentPayload
		if err := decode(m, &p, &p.WorkItemID); err != nil {
			return err
		}
		return c.sendComment(ctx, p, markerKey(m))
	}
	return fmt.Errorf("devops: unknown operation %q", m.Op)
}

// decode reads m's payload into p; a payload without a work item id takes
// the message's.
func decode(m outbox.Message, p any, id *int64) error {
	if err := json.Unmarshal(m.Payload, p); err != nil {
		return fmt.Errorf("devops: %s payload: %w", m.Op, err)
	}
	if *id == 0 {
		*id = m.WorkItemID
	}
	if *id == 0 {
		return fmt.Errorf("devops: %s payload: workitem_id is missing", m.Op)
	}
	return nil
}

// vigilTag marks a mirror with its vigil work item, so that a create whose
// answer was lost can be found again.
func vigilTag(id int64) string { return "vigil-" + strconv.FormatInt(id, 10) }

// sendCreate creates the mirror once. The ref in Refs is the normal guard;
// the vigil-<id> tag covers the window between Boards creating the item
// and vigil saving the ref (a lost answer, a crash).
func (c *Client) sendCreate(ctx context.Context, p CreatePayload) error {
	ref, err := c.refs.ExternalRef(ctx, p.WorkItemID, Target)
	if err != nil {
		return refsError(fmt.Errorf("devops: look up mirror of work item %d: %w", p.WorkItemID, err))
	}
	if ref != "" {
		return nil
	}
	if p.Type == "" || strings.TrimSpace(p.Title) == "" {
		return fmt.Errorf("devops: create mirror of work item %d: type and title are required", p.WorkItemID)
	}
	tag := vigilTag(p.WorkItemID)
	ids, err := c.FindByTag(ctx, tag)
	if err != nil {
		return classify(err)
	}
	var id int
	if len(ids) > 0 {
		id = ids[0]
		c.log.Info("found the mirror of an earlier attempt", "workitem", p.WorkItemID, "boards_id", id, "matches", len(ids))
	} else {
		it, err := c.Create(ctx, c.typeToBoards(p.Type), c.createFields(p, tag))
		if err != nil {
			return classify(err)
		}
		id = it.ID
		c.log.Debug("created mirror", "workitem", p.WorkItemID, "boards_id", id, "type", it.Type, "state", it.State)
	}
	if err := c.refs.SaveExternalRef(ctx, p.WorkItemID, Target, strconv.Itoa(id)); err != nil {
		// The next attempt finds the item by its tag.
		return refsError(fmt.Errorf("devops: save mirror %d of work item %d: %w", id, p.WorkItemID, err))
	}
	return nil
}

func (c *Client) createFields(p CreatePayload, tag string) map[string]any {
	f := map[string]any{
		"System.Title":       p.Title,
		"System.Description": description(p),
		"System.Tags":        "vigil; " + tag,
	}
	if p.State != "" {
		f["System.State"] = c.stateToBoards(p.State)
	}
	// The SecOps Triage process inherits Agile's Severity and Priority
	// fields; both take Agile's values.
	if sev, prio, ok := severity(p.Severity); ok {
		f["Microsoft.VSTS.Common.Severity"] = sev
		f["Microsoft.VSTS.Common.Priority"] = prio
	}
	return f
}

// severity maps vigil's severity to Agile's Severity and Priority values.
func severity(s string) (string, int, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return "1 - Critical", 1, true
	case "high":
		return "2 - High", 1, true
	case "medium":
		return "3 - Medium", 2, true
	case "low":
		return "4 - Low", 3, true
	case "informational":
		return "4 - Low", 4, true
	}
	return "", 0, false
}

// description is the HTML description, with a link back to vigil.
func description(p CreatePayload) string {
	var b strings.Builder
	if p.Description != "" {
		b.WriteString("<div>" + htmlText(p.Description) + "</div>")
	}
	if p.URL != "" {
		u := html.EscapeString(p.URL)
		fmt.Fprintf(&b, `<div>Tracked in vigil as work item %d: <a href="%s">%s</a></div>`, p.WorkItemID, u, u)
	} else {
		fmt.Fprintf(&b, "<div>Tracked in vigil as work item %d.</div>", p.WorkItemID)
	}
	return b.String()
}

// htmlText escapes plain text for an HTML field, keeping line breaks.
func htmlText(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// sendUpdate moves the mirror to the mapped state, re-deciding on every
// stale revision: the move still applies while the item is where vigil
// left it (the state mapped from From); if a user moved it elsewhere in
// the meantime, the user's move stands and the conflict is reported.
func (c *Client) sendUpdate(ctx context.Context, p UpdatePayload) error {
	if p.State == "" {
		return fmt.Errorf("devops: update mirror of work item %d: state is required", p.WorkItemID)
	}
	id, err := c.mirror(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	to, from := c.stateToBoards(p.State), ""
	if p.From != "" {
		from = c.stateToBoards(p.From)
	}
	// Boards limits System.Reason to the reasons its process defines for a
	// transition; vigil's reasons are free text. Try the field first and
	// fall back to the discussion when the process refuses it.
	reasonField := p.Reason != ""
	for try := 1; try <= maxTries; try++ {
		it, err := c.Get(ctx, id)
		if err != nil {
			return classify(err)
		}
		switch {
		case strings.EqualFold(it.State, to):
			return nil // done already: a resend, or the same move made in Boards
		case from != "" && !strings.EqualFold(it.State, from):
			return &outbox.ConflictError{Reason: fmt.Sprintf("Azure Boards work item %d was moved to %s by %s", id, it.State, orSomeone(it.changedBy()))}
		}
		fields := map[string]any{"System.State": to}
		if reasonField {
			fields["System.Reason"] = p.Reason
		} else if p.Reason != "" {
			fields["System.History"] = fmt.Sprintf("vigil moved this item to %s: %s", html.EscapeString(to), htmlText(p.Reason))
		}
		_, err = c.Update(ctx, id, it.Rev, fields)
		var de *Error
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrStale):
			c.log.Info("mirror changed since read; deciding again", "workitem", p.WorkItemID, "boards_id", id, "rev", it.Rev, "try", try)
		case reasonField && errors.As(err, &de) && reasonRefused(de):
			c.log.Info("process refuses the reason; writing it to the discussion", "workitem", p.WorkItemID, "boards_id", id, "reason", p.Reason)
			reasonField = false
			try-- // not a conflict; happens at most once
		default:
			return classify(err)
		}
	}
	return &outbox.RetryableError{Err: fmt.Errorf("devops: Azure Boards work item %d changed during each of %d tries", id, maxTries)}
}

// reasonRefused recognises a rule error on System.Reason ("TF401320: Rule
// Error for field Reason. …").
func reasonRefused(e *Error) bool {
	return e.Status == http.StatusBadRequest && strings.Contains(e.Message, "field Reason")
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// sendComment appends to System.History, which Boards shows as a comment
// of the item's discussion. The comment ends with a marker derived from
// the outbox message (key); a resend first reads the discussion and skips
// the write when an earlier attempt, whose answer was lost, made it.
func (c *Client) sendComment(ctx context.Context, p CommentPayload, key string) error {
	if strings.TrimSpace(p.Message) == "" {
		return fmt.Errorf("devops: comment on mirror of work item %d: message is empty", p.WorkItemID)
	}
	id, err := c.mirror(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	text := htmlText(p.Message)
	if key != "" {
		found, err := c.HasCommentMarker(ctx, id, key)
		if err != nil {
			return classify(err)
		}
		if found {
			c.log.Info("comment already posted by an earlier attempt", "workitem", p.WorkItemID, "boards_id", id)
			return nil
		}
		text += "<br><br>" + marker(key)
	}
	if _, err := c.Update(ctx, id, 0, map[string]any{"System.History": text}); err != nil {
		return classify(err)
	}
	return nil
}

// mirror returns the Boards id of a vigil work item's mirror. None yet is
// retryable: the create may still be queued behind this message.
func (c *Client) mirror(ctx context.Context, workItemID int64) (int, error) {
	ref, err := c.refs.ExternalRef(ctx, workItemID, Target)
	if err != nil {
		return 0, refsError(fmt.Errorf("devops: look up mirror of work item %d: %w", workItemID, err))
	}
	if ref == "" {
		return 0, &outbox.RetryableError{Err: fmt.Errorf("devops: work item %d: mirror not created yet", workItemID)}
	}
	id, err := strconv.Atoi(ref)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("devops: work item %d: mirror ref %q is not a Boards id", workItemID, ref)
	}
	return id, nil
}

// refsError makes a failure of vigil's own store retryable: it is local
// and usually brief, and giving up would lose the mirror.
func refsError(err error) error { return &outbox.RetryableError{Err: err} }

// classify tells the outbox which failures to retry: throttling (with the
// service's Retry-After), server errors, 401/403 while a PAT or permission
// propagates, and network trouble. Anything else is permanent and carries
// the service's message.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		// Network trouble, or vigil shutting down mid-call: either way
		// the write may not have happened and must be tried again.
		return &outbox.RetryableError{Err: err}
	}
	if e.Temporary() {
		return &outbox.RetryableError{Err: err, After: e.RetryAfter}
	}
	return err
}

// commentsVersion is the Comments API's version: it is still a preview in
// 7.1, as Microsoft documents it.
const commentsVersion = "7.1-preview.4"

// maxCommentPages bounds how much of a discussion a resend reads: the
// marker of a lost write is among the newest comments, and the pages come
// newest first.
const maxCommentPages = 10

// markerKey names the write an outbox message carries, for the marker its
// comment ends with: a short hash of the idempotency key (the same logical
// write, whichever message row carries it), else of the message id; ""
// for a message with neither, which is then written without a marker.
func markerKey(m outbox.Message) string {
	k := m.IdemKey
	if k == "" && m.ID != 0 {
		k = "outbox:" + strconv.FormatInt(m.ID, 10)
	}
	if k == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:6])
}

// marker is the tag a comment ends with. It is visible text, not an HTML
// comment: Boards sanitizes the HTML of comments, and a visible tag
// survives that, the portal's editor and copying.
func marker(key string) string { return "[vigil " + key + "]" }

// Comment is one comment of a work item's discussion.
type Comment struct {
	ID   int    `json:"commentId"`
	Text string `json:"text"`
}

// commentPage is one answer of GET workItems/{id}/comments.
type commentPage struct {
	TotalCount        int       `json:"totalCount"`
	Count             int       `json:"count"`
	Comments          []Comment `json:"comments"`
	ContinuationToken string    `json:"continuationToken"`
}

// parseCommentPage reads one page of a discussion.
func parseCommentPage(raw []byte) (commentPage, error) {
	var p commentPage
	if err := json.Unmarshal(raw, &p); err != nil {
		return commentPage{}, fmt.Errorf("decode comments: %w", err)
	}
	return p, nil
}

// HasCommentMarker reports whether a comment of work item id carries
// key's marker, reading the discussion newest first.
func (c *Client) HasCommentMarker(ctx context.Context, id int, key string) (bool, error) {
	m := marker(key)
	token := ""
	for range maxCommentPages {
		q := url.Values{"$top": {"200"}, "order": {"desc"}, "api-version": {commentsVersion}}
		if token != "" {
			q.Set("continuationToken", token)
		}
		raw, err := c.get(ctx, "workItems/"+strconv.Itoa(id)+"/comments", q, "read comments of work item "+strconv.Itoa(id))
		if err != nil {
			return false, err
		}
		page, err := parseCommentPage(raw)
		if err != nil {
			return false, fmt.Errorf("devops: work item %d: %w", id, err)
		}
		for _, cm := range page.Comments {
			if strings.Contains(cm.Text, m) {
				return true, nil
			}
		}
		if token = page.ContinuationToken; token == "" || len(page.Comments) == 0 {
			return false, nil
		}
	}
	return false, nil
}

// get reads a resource whose api-version differs from the client's (do
// always sends apiVersion) and answers its raw JSON. Errors are shaped as
// do's are.
func (c *Client) get(ctx context.Context, path string, q url.Values, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("devops: %s: %w", what, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("devops: %s: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("devops: %s: read answer: %w", what, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && mt != "application/json" {
		return nil, &Error{What: what, Status: http.StatusUnauthorized,
			Message: fmt.Sprintf("answer %d with %q instead of JSON: the personal access token was not accepted", resp.StatusCode, mt)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{What: what, Status: resp.StatusCode, RetryAfter: outbox.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		var body struct {
			Message string `json:"message"`
			TypeKey string `json:"typeKey"`
		}
		if json.Unmarshal(raw, &body) == nil {
			e.Message, e.TypeKey = body.Message, body.TypeKey
		}
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return nil, e
	}
	return raw, nil
}
