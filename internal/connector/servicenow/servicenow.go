// Package servicenow mirrors vigil work items as ServiceNow incidents
// through the Table API. It is an outbox target: Send creates an
// incident, moves it with the work item, and adds work notes.
//
// Every operation is safe to send again after a lost answer. A create
// first asks Refs, then queries for an incident whose correlation_id is
// vigil-<id> (ServiceNow's field for the key of the external system that
// raised it); an update re-reads the incident and writes only what
// differs; a work note carries a marker that is looked for first.
//
// # State mapping
//
//	vigil state   incident state
//	New           New (1)
//	Approved      New (1)          triaged, but nobody works on it yet
//	Active        In Progress (2)
//	Verification  In Progress (2)
//	Closed        Resolved (6)     close_code from Config, close_notes = the reason
//	Removed       Canceled (8)
//
// Verification stays In Progress rather than On Hold: On Hold needs an
// "on hold reason" (awaiting caller, change, problem or vendor), and
// "awaiting caller" notifies the caller; none fits an analyst confirming a
// fix. Closed maps to Resolved, which is how an incident is finished in
// ServiceNow: the instance closes resolved incidents itself after its
// auto-close period. A Closed or Canceled incident is read-only, and one
// resolved by a ServiceNow user is not reopened from vigil: both are
// reported as conflicts.
//
// Severity maps to impact and urgency, from which the instance derives
// the priority: critical 1/1 (P1), high 1/2 (P2), medium 2/2 (P3),
// low 2/3 (P4), informational 3/3 (P5).
package servicenow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/connector/ticket"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target name of this connector.
const Target = "servicenow"

// Operations, the outbox Message.Op values Send accepts.
const (
	OpCreate  = ticket.OpCreate
	OpUpdate  = ticket.OpUpdate
	OpComment = ticket.OpComment
)

// Incident states.
const (
	StateNew        = "1"
	StateInProgress = "2"
	StateOnHold     = "3"
	StateResolved   = "6"
	StateClosed     = "7"
	StateCanceled   = "8"
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
	CreatePayload  = ticket.Create
	UpdatePayload  = ticket.Update
	CommentPayload = ticket.Comment
)

// Config locates an instance and says how incidents are filed.
type Config struct {
	URL      string // https://yourinstance.service-now.com
	User     string // an integration user with the itil role
	Password string
	// HTTPClient defaults to one with a 30-second timeout.
	HTTPClient *http.Client
	// AssignmentGroup and CallerID are sys_ids; Category is a choice
	// value. All are optional, but many instances require an assignment
	// group.
	AssignmentGroup string
	CallerID        string
	Category        string
	// CloseCode is the resolution code of an incident vigil resolves;
	// the default "Solution provided" is in the base instance's list.
	CloseCode string
	// KeyPrefix starts the correlation_id of a work item's incident
	// ("vigil" gives vigil-42). Give each vigil installation writing to
	// one instance its own.
	KeyPrefix string
}

// Client writes to one ServiceNow instance.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	refs Refs
}

// New returns a client; it does not contact the instance.
func New(cfg Config, refs Refs) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("servicenow: URL must be an http(s) URL such as https://yourinstance.service-now.com")
	}
	if u.User != nil {
		return nil, errors.New("servicenow: put the credentials in User and Password, not in the URL")
	}
	if cfg.User == "" || cfg.Password == "" {
		return nil, errors.New("servicenow: User and Password are required")
	}
	if refs == nil {
		return nil, errors.New("servicenow: Refs is required")
	}
	if cfg.CloseCode == "" {
		cfg.CloseCode = "Solution provided"
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "vigil"
	}
	if !validPrefix(cfg.KeyPrefix) {
		// It goes into a query unescaped (the service's syntax has no escapes).
		return nil, errors.New("servicenow: KeyPrefix may hold only letters, digits, '-', '_' and '.'")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg, base: u, http: hc, refs: refs}, nil
}

// Key is the correlation_id of a work item's incident.
func (c *Client) Key(workItemID int64) string {
	return fmt.Sprintf("%s-%d", c.cfg.KeyPrefix, workItemID)
}

// State maps a vigil work-item state to an incident state (see the
// package documentation). ok is false for states it does not know, such
// as those of a customised process: the incident state is left alone.
func State(vigilState string) (state string, ok bool) {
	switch vigilState {
	case "New", "Approved":
		return StateNew, true
	case "Active", "Verification":
		return StateInProgress, true
	case "Closed":
		return StateResolved, true
	case "Removed":
		return StateCanceled, true
	}
	return "", false
}

// ImpactUrgency maps a vigil severity to an incident's impact and
// urgency.
func ImpactUrgency(severity string) (impact, urgency string, ok bool) {
	switch strings.ToLower(severity) {
	case "critical":
		return "1", "1", true
	case "high":
		return "1", "2", true
	case "medium":
		return "2", "2", true
	case "low":
		return "2", "3", true
	case "informational":
		return "3", "3", true
	}
	return "", "", false
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
			err = c.update(ctx, p)
		}
	case OpComment:
		var p CommentPayload
		if err = decode(m, &p, &p.WorkItemID); err == nil {
			err = c.comment(ctx, p, m.ID)
		}
	default:
		err = fmt.Errorf("servicenow: unknown operation %q", m.Op)
	}
	return err
}

func decode(m outbox.Message, p any, id *int64) error {
	if err := json.Unmarshal(m.Payload, p); err != nil {
		return fmt.Errorf("servicenow: %s payload: %w", m.Op, err)
	}
	if *id == 0 {
		*id = m.WorkItemID
	}
	if *id == 0 {
		return fmt.Errorf("servicenow: %s payload has no work item", m.Op)
	}
	return nil
}

// incident is the part of an incident vigil reads (raw values, no links).
type incident struct {
	SysID            string `json:"sys_id"`
	Number           string `json:"number"`
	State            string `json:"state"`
	Impact           string `json:"impact"`
	Urgency          string `json:"urgency"`
	ShortDescription string `json:"short_description"`
	CorrelationID    string `json:"correlation_id"`
}

const table = "/api/now/table/incident"

func (c *Client) create(ctx context.Context, p CreatePayload) error {
	ref, err := c.refs.ExternalRef(ctx, p.WorkItemID, Target)
	if err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("servicenow: read ref of work item %d: %w", p.WorkItemID, err)}
	}
	if ref != "" {
		return nil // created before
	}
	key := c.Key(p.WorkItemID)
	sysID, err := c.findCorrelated(ctx, key)
	if err != nil {
		return err
	}
	if sysID == "" {
		desc := p.Description
		if desc != "" {
			desc += "\n\n"
		}
		desc += fmt.Sprintf("vigil work item #%d", p.WorkItemID)
		if p.URL != "" {
			desc += ": " + p.URL
		}
		body := map[string]string{
			"short_description": truncate(p.Title, 160), "description": desc,
			"correlation_id": key, "correlation_display": "vigil",
		}
		if imp, urg, ok := ImpactUrgency(p.Severity); ok {
			body["impact"], body["urgency"] = imp, urg
		}
		if st, ok := State(p.State); ok && st != StateNew {
			body["state"] = st
			if st == StateResolved {
				body["close_code"], body["close_notes"] = c.cfg.CloseCode, "Closed in vigil before the incident was created."
			}
		}
		for k, v := range map[string]string{"assignment_group": c.cfg.AssignmentGroup, "caller_id": c.cfg.CallerID, "category": c.cfg.Category} {
			if v != "" {
				body[k] = v
			}
		}
		var res struct {
			Result incident `json:"result"`
		}
		q := url.Values{"sysparm_fields": {"sys_id,number"}, "sysparm_exclude_reference_link": {"true"}}
		if err := c.do(ctx, http.MethodPost, table, q, body, &res); err != nil {
			return fmt.Errorf("servicenow: create incident for work item %d: %w", p.WorkItemID, err)
		}
		if res.Result.SysID == "" {
			return fmt.Errorf("servicenow: create incident for work item %d: answer has no sys_id", p.WorkItemID)
		}
		sysID = res.Result.SysID
	} else if other, err := c.refs.WorkItemByRef(ctx, Target, sysID); err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("servicenow: look up incident %s: %w", sysID, err)}
	} else if other != 0 && other != p.WorkItemID {
		return fmt.Errorf("servicenow: incident %s with correlation_id %s already mirrors work item %d", sysID, key, other)
	}
	if err := c.refs.SaveExternalRef(ctx, p.WorkItemID, Target, sysID); err != nil {
		// The incident exists with its correlation_id: the retry finds it.
		return &outbox.RetryableError{Err: fmt.Errorf("servicenow: save incident %s of work item %d: %w", sysID, p.WorkItemID, err)}
	}
	return nil
}

// findCorrelated returns the sys_id of the oldest incident whose
// correlation_id is key, or "". It checks the field itself too: an
// instance drops a query condition it cannot apply and answers with
// every incident.
func (c *Client) findCorrelated(ctx context.Context, key string) (string, error) {
	var res struct {
		Result []incident `json:"result"`
	}
	q := url.Values{
		"sysparm_query":                  {"correlation_id=" + key + "^ORDERBYsys_created_on"},
		"sysparm_fields":                 {"sys_id,number,correlation_id"},
		"sysparm_limit":                  {"10"},
		"sysparm_exclude_reference_link": {"true"},
	}
	if err := c.do(ctx, http.MethodGet, table, q, nil, &res); err != nil {
		return "", fmt.Errorf("servicenow: query incidents by correlation_id %s: %w", key, err)
	}
	for _, in := range res.Result {
		if in.CorrelationID == key && in.SysID != "" {
			return in.SysID, nil
		}
	}
	return "", nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// ref returns the sys_id of a work item's incident; a missing one is
// retried, as the create is queued before and may not have gone through.
func (c *Client) ref(ctx context.Context, workItemID int64) (string, error) {
	ref, err := c.refs.ExternalRef(ctx, workItemID, Target)
	if err != nil {
		return "", &outbox.RetryableError{Err: fmt.Errorf("servicenow: read ref of work item %d: %w", workItemID, err)}
	}
	if ref == "" {
		return "", &outbox.RetryableError{Err: fmt.Errorf("servicenow: incident for work item %d not created yet", workItemID)}
	}
	return ref, nil
}

func gone(sysID string) error {
	return &outbox.ConflictError{Reason: fmt.Sprintf("ServiceNow incident %s no longer exists", sysID)}
}

func (c *Client) update(ctx context.Context, p UpdatePayload) error {
	sysID, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	var res struct {
		Result incident `json:"result"`
	}
	q := url.Values{"sysparm_fields": {"sys_id,number,state,impact,urgency,short_description"}, "sysparm_exclude_reference_link": {"true"}}
	if err := c.do(ctx, http.MethodGet, table+"/"+sysID, q, nil, &res); errors.Is(err, errNotFound) {
		return gone(sysID)
	} else if err != nil {
		return fmt.Errorf("servicenow: get incident %s: %w", sysID, err)
	}
	cur := res.Result
	want, moving := State(p.State)
	moving = moving && want != cur.State
	if cur.State == StateClosed || cur.State == StateCanceled {
		if moving {
			return &outbox.ConflictError{Reason: fmt.Sprintf("ServiceNow incident %s is %s; not moved to %s",
				cur.Number, stateName(cur.State), stateName(want))}
		}
		return nil // read-only now, and already where vigil wants it
	}
	if from, _ := State(p.From); moving && cur.State == StateResolved && from != StateResolved {
		return &outbox.ConflictError{Reason: fmt.Sprintf("ServiceNow incident %s was resolved in ServiceNow; not moved to %s",
			cur.Number, stateName(want))}
	}
	changes := map[string]string{}
	if moving {
		changes["state"] = want
		switch {
		case want == StateResolved:
			notes := p.Reason
			if strings.TrimSpace(notes) == "" {
				notes = "Closed in vigil."
			}
			changes["close_code"], changes["close_notes"] = c.cfg.CloseCode, notes
		case p.Reason != "":
			changes["work_notes"] = fmt.Sprintf("vigil: %s → %s: %s", orDash(p.From), p.State, p.Reason)
		}
	}
	if imp, urg, ok := ImpactUrgency(p.Severity); ok && (imp != cur.Impact || urg != cur.Urgency) {
		changes["impact"], changes["urgency"] = imp, urg
	}
	if t := truncate(p.Title, 160); p.Title != "" && t != cur.ShortDescription {
		changes["short_description"] = t
	}
	if len(changes) == 0 {
		return nil // already so
	}
	return c.patch(ctx, sysID, changes)
}

func (c *Client) patch(ctx context.Context, sysID string, changes map[string]string) error {
	q := url.Values{"sysparm_fields": {"sys_id"}, "sysparm_exclude_reference_link": {"true"}}
	err := c.do(ctx, http.MethodPatch, table+"/"+sysID, q, changes, nil)
	if errors.Is(err, errNotFound) {
		return gone(sysID)
	}
	if err != nil {
		return fmt.Errorf("servicenow: update incident %s: %w", sysID, err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stateName(s string) string {
	switch s {
	case StateNew:
		return "New"
	case StateInProgress:
		return "In Progress"
	case StateOnHold:
		return "On Hold"
	case StateResolved:
		return "Resolved"
	case StateClosed:
		return "Closed"
	case StateCanceled:
		return "Canceled"
	}
	return "state " + s
}

// comment adds a work note ending with a marker naming the outbox
// message, unless an earlier attempt whose answer was lost added it.
// The journal is read through its display value, which lists the
// entries.
func (c *Client) comment(ctx context.Context, p CommentPayload, outboxID int64) error {
	sysID, err := c.ref(ctx, p.WorkItemID)
	if err != nil {
		return err
	}
	var res struct {
		Result struct {
			Number    struct{ Value string } `json:"number"`
			State     struct{ Value string } `json:"state"`
			WorkNotes struct {
				DisplayValue string `json:"display_value"`
			} `json:"work_notes"`
		} `json:"result"`
	}
	q := url.Values{"sysparm_fields": {"number,state,work_notes"}, "sysparm_display_value": {"all"}}
	if err := c.do(ctx, http.MethodGet, table+"/"+sysID, q, nil, &res); errors.Is(err, errNotFound) {
		return gone(sysID)
	} else if err != nil {
		return fmt.Errorf("servicenow: get incident %s: %w", sysID, err)
	}
	if st := res.Result.State.Value; st == StateClosed || st == StateCanceled {
		return &outbox.ConflictError{Reason: fmt.Sprintf("ServiceNow incident %s is %s; work note not added",
			res.Result.Number.Value, stateName(st))}
	}
	msg := p.Message
	if outboxID != 0 {
		marker := fmt.Sprintf("[vigil #%d note %d]", p.WorkItemID, outboxID)
		if strings.Contains(res.Result.WorkNotes.DisplayValue, marker) {
			return nil
		}
		msg += "\n\n" + marker
	}
	return c.patch(ctx, sysID, map[string]string{"work_notes": msg})
}

var errNotFound = errors.New("not found")

// do sends one request and decodes a 2xx answer into out. Failures come
// back classified: *outbox.RetryableError for throttling, 5xx and network
// trouble; an error wrapping errNotFound for 404; a plain error with the
// instance's message for the rest. Credentials are never part of one.
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
	req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
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
	code := resp.StatusCode
	msg := fmt.Errorf("%d %s", code, errorText(raw, code))
	switch {
	case code == http.StatusTooManyRequests, code >= 500, code == http.StatusRequestTimeout:
		return &outbox.RetryableError{Err: msg, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case code == http.StatusNotFound:
		return fmt.Errorf("%w: %w", errNotFound, msg)
	}
	return msg
}

// errorText is the instance's explanation of a failure, from the
// {"error": {"message", "detail"}, "status": "failure"} body.
func errorText(raw []byte, code int) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Detail  any    `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		s := strings.TrimSpace(string(raw))
		if s == "" || strings.HasPrefix(s, "<") || len(s) > 200 {
			return http.StatusText(code) // an HTML error page says no more
		}
		return s
	}
	text := e.Error.Message
	if d, ok := e.Error.Detail.(string); ok && strings.TrimSpace(d) != "" {
		text += ": " + strings.Join(strings.Fields(d), " ")
	}
	return text
}

func validPrefix(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
