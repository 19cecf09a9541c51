package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/ticket"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target name of this connector.
const Target = "jira"

// Operations, the outbox Message.Op values Send accepts.
const (
	OpCreate  = ticket.OpCreate
	OpUpdate  = ticket.OpUpdate
	OpComment = ticket.OpComment
)

// Refs remembers which external record mirrors a vigil work item. The
// ref of an issue is its key (ED-24).
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

// vigilStates in the order a reverse mapping prefers them.
var vigilStates = []string{"New", "Approved", "Active", "Verification", "Closed", "Removed"}

// DefaultStates fits Jira's default workflow.
func DefaultStates() map[string]string {
	return map[string]string{
		"New": "To Do", "Approved": "To Do", "Active": "In Progress",
		"Verification": "In Progress", "Closed": "Done", "Removed": "Done",
	}
}

// Config locates a Jira Cloud site and says how issues are filed.
type Config struct {
	BaseURL  string // https://your-domain.atlassian.net
	Email    string // the Atlassian account the API token belongs to
	APIToken string
	Project  string // project key, e.g. SEC
	// IssueType is the name of the type of new issues; default "Task".
	IssueType string
	// States maps vigil states to Jira status names; nil means
	// DefaultStates. A state left out is not mirrored.
	States map[string]string
	// Priorities optionally maps vigil severities (lower case) to Jira
	// priority names (Highest, High, Medium, Low, Lowest in the default
	// scheme). Nil leaves the priority to Jira.
	Priorities map[string]string
	// KeyPrefix starts the label of a work item's issue ("vigil" gives
	// vigil-42). Give each vigil installation writing to one site its own.
	KeyPrefix string
	// HTTPClient defaults to one with a 30-second timeout.
	HTTPClient *http.Client
	// Clock (for Retry-After dates) defaults to the wall clock.
	Clock clock.Clock
}

// Client writes to one Jira Cloud site.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	clk  clock.Clock
	refs Refs
}

// New returns a client; it does not contact Jira.
func New(cfg Config, refs Refs) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("jira: BaseURL must be an http(s) URL such as https://your-domain.atlassian.net")
	}
	if u.User != nil {
		return nil, errors.New("jira: put the credentials in Email and APIToken, not in the URL")
	}
	if cfg.Email == "" || cfg.APIToken == "" {
		return nil, errors.New("jira: Email and APIToken are required")
	}
	if cfg.Project == "" || !validKey(cfg.Project) {
		return nil, errors.New("jira: Project must be a project key such as SEC")
	}
	if refs == nil {
		return nil, errors.New("jira: Refs is required")
	}
	if cfg.IssueType == "" {
		cfg.IssueType = "Task"
	}
	if cfg.States == nil {
		cfg.States = DefaultStates()
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "vigil"
	}
	if !validKey(cfg.KeyPrefix) {
		// It goes into a label (no spaces) and a JQL string.
		return nil, errors.New("jira: KeyPrefix may hold only letters, digits, '-', '_' and '.'")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	return &Client{cfg: cfg, base: u, http: hc, clk: clk, refs: refs}, nil
}

// Key is the label that marks the issue of a work item.
func (c *Client) Key(workItemID int64) string {
	return fmt.Sprintf("%s-%d", c.cfg.KeyPrefix, workItemID)
}

// Status maps a vigil state to the configured Jira status name; ok is
// false for a state the configuration leaves out.
func (c *Client) Status(vigilState string) (status string, ok bool) {
	s, ok := c.cfg.States[vigilState]
	return s, ok && s != ""
}

// VigilState maps a Jira status back to a vigil state (see the package
// documentation); current is the work item's state now. ok is false for a
// status no vigil state maps to.
func (c *Client) VigilState(status, current string) (state string, ok bool) {
	return reverse(c.cfg.States, status, current)
}

// VigilState is Client.VigilState for a mapping without a client (nil
// means DefaultStates).
func VigilState(states map[string]string, status, current string) (string, bool) {
	if states == nil {
		states = DefaultStates()
	}
	return reverse(states, status, current)
}

func reverse(states map[string]string, status, current string) (string, bool) {
	if s, ok := states[current]; ok && strings.EqualFold(s, status) {
		return current, true
	}
	for _, v := range vigilStates {
		if s, ok := states[v]; ok && strings.EqualFold(s, status) {
			return v, true
		}
	}
	return "", false
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
		err = fmt.Errorf("jira: unknown operation %q", m.Op)
	}
	return err
}

// decode reads the payload; the work item comes from the message when the
// payload leaves it out.
func decode(m outbox.Message, p any, id *int64) error {
	if err := json.Unmarshal(m.Payload, p); err != nil {
		return fmt.Errorf("jira: %s payload: %w", m.Op, err)
	}
	if *id == 0 {
		*id = m.WorkItemID
	}
	if *id == 0 {
		return fmt.Errorf("jira: %s payload has no work item", m.Op)
	}
	return nil
}

func validKey(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s != ""
}
