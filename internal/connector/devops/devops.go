// Package devops mirrors vigil work items to Azure Boards (Azure DevOps
// work item tracking) and reads the workitem.updated service hooks that
// come back. It speaks the REST API (api-version 7.1) directly over
// net/http rather than through azure-devops-go-api: the mirror needs four
// calls (create, get, JSON Patch, WIQL), and owning them keeps the retry
// and concurrency decisions in plain view.
//
// Concurrency is a JSON Patch "test" of /rev, as Azure DevOps does it: a
// stale revision gets 412, and the write-back re-reads and decides again
// instead of overwriting what a user just did in the portal.
package devops

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target and the external-ref system name of Azure
// Boards.
const Target = "devops"

// apiVersion is the newest released work item tracking version; 7.2 is
// still in preview.
const apiVersion = "7.1"

// Config locates an Azure DevOps project and says how vigil's process maps
// onto the project's.
type Config struct {
	// OrgURL is the organization, e.g. https://dev.azure.com/contoso.
	OrgURL  string
	Project string
	// PAT is a personal access token with Work Items (read & write).
	PAT string
	// Transport, when set, carries every request (the simulator's client
	// trusts its own CA).
	Transport http.RoundTripper
	// Types maps a vigil work item type to a Boards type; unlisted types
	// keep their name.
	Types map[string]string
	// States maps a vigil state to a Boards state; unlisted states keep
	// their name. When several vigil states share a Boards state, the way
	// back (StateFromBoards) takes the one with the Boards state's own
	// name, else the first alphabetically: list identities explicitly
	// when that matters.
	States map[string]string
	// Logger receives the connector's decisions; nil discards them.
	Logger *slog.Logger
}

// Client talks to one Azure DevOps project. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	base    string // {OrgURL}/{Project}/_apis/wit/
	auth    string // the Authorization header; never logged or put in errors
	refs    Refs
	types   map[string]string
	states  map[string]string
	reverse map[string]string // lower-case Boards state → vigil state
	log     *slog.Logger
	// self is the identity Boards records on vigil's own writes (the
	// token's owner), learnt from their answers: the service hook sends
	// those changes back, and they must not move the vigil item again.
	self atomic.Pointer[string]
}

// learnSelf remembers who Boards says made vigil's write.
func (c *Client) learnSelf(w WorkItem) {
	if by := w.changedBy(); by != "" {
		c.self.Store(&by)
	}
}

// OwnChange reports whether a hook's change was made by vigil itself
// (as far as this instance has learnt who that is).
func (c *Client) OwnChange(ch Change) bool {
	s := c.self.Load()
	return s != nil && ch.ChangedBy != "" && strings.EqualFold(*s, ch.ChangedBy)
}

// Refs remembers which external record mirrors a vigil work item.
type Refs interface {
	ExternalRef(ctx context.Context, workItemID int64, system string) (string, error) // "" when none
	SaveExternalRef(ctx context.Context, workItemID int64, system, ref string) error
	WorkItemByRef(ctx context.Context, system, ref string) (int64, error) // 0 when none
}

// New returns a client for cfg. refs is where the mirror keeps the Boards
// id of each vigil work item.
func New(cfg Config, refs Refs) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.OrgURL, "/"))
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return nil, fmt.Errorf("devops: organization URL %q is not an absolute http(s) URL", cfg.OrgURL)
	case strings.TrimSpace(cfg.Project) == "":
		return nil, errors.New("devops: project is required")
	case cfg.PAT == "":
		return nil, errors.New("devops: personal access token is required")
	case refs == nil:
		return nil, errors.New("devops: refs store is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		// The outbox retries with backoff that survives restarts, so one
		// call must not block the sender for long.
		http:   &http.Client{Transport: cfg.Transport, Timeout: 30 * time.Second},
		base:   u.String() + "/" + url.PathEscape(cfg.Project) + "/_apis/wit/",
		auth:   "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+cfg.PAT)),
		refs:   refs,
		types:  maps.Clone(cfg.Types),
		states: maps.Clone(cfg.States),
		log:    log.With("component", "devops"),
	}
	c.reverse = map[string]string{}
	for _, vigil := range slices.Sorted(maps.Keys(c.states)) {
		key := strings.ToLower(c.states[vigil])
		prev, taken := c.reverse[key]
		if !taken || (!strings.EqualFold(prev, c.states[vigil]) && strings.EqualFold(vigil, c.states[vigil])) {
			c.reverse[key] = vigil
		}
	}
	return c, nil
}

// typeToBoards maps a vigil type to the Boards type.
func (c *Client) typeToBoards(t string) string {
	if b, ok := c.types[t]; ok {
		return b
	}
	return t
}

// stateToBoards maps a vigil state to the Boards state.
func (c *Client) stateToBoards(s string) string {
	if b, ok := c.states[s]; ok {
		return b
	}
	return s
}

// StateFromBoards maps a Boards state back to vigil's, for service hooks.
// Boards ignores case in state names, and so does this.
func (c *Client) StateFromBoards(state string) string {
	if v, ok := c.reverse[strings.ToLower(state)]; ok {
		return v
	}
	return state
}

// WorkItem is a Boards work item as the mirror needs it; Fields has every
// field the service returned, identities as their JSON objects.
type WorkItem struct {
	ID, Rev            int
	Type, State, Title string
	Tags               []string
	Fields             map[string]any
}

// changedBy is who saved the item's current revision: the unique name
// (usually a mail address) when the service gives one.
func (w WorkItem) changedBy() string { return identity(w.Fields["System.ChangedBy"]) }

// identity reads an identity field in either shape Azure DevOps uses: an
// IdentityRef object (REST 5.0 and later) or "Name <unique name>" (service
// hooks, older versions).
func identity(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if s, _ := v["uniqueName"].(string); s != "" {
			return s
		}
		s, _ := v["displayName"].(string)
		return s
	case string:
		if i := strings.LastIndex(v, "<"); i >= 0 && strings.HasSuffix(v, ">") {
			if u := strings.TrimSpace(v[i+1 : len(v)-1]); u != "" {
				return u
			}
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// splitTags splits Boards' "a; b" tag list.
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ";") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

type wireItem struct {
	ID     int            `json:"id"`
	Rev    int            `json:"rev"`
	Fields map[string]any `json:"fields"`
}

func (w wireItem) item() WorkItem {
	str := func(k string) string { s, _ := w.Fields[k].(string); return s }
	return WorkItem{ID: w.ID, Rev: w.Rev, Type: str("System.WorkItemType"), State: str("System.State"),
		Title: str("System.Title"), Tags: splitTags(str("System.Tags")), Fields: w.Fields}
}

// patchOp is one JSON Patch operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// fieldOps turns fields into "add" operations, in a stable order so that
// requests are reproducible.
func fieldOps(fields map[string]any) []patchOp {
	ops := make([]patchOp, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		ops = append(ops, patchOp{Op: "add", Path: "/fields/" + k, Value: fields[k]})
	}
	return ops
}

// Create creates a work item of Boards type typ with fields given by
// reference name (System.Title, …).
func (c *Client) Create(ctx context.Context, typ string, fields map[string]any) (WorkItem, error) {
	var w wireItem
	what := "create " + typ
	if err := c.do(ctx, http.MethodPost, "workitems/"+url.PathEscape("$"+typ), what, fieldOps(fields), &w); err != nil {
		return WorkItem{}, err
	}
	c.learnSelf(w.item())
	return w.item(), nil
}

// Get reads a work item with all its fields.
func (c *Client) Get(ctx context.Context, id int) (WorkItem, error) {
	var w wireItem
	if err := c.do(ctx, http.MethodGet, "workitems/"+strconv.Itoa(id), "get work item "+strconv.Itoa(id), nil, &w); err != nil {
		return WorkItem{}, err
	}
	return w.item(), nil
}

// Update sets fields on work item id. With rev > 0 the patch first tests
// /rev, so a write based on a stale read fails with ErrStale (412) instead
// of overwriting a newer revision; rev 0 writes unconditionally, which
// suits appends such as System.History.
func (c *Client) Update(ctx context.Context, id, rev int, fields map[string]any) (WorkItem, error) {
	ops := fieldOps(fields)
	if rev > 0 {
		ops = append([]patchOp{{Op: "test", Path: "/rev", Value: rev}}, ops...)
	}
	var w wireItem
	if err := c.do(ctx, http.MethodPatch, "workitems/"+strconv.Itoa(id), "update work item "+strconv.Itoa(id), ops, &w); err != nil {
		return WorkItem{}, err
	}
	c.learnSelf(w.item())
	return w.item(), nil
}

// FindByTag returns the ids of the project's work items that carry tag,
// lowest first. Boards matches a tag as a whole, ignoring case, so
// "vigil-4" does not find "vigil-42".
func (c *Client) FindByTag(ctx context.Context, tag string) ([]int, error) {
	q := map[string]string{"query": "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS '" +
		strings.ReplaceAll(tag, "'", "''") + "' ORDER BY [System.Id]"}
	var res struct {
		WorkItems []struct {
			ID int `json:"id"`
		} `json:"workItems"`
	}
	if err := c.do(ctx, http.MethodPost, "wiql", "query tag "+tag, q, &res); err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(res.WorkItems))
	for _, w := range res.WorkItems {
		ids = append(ids, w.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// Sentinel errors, matched with errors.Is on an *Error.
var (
	ErrNotFound = errors.New("work item not found")
	// ErrStale is a failed /rev test: someone saved the item since it was
	// read.
	ErrStale = errors.New("work item changed since it was read")
)

// Error is an answer from Azure DevOps other than success. Message is the
// service's own text (it never contains the PAT, which travels only in a
// header).
type Error struct {
	What       string // what the call was doing
	Status     int
	TypeKey    string // e.g. RuleValidationException
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("devops: %s: %d", e.What, e.Status)
	if e.TypeKey != "" {
		s += " " + e.TypeKey
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrStale) work.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound ||
		target == ErrStale && e.Status == http.StatusPreconditionFailed
}

// Temporary reports whether the same call may succeed later: throttling,
// server trouble, and 401/403, which Azure DevOps answers while a new PAT
// or permission propagates.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	return e.Status >= 500
}

// maxBody bounds what is read of an answer; work items are small, and a
// WIQL answer holds ids only.
const maxBody = 8 << 20

// do sends one request under the project's wit API and decodes the JSON
// answer into out.
func (c *Client) do(ctx context.Context, method, path, what string, body, out any) error {
	var rd io.Reader
	ctype := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("devops: %s: encode request: %w", what, err)
		}
		rd = bytes.NewReader(b)
		ctype = "application/json"
		if _, ok := body.([]patchOp); ok {
			ctype = "application/json-patch+json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path+"?api-version="+apiVersion, rd)
	if err != nil {
		return fmt.Errorf("devops: %s: %w", what, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("devops: %s: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("devops: %s: read answer: %w", what, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && mt != "application/json" {
		// Azure DevOps answers an unauthenticated call with 203 and its
		// sign-in page rather than 401.
		return &Error{What: what, Status: http.StatusUnauthorized,
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
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("devops: %s: decode answer: %w", what, err)
	}
	return nil
}
