// Package jirasim is an in-memory Jira Cloud site for tests and demos. It
// speaks the part of the platform REST API v3 the jira connector uses,
// with answers shaped as Atlassian's examples in
// shared/fixtures/thirdparty/jira: create an issue (POST /rest/api/3/issue,
// optionally with a transition), read and edit one, search with JQL
// (GET and POST /rest/api/3/search/jql; the removed /rest/api/3/search
// answers 410 as Jira Cloud does since 2025), list and do transitions,
// list and add comments with Atlassian Document Format bodies. Basic auth
// takes one email and API token. Errors have Jira's
// {"errorMessages": [...], "errors": {...}} shape. Tests can inject
// faults (429 with Retry-After, 5xx, a lost answer), make fields required,
// and act as a Jira user, which gives the signed webhook Jira would send.
// With a webhook registered (SetWebhook) the site delivers it: a user's
// move at once (MoveAsUser), a move made through the REST API in the
// background, as the API account (APIAccountID), as Jira does.
//
// Semantics chosen where the sources say nothing: the JQL understood is
// clauses "field = value" (project, key, labels, status) joined by AND,
// with an optional ORDER BY created|key [ASC|DESC]; any other field is a
// 400 naming it, as Jira does for a field it does not know. Search is
// consistent at once (Jira's is eventually consistent). Fields a create
// names that the site does not know are kept, not rejected.
package jirasim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/jira"
)

// Status is a workflow status; Category is new, indeterminate or done.
type Status struct {
	ID, Name, Category string
}

// Transition leads to a status from the statuses in From (none: from
// every status, a global transition).
type Transition struct {
	ID, Name, To string
	From         []string
}

// Options configure a Server.
type Options struct {
	Email, APIToken string // empty: "vigil@example.com" and "token"
	Project         string // key; empty: "SEC" (id 10000)
	// Statuses and Transitions default to Jira's default workflow: To Do,
	// In Progress, Done, each reachable from every status.
	Statuses    []Status
	Transitions []Transition
	// BaseURL is used in self links; empty means the request's host.
	BaseURL string
	Clock   clock.Clock
}

// Comment is one comment of an issue.
type Comment struct {
	ID      string
	Author  string
	Body    json.RawMessage // ADF
	Created time.Time
}

// Issue is an issue's state.
type Issue struct {
	ID, Key, Status string
	Fields          map[string]any // as created or edited, without status
	Comments        []Comment
	Created         time.Time
}

// Fault is a misbehaviour injected for matching requests.
type Fault struct {
	Method     string // "" matches any
	Path       string // a prefix of the URL path; "" matches any
	Status     int    // answer with this status without handling the request
	RetryAfter time.Duration
	DropAnswer bool // handle the request, then close the connection unanswered
}

type fault struct {
	Fault
	times int
}

// Server is the emulator; it is an http.Handler.
type Server struct {
	opts Options
	clk  clock.Clock
	mux  *http.ServeMux

	mu       sync.Mutex
	issues   map[string]*Issue // by key
	order    []string
	next     int
	comments int
	required []string
	faults   []*fault
	hits     map[string]int
	changes  int // changelog ids

	hook       Webhook
	deliveries []Delivery
	sending    sync.WaitGroup
}

// New returns a site with one empty project.
func New(opts Options) *Server {
	if opts.Email == "" {
		opts.Email = "vigil@example.com"
	}
	if opts.APIToken == "" {
		opts.APIToken = "token"
	}
	if opts.Project == "" {
		opts.Project = "SEC"
	}
	if opts.Statuses == nil {
		opts.Statuses = []Status{{"10001", "To Do", "new"}, {"3", "In Progress", "indeterminate"}, {"10002", "Done", "done"}}
	}
	if opts.Transitions == nil {
		opts.Transitions = []Transition{{ID: "11", Name: "To Do", To: "To Do"}, {ID: "21", Name: "In Progress", To: "In Progress"}, {ID: "31", Name: "Done", To: "Done"}}
	}
	s := &Server{opts: opts, clk: opts.Clock, mux: http.NewServeMux(), issues: map[string]*Issue{}, next: 10000, hits: map[string]int{}}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	s.mux.HandleFunc("POST /rest/api/3/issue", s.create)
	s.mux.HandleFunc("GET /rest/api/3/issue/{key}", s.get)
	s.mux.HandleFunc("PUT /rest/api/3/issue/{key}", s.edit)
	s.mux.HandleFunc("GET /rest/api/3/issue/{key}/transitions", s.listTransitions)
	s.mux.HandleFunc("POST /rest/api/3/issue/{key}/transitions", s.doTransition)
	s.mux.HandleFunc("GET /rest/api/3/issue/{key}/comment", s.listComments)
	s.mux.HandleFunc("POST /rest/api/3/issue/{key}/comment", s.addComment)
	s.mux.HandleFunc("GET /rest/api/3/search/jql", s.search)
	s.mux.HandleFunc("POST /rest/api/3/search/jql", s.search)
	s.mux.HandleFunc("/rest/api/3/search", func(w http.ResponseWriter, _ *http.Request) {
		fail(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "+
			"A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
	})
	return s
}

// ServeHTTP answers as a site would: injected faults, then Basic auth,
// then the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	f := s.take(r, pattern)
	if f != nil && !f.DropAnswer {
		s.writeFault(w, f)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.opts.Email || p != s.opts.APIToken {
		fail(w, http.StatusUnauthorized, "Client must be authenticated to access this resource.")
		return
	}
	if f != nil {
		s.mux.ServeHTTP(discard{h: http.Header{}}, r)
		panic(http.ErrAbortHandler)
	}
	s.mux.ServeHTTP(w, r)
}

// Inject adds a fault for the next times matching requests.
func (s *Server) Inject(times int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f, times: times})
}

// Hits reports how many requests reached a route, named by its pattern,
// e.g. "POST /rest/api/3/issue".
func (s *Server) Hits(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[pattern]
}

// RequireFields makes fields mandatory on create, as a project's field
// configuration may (the documented 400 is for priority).
func (s *Server) RequireFields(fields ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.required = append(s.required, fields...)
}

// Issues returns copies of every issue, oldest first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.copyOf(s.issues[k]))
	}
	return out
}

// Issue returns a copy of one issue.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return Issue{}, false
	}
	return s.copyOf(is), true
}

func (s *Server) copyOf(is *Issue) Issue {
	c := *is
	c.Fields = make(map[string]any, len(is.Fields))
	for k, v := range is.Fields {
		c.Fields[k] = v
	}
	c.Comments = slices.Clone(is.Comments)
	return c
}

// CommentText returns the text of an issue's comments, oldest first.
func (s *Server) CommentText(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issues[key]
	if !ok {
		return nil
	}
	var out []string
	for _, c := range is.Comments {
		out = append(out, adfText(c.Body))
	}
	return out
}

// UserTransition acts as a Jira user moving an issue to a status through
// the workflow, and returns the jira:issue_updated webhook body Jira
// would send for it, with its X-Hub-Signature header for secret. It does
// not deliver it; MoveAsUser does.
func (s *Server) UserTransition(key, to, user, secret string) (body []byte, header http.Header, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userTransition(key, to, user, userAccountID, secret)
}

// userAccountID is the account id of every user tests act as.
const userAccountID = "5b10a2844c20165700ede21g"

// userTransition is UserTransition; the caller holds s.mu.
func (s *Server) userTransition(key, to, user, accountID, secret string) (body []byte, header http.Header, err error) {
	is, ok := s.issues[key]
	if !ok {
		return nil, nil, fmt.Errorf("no issue %s", key)
	}
	t, ok := s.transitionTo(is, to)
	if !ok {
		return nil, nil, fmt.Errorf("no transition from %s to %s", is.Status, to)
	}
	from := is.Status
	is.Status = t.To
	return s.issueUpdated(is, from, user, accountID, secret)
}

// issueUpdated is the signed jira:issue_updated body for a status change
// of is (already made) from a status; the caller holds s.mu.
func (s *Server) issueUpdated(is *Issue, from, user, accountID, secret string) (body []byte, header http.Header, err error) {
	fromSt, toSt := s.status(from), s.status(is.Status)
	s.changes++
	payload := map[string]any{
		"timestamp": s.clk.Now().UnixMilli(), "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
		"user":  map[string]any{"accountId": accountID, "displayName": user, "active": true, "accountType": "atlassian"},
		"issue": map[string]any{"id": is.ID, "key": is.Key, "fields": s.fieldsOf(is, "http://jira.invalid")},
		"changelog": map[string]any{"id": strconv.Itoa(s.changes), "items": []any{map[string]any{
			"field": "status", "fieldtype": "jira", "fieldId": "status",
			"from": fromSt.ID, "fromString": fromSt.Name, "to": toSt.ID, "toString": toSt.Name}}},
	}
	body, err = json.Marshal(payload)
	if err != nil {
		return nil, nil, err
	}
	header = http.Header{}
	header.Set("Content-Type", "application/json")
	if secret != "" {
		header.Set(jira.SignatureHeader, "sha256="+hex.EncodeToString(jira.Sign(secret, body)))
	}
	return body, header, nil
}

func (s *Server) take(r *http.Request, pattern string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[pattern]++
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			out := f.Fault
			if f.times--; f.times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			return &out
		}
	}
	return nil
}

func (s *Server) writeFault(w http.ResponseWriter, f *Fault) {
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("X-RateLimit-Reset", s.clk.Now().Add(time.Duration(secs)*time.Second).UTC().Format("2006-01-02T15:04Z"))
	}
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("RateLimit-Reason", "jira-burst-based")
		fail(w, f.Status, "Rate limit exceeded.")
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(f.Status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
}

// fail writes Jira's error shape with messages and no field errors.
func fail(w http.ResponseWriter, status int, messages ...string) {
	failFields(w, status, messages, nil)
}

func failFields(w http.ResponseWriter, status int, messages []string, errs map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if errs == nil {
		errs = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": messages, "errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// discard is where a dropped answer goes.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
