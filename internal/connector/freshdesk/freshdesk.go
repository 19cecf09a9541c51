// Package freshdesk mirrors vigil work items as Freshdesk tickets (API v2)
// for teams whose helpdesk lives there. It is an outbox target: Send
// creates a ticket, moves it with the work item, and adds private notes.
//
// Every operation is safe to send again after a lost answer. A create
// first asks Refs, then looks for a ticket tagged vigil-<id> that an
// earlier attempt made (search, then the requester's newest tickets,
// because Freshdesk's search index lags behind writes); a note carries a
// marker that is looked for before posting it again.
//
// # Status mapping
//
//	vigil state   Freshdesk status
//	New           Open (2)
//	Approved      Open (2)
//	Active        Open (2)     the team is working on it: it is the agents' turn
//	Verification  Pending (3)  waiting for the fix to be confirmed
//	Closed        Resolved (4) the reason goes in a private note
//	Removed       Closed (5)
//
// Active maps to Open, not Pending, because in Freshdesk Pending means
// "waiting on someone else" and, by default, stops the SLA clock; an
// alert under investigation is work the team owes. Verification is the
// wait for a fix to prove itself, which is what Pending is for. Closed
// maps to Resolved, the state helpdesk users close with (Freshdesk or an
// agent closes resolved tickets later); Removed (a false alarm, a
// duplicate) maps to Closed.
//
// A ticket that an agent resolved or closed in Freshdesk is not reopened
// by a later transition in vigil: the write is reported as a conflict.
package freshdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	helpdesk "github.com/vigil-soc/vigil/internal/connector/ticket"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target name of this connector.
const Target = "freshdesk"

// Operations, the outbox Message.Op values Send accepts.
const (
	OpCreate  = helpdesk.OpCreate
	OpUpdate  = helpdesk.OpUpdate
	OpComment = helpdesk.OpComment
)

// Freshdesk ticket statuses and priorities.
const (
	StatusOpen     = 2
	StatusPending  = 3
	StatusResolved = 4
	StatusClosed   = 5

	PriorityLow    = 1
	PriorityMedium = 2
	PriorityHigh   = 3
	PriorityUrgent = 4
)

// Refs remembers which external record mirrors a vigil work item.
type Refs interface {
	ExternalRef(ctx context.Context, workItemID int64, system string) (string, error) // "" when none
	SaveExternalRef(ctx context.Context, workItemID int64, system, ref string) error
	WorkItemByRef(ctx context.Context, system, ref string) (int64, error) // 0 when none
}

// The payloads are the ticket contract shared with the other helpdesk
// connectors.
type (
	CreatePayload  = helpdesk.Create
	UpdatePayload  = helpdesk.Update
	CommentPayload = helpdesk.Comment
)

// Config locates a Freshdesk account.
type Config struct {
	URL    string // https://yourcompany.freshdesk.com
	APIKey string // an agent's API key
	// HTTPClient defaults to one with a 30-second timeout.
	HTTPClient *http.Client
	// RequesterEmail (required) is the requester of the tickets vigil
	// creates, and whose newest tickets a create looks through for one an
	// earlier attempt made; Freshdesk creates the contact on first use.
	RequesterEmail string
	GroupID        int64  // optional: the group new tickets go to
	TicketType     string // optional: e.g. "Incident", one of the account's ticket types
	// KeyPrefix starts the tag that identifies a work item's ticket
	// ("vigil" gives vigil-42). Give each vigil installation writing to
	// one Freshdesk account its own.
	KeyPrefix string
}

// Client writes to one Freshdesk account.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	refs Refs
}

// New returns a client; it does not contact Freshdesk.
func New(cfg Config, refs Refs) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("freshdesk: URL must be an http(s) URL such as https://yourcompany.freshdesk.com")
	}
	if u.User != nil {
		return nil, errors.New("freshdesk: put the API key in APIKey, not in the URL")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("freshdesk: APIKey is required")
	}
	if cfg.RequesterEmail == "" {
		return nil, errors.New("freshdesk: RequesterEmail is required: Freshdesk files every ticket under a requester")
	}
	if refs == nil {
		return nil, errors.New("freshdesk: Refs is required")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "vigil"
	}
	if !validPrefix(cfg.KeyPrefix) {
		// It goes into a query unescaped (the service's syntax has no escapes).
		return nil, errors.New("freshdesk: KeyPrefix may hold only letters, digits, '-', '_' and '.'")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg, base: u, http: hc, refs: refs}, nil
}

// Key is the tag that marks the ticket of a work item.
func (c *Client) Key(workItemID int64) string {
	return fmt.Sprintf("%s-%d", c.cfg.KeyPrefix, workItemID)
}

// Status maps a vigil work-item state to a Freshdesk ticket status (see
// the package documentation). ok is false for states it does not know,
// such as those of a customised process: their status is left alone.
func Status(state string) (status int, ok bool) {
	switch state {
	case "New", "Approved", "Active":
		return StatusOpen, true
	case "Verification":
		return StatusPending, true
	case "Closed":
		return StatusResolved, true
	case "Removed":
		return StatusClosed, true
	}
	return 0, false
}

// Priority maps a vigil severity to a Freshdesk priority. Freshdesk has
// four; informational and low share Low.
func Priority(severity string) (priority int, ok bool) {
	switch strings.ToLower(severity) {
	case "informational", "low":
		return PriorityLow, true
	case "medium":
		return PriorityMedium, true
	case "high":
		return PriorityHigh, true
	case "critical":
		return PriorityUrgent, true
	}
	return 0, false
}

// Send performs one write; the outbox calls it.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	var err error
	switch m.Op {
	case OpCreate:
		var p CreatePayload
		if err = decode(m, &p, &p.WorkItemID); err == nil {
			err = c.create(ctx, p)
		}
	case OpUpdate:
		var p UpdatePayload
		if err = decode(m, &p, &p.WorkItemID); err == nil {
			err = c.update(ctx, p, m.ID)
		}
	case OpComment:
		var p CommentPayload
		if err = decode(m, &p, &p.WorkItemID); err == nil {
			err = c.comment(ctx, p, m.ID)
		}
	default:
		err = fmt.Errorf("freshdesk: unknown operation %q", m.Op)
	}
	return err
}

// decode reads the payload; the work item comes from the message when the
// payload leaves it out.
func decode(m outbox.Message, p any, id *int64) error {
	if err := json.Unmarshal(m.Payload, p); err != nil {
		return fmt.Errorf("freshdesk: %s payload: %w", m.Op, err)
	}
	if *id == 0 {
		*id = m.WorkItemID
	}
	if *id == 0 {
		return fmt.Errorf("freshdesk: %s payload has no work item", m.Op)
	}
	return nil
}

// ticket is the part of a Freshdesk ticket vigil reads.
type ticket struct {
	ID       int64    `json:"id"`
	Subject  string   `json:"subject"`
	Status   int      `json:"status"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
}

func (c *Client) create(ctx context.Context, p CreatePayload) error {
	ref, err := c.refs.ExternalRef(ctx, p.WorkItemID, Target)
	if err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("freshdesk: read ref of work item %d: %w", p.WorkItemID, err)}
	}
	if ref != "" {
		return nil // created before
	}
	key := c.Key(p.WorkItemID)
	found, err := c.findTagged(ctx, key)
	if err != nil {
		return err
	}
	if found == 0 {
		body := map[string]any{
			"subject": p.Title, "description": describe(p), "email": c.cfg.RequesterEmail,
			"source": 2, "tags": []string{key}, "status": StatusOpen, "priority": PriorityLow,
		}
		if st, ok := Status(p.State); ok {
			body["status"] = st
		}
		if pr, ok := Priority(p.Severity); ok {
			body["priority"] = pr
		}
		if c.cfg.GroupID != 0 {
			body["group_id"] = c.cfg.GroupID
		}
		if c.cfg.TicketType != "" {
			body["type"] = c.cfg.TicketType
		}
		var t ticket
		if err := c.do(ctx, http.MethodPost, "/api/v2/tickets", nil, body, &t); err != nil {
			return fmt.Errorf("freshdesk: create ticket for work item %d: %w", p.WorkItemID, err)
		}
		if t.ID == 0 {
			return fmt.Errorf("freshdesk: create ticket for work item %d: answer has no id", p.WorkItemID)
		}
		found = t.ID
	} else if other, err := c.refs.WorkItemByRef(ctx, Target, strconv.FormatInt(found, 10)); err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("freshdesk: look up ticket %d: %w", found, err)}
	} else if other != 0 && other != p.WorkItemID {
		return fmt.Errorf("freshdesk: ticket %d tagged %s already mirrors work item %d", found, key, other)
	}
	if err := c.refs.SaveExternalRef(ctx, p.WorkItemID, Target, strconv.FormatInt(found, 10)); err != nil {
		// The ticket exists and carries the tag: the retry finds it.
		return &outbox.RetryableError{Err: fmt.Errorf("freshdesk: save ticket %d of work item %d: %w", found, p.WorkItemID, err)}
	}
	return nil
}

// findTagged returns the id of the oldest ticket tagged key, or 0. It asks
// search first; search lags writes by seconds to minutes, which is when a
// resend after a lost answer comes, so it then scans the requester's 100
// newest tickets, which the list API shows at once.
func (c *Client) findTagged(ctx context.Context, key string) (int64, error) {
	var res struct {
		Results []ticket `json:"results"`
	}
	q := url.Values{"query": {`"tag:'` + key + `'"`}}
	if err := c.do(ctx, http.MethodGet, "/api/v2/search/tickets", q, nil, &res); err != nil {
		return 0, fmt.Errorf("freshdesk: search for tag %s: %w", key, err)
	}
	if id := oldestTagged(res.Results, key); id != 0 {
		return id, nil
	}
	var list []ticket
	q = url.Values{"email": {c.cfg.RequesterEmail}, "order_by": {"created_at"}, "order_type": {"desc"}, "per_page": {"100"}}
	if err := c.do(ctx, http.MethodGet, "/api/v2/tickets", q, nil, &list); err != nil {
		return 0, fmt.Errorf("freshdesk: list recent tickets: %w", err)
	}
	return oldestTagged(list, key), nil
}

func oldestTagged(ts []ticket, key string) int64 {
	var id int64
	for _, t := range ts {
		for _, tag := range t.Tags {
			if strings.EqualFold(tag, key) && (id == 0 || t.ID < id) {
				id = t.ID
			}
		}
	}
	return id
}

func describe(p CreatePayload) string {
	var b strings.Builder
	if p.Description != "" {
		b.WriteString("<div>" + htmlText(p.Description) + "</div>")
	}
	b.WriteString(fmt.Sprintf("<div>vigil work item #%d", p.WorkItemID))
	if p.Severity != "" {
		b.WriteString(", severity " + html.EscapeString(p.Severity))
	}
	if p.URL != "" {
		b.WriteString(`: <a href="` + html.EscapeString(p.URL) + `">` + html.EscapeString(p.URL) + "</a>")
	}
	b.WriteString("</div>")
	return b.String()
}

func htmlText(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// ref returns the ticket id of a work item; a missing one is retried, as
// the create is queued before and may not have gone through yet.
func (c *Client) ref(ctx context.Context, workItemID int64) (int64, error) {
	ref, err := c.refs.ExternalRef(ctx, workItemID, Target)
	if err != nil {
		return 0, &outbox.RetryableError{Err: fmt.Errorf("freshdesk: read ref of work item %d: %w", workItemID, err)}
	}
	if ref == "" {
		return 0, &outbox.RetryableError{Err: fmt.Errorf("freshdesk: ticket for work item %d not created yet", workItemID)}
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("freshdesk: work item %d has ref %q, not a ticket id", workItemID, ref)
	}
	return id, nil
}

func (c *Client) get(ctx context.Context, id int64) (ticket, error) {
	var t ticket
	err := c.do(ctx, http.MethodGet, "/api/v2/tickets/"+strconv.FormatInt(id, 10), nil, nil, &t)
	if errors.Is(err, errNotFound) {
		return t, &outbox.ConflictError{Reason: fmt.Sprintf("Freshdesk ticket %d no longer exists", id)}
	}
	if err != nil {
		return t, fmt.Errorf("freshdesk: get ticket %d: %w", id, err)
	}
	return t, nil
}

func (c *Client) update(ctx context.Context, p UpdatePayload, outboxID int64) error {
	id, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	t, err := c.get(ctx, id)
	if err != nil {
		return err
	}
	changes := map[string]any{}
	if st, ok := Status(p.State); ok && st != t.Status {
		from, _ := Status(p.From)
		if (t.Status == StatusResolved || t.Status == StatusClosed) && t.Status != from {
			return &outbox.ConflictError{Reason: fmt.Sprintf("Freshdesk ticket %d was %s by an agent; not moved to %s",
				id, statusName(t.Status), statusName(st))}
		}
		changes["status"] = st
	}
	if pr, ok := Priority(p.Severity); ok && pr != t.Priority {
		changes["priority"] = pr
	}
	if p.Title != "" && p.Title != t.Subject {
		changes["subject"] = p.Title
	}
	if len(changes) == 0 {
		return nil // already so
	}
	if _, moved := changes["status"]; moved && p.Reason != "" {
		// Freshdesk has no resolution notes: the reason goes in a
		// private note, before the status so that a retry after a
		// failed status change still finds (and does not repeat) it.
		msg := fmt.Sprintf("vigil: %s → %s: %s", orDash(p.From), p.State, p.Reason)
		if err := c.addNote(ctx, id, msg, marker(p.WorkItemID, outboxID)); err != nil {
			return err
		}
	}
	if err := c.do(ctx, http.MethodPut, "/api/v2/tickets/"+strconv.FormatInt(id, 10), nil, changes, nil); err != nil {
		if errors.Is(err, errNotFound) {
			return &outbox.ConflictError{Reason: fmt.Sprintf("Freshdesk ticket %d no longer exists", id)}
		}
		return fmt.Errorf("freshdesk: update ticket %d: %w", id, err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func statusName(s int) string {
	switch s {
	case StatusOpen:
		return "Open"
	case StatusPending:
		return "Pending"
	case StatusResolved:
		return "Resolved"
	case StatusClosed:
		return "Closed"
	}
	return strconv.Itoa(s)
}

func (c *Client) comment(ctx context.Context, p CommentPayload, outboxID int64) error {
	id, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	return c.addNote(ctx, id, p.Message, marker(p.WorkItemID, outboxID))
}

// marker tags a note with the outbox message that wrote it, so that the
// message sent again finds it; "" when the message has no id.
func marker(workItemID, outboxID int64) string {
	if outboxID == 0 {
		return ""
	}
	return fmt.Sprintf("[vigil #%d note %d]", workItemID, outboxID)
}

// addNote adds a private note ending with marker, unless a note with the
// marker is already there (an earlier attempt whose answer was lost).
func (c *Client) addNote(ctx context.Context, id int64, msg, marker string) error {
	path := "/api/v2/tickets/" + strconv.FormatInt(id, 10)
	if marker != "" {
		// Notes come oldest first; a lost one is on the last pages.
		for page := 1; page <= 20; page++ {
			var notes []struct {
				BodyText string `json:"body_text"`
			}
			q := url.Values{"per_page": {"100"}, "page": {strconv.Itoa(page)}}
			err := c.do(ctx, http.MethodGet, path+"/conversations", q, nil, &notes)
			if errors.Is(err, errNotFound) {
				return &outbox.ConflictError{Reason: fmt.Sprintf("Freshdesk ticket %d no longer exists", id)}
			}
			if err != nil {
				return fmt.Errorf("freshdesk: read notes of ticket %d: %w", id, err)
			}
			for _, n := range notes {
				if strings.Contains(n.BodyText, marker) {
					return nil
				}
			}
			if len(notes) < 100 {
				break
			}
		}
		msg += "\n\n" + marker
	}
	body := map[string]any{"body": htmlText(msg), "private": true}
	err := c.do(ctx, http.MethodPost, path+"/notes", nil, body, nil)
	if errors.Is(err, errNotFound) {
		return &outbox.ConflictError{Reason: fmt.Sprintf("Freshdesk ticket %d no longer exists", id)}
	}
	if err != nil {
		return fmt.Errorf("freshdesk: add note to ticket %d: %w", id, err)
	}
	return nil
}

var errNotFound = errors.New("not found")

// do sends one request and decodes a 2xx answer into out. Failures come
// back classified: *outbox.RetryableError for throttling, 5xx and network
// trouble; an error wrapping errNotFound for 404; a plain error with
// Freshdesk's own message for the rest. The API key is never part of one.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.cfg.APIKey, "X")
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the wrapping message already
		}
		return &outbox.RetryableError{Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("%s %s: read answer: %w", method, path, err)}
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
		return nil
	}
	return classify(resp, raw)
}

func classify(resp *http.Response, raw []byte) error {
	code := resp.StatusCode
	text := errorText(raw)
	if text == "" {
		text = http.StatusText(code)
	}
	msg := fmt.Errorf("%d %s", code, text)
	switch {
	case code == http.StatusTooManyRequests, code >= 500, code == http.StatusRequestTimeout:
		return &outbox.RetryableError{Err: msg, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code == http.StatusNotFound:
		return fmt.Errorf("%w: %w", errNotFound, msg)
	}
	return msg
}

// errorText is Freshdesk's explanation of a failure: the validation
// errors with their fields, or the code and message.
func errorText(raw []byte) string {
	var e struct {
		Description string `json:"description"`
		Code        string `json:"code"`
		Message     string `json:"message"`
		Errors      []struct {
			Field, Message, Code string
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &e) != nil {
		s := strings.TrimSpace(string(raw))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return s
	}
	var parts []string
	for _, fe := range e.Errors {
		field := fe.Field
		if field == "" {
			field = "body"
		}
		parts = append(parts, fmt.Sprintf("%s: %s (%s)", field, fe.Message, fe.Code))
	}
	head := e.Description
	if head == "" {
		head = strings.TrimSpace(e.Message + " (" + e.Code + ")")
	}
	if len(parts) > 0 {
		return head + ": " + strings.Join(parts, "; ")
	}
	return head
}

func validPrefix(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
