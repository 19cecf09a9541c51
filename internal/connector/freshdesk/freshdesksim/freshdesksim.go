// Package freshdesksim is an in-memory Freshdesk (API v2) for tests and
// demos. It speaks the wire contract of the part of the API vigil uses:
// Basic auth with an API key, tickets (create, view, update, list by
// requester), private notes, conversations, ticket search, the validation
// error shape, and the per-minute rate limit with its X-RateLimit-*
// headers. Tests can inject faults, lose answers, and act as a helpdesk
// agent editing a ticket.
//
// What it does not model: custom ticket fields, SLA policies (due_by is a
// fixed offset), contacts beyond an id per email, attachments, and
// replies sent to requesters.
package freshdesksim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Ticket statuses, priorities and sources, as Freshdesk numbers them.
const (
	StatusOpen     = 2
	StatusPending  = 3
	StatusResolved = 4
	StatusClosed   = 5

	PriorityLow    = 1
	PriorityMedium = 2
	PriorityHigh   = 3
	PriorityUrgent = 4

	SourcePortal = 2
)

// Options configure a Server.
type Options struct {
	// APIKey is the only key accepted (as the Basic user, with any
	// password; Freshdesk's docs use "X"). Empty means "test-key".
	APIKey string
	// RateLimit is how many requests are answered per RateWindow; 0 means
	// no limit. Freshdesk plans allow 50 to 700 a minute.
	RateLimit int
	// RateWindow defaults to a minute.
	RateWindow time.Duration
	// SearchLag is how long a new ticket takes to reach the search index.
	// Freshdesk's search is eventually consistent; 0 makes it immediate.
	SearchLag time.Duration
	// Clock defaults to the wall clock.
	Clock clock.Clock
}

// Ticket is the emulator's record of a ticket.
type Ticket struct {
	ID          int64
	Subject     string
	Description string // HTML
	Email       string // requester
	RequesterID int64
	Status      int
	Priority    int
	Source      int
	Type        string
	GroupID     int64
	Tags        []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Deleted     bool
	Notes       []Note
}

// Note is a note on a ticket.
type Note struct {
	ID        int64
	Body      string // HTML
	Private   bool
	Incoming  bool
	CreatedAt time.Time
}

// Fault is a misbehaviour injected for matching requests.
type Fault struct {
	Method string // "" matches any
	Path   string // a prefix of the URL path; "" matches any
	// Status answers the request with this status (429, 500, 503, …)
	// without handling it. 429 comes with the real rate-limit headers.
	Status     int
	RetryAfter time.Duration
	// DropAnswer handles the request, then closes the connection without
	// answering: the write happened but the client never hears of it.
	DropAnswer bool
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

	mu          sync.Mutex
	tickets     map[int64]*Ticket
	contacts    map[string]int64
	nextTicket  int64
	nextNote    int64
	nextContact int64
	faults      []*fault
	winStart    time.Time
	winCount    int
	hits        map[string]int
}

// New returns an empty Freshdesk.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "test-key"
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = time.Minute
	}
	s := &Server{opts: opts, clk: opts.Clock, mux: http.NewServeMux(),
		tickets: map[int64]*Ticket{}, contacts: map[string]int64{}, hits: map[string]int{}}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	s.mux.HandleFunc("POST /api/v2/tickets", s.createTicket)
	s.mux.HandleFunc("GET /api/v2/tickets", s.listTickets)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}", s.getTicket)
	s.mux.HandleFunc("PUT /api/v2/tickets/{id}", s.updateTicket)
	s.mux.HandleFunc("POST /api/v2/tickets/{id}/notes", s.createNote)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}/conversations", s.conversations)
	s.mux.HandleFunc("GET /api/v2/search/tickets", s.search)
	return s
}

// ServeHTTP answers as Freshdesk would: injected faults first, then the
// rate limit (every answer carries the X-RateLimit-* headers), then
// authentication, then the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	f := s.take(r, pattern)
	if f != nil && !f.DropAnswer {
		s.writeFault(w, f)
		return
	}
	if !s.admit(w) {
		return
	}
	if user, _, ok := r.BasicAuth(); !ok || user != s.opts.APIKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
		return
	}
	if f != nil { // DropAnswer: do the work, lose the answer
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
// e.g. "POST /api/v2/tickets".
func (s *Server) Hits(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[pattern]
}

// Tickets returns a copy of every ticket, deleted ones included, by id.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ticket, 0, len(s.tickets))
	for id := int64(1); id <= s.nextTicket; id++ {
		if t, ok := s.tickets[id]; ok {
			out = append(out, t.clone())
		}
	}
	return out
}

// Ticket returns a copy of one ticket.
func (s *Server) Ticket(id int64) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	return t.clone(), true
}

// AgentUpdate acts as a helpdesk agent editing a ticket in the Freshdesk
// UI: fields are the body of a ticket update, validated the same way.
// It bypasses authentication, faults and the rate limit.
func (s *Server) AgentUpdate(id int64, fields map[string]any) error {
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok || t.Deleted {
		return fmt.Errorf("no ticket %d", id)
	}
	in, errs := parseTicket(raw, false)
	if len(errs) > 0 {
		return fmt.Errorf("invalid update: %v", errs)
	}
	s.apply(t, in)
	return nil
}

// AgentDelete acts as an agent deleting a ticket: the API answers 404 for
// it from then on.
func (s *Server) AgentDelete(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tickets[id]; ok {
		t.Deleted = true
	}
}

func (t *Ticket) clone() Ticket {
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.Notes = slices.Clone(t.Notes)
	return c
}

// take counts the request and returns the first fault that applies,
// using up one of its times.
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
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Status == http.StatusTooManyRequests {
		limit := s.opts.RateLimit
		if limit == 0 {
			limit = 700
		}
		h := w.Header()
		h.Set("X-RateLimit-Total", strconv.Itoa(limit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used-CurrentRequest", "1")
		w.WriteHeader(f.Status)
		return
	}
	writeJSON(w, f.Status, map[string]any{"code": "internal_error", "message": "We're sorry, but something went wrong."})
}

// admit applies the rate limit: a fixed window, as Freshdesk's counter
// resets each minute.
func (s *Server) admit(w http.ResponseWriter) bool {
	if s.opts.RateLimit <= 0 {
		return true
	}
	s.mu.Lock()
	now := s.clk.Now()
	if now.Sub(s.winStart) >= s.opts.RateWindow {
		s.winStart, s.winCount = now, 0
	}
	limit, reset := s.opts.RateLimit, s.winStart.Add(s.opts.RateWindow).Sub(now)
	over := s.winCount >= limit
	if !over {
		s.winCount++
	}
	remaining := limit - s.winCount
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Total", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used-CurrentRequest", "1")
	if over {
		h.Set("Retry-After", strconv.Itoa(max(1, int((reset+time.Second-1)/time.Second))))
		w.WriteHeader(http.StatusTooManyRequests)
	}
	return !over
}

// FieldError is one entry of Freshdesk's validation error.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

func validationFailed(w http.ResponseWriter, errs []FieldError) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"description": "Validation failed", "errors": errs})
}

// ticketInput is a parsed create or update body; nil means absent.
type ticketInput struct {
	Subject, Description, Email, Type *string
	Status, Priority, Source          *int
	RequesterID, GroupID              *int64
	Tags                              *[]string
}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// parseTicket checks a create or update body as Freshdesk does: unknown
// fields, JSON types, choice values, and on create a requester.
func parseTicket(raw []byte, create bool) (ticketInput, []FieldError) {
	var in ticketInput
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return in, []FieldError{{Field: "", Message: "Request body has invalid json format", Code: "invalid_json"}}
	}
	var errs []FieldError
	str := func(name string, dst **string) {
		v, ok := fields[name]
		if !ok {
			return
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			errs = append(errs, mismatch(name, v, "String"))
			return
		}
		*dst = &s
	}
	integer := func(name string, dst **int64) {
		v, ok := fields[name]
		if !ok {
			return
		}
		var n int64
		if json.Unmarshal(v, &n) != nil {
			errs = append(errs, mismatch(name, v, "Integer"))
			return
		}
		*dst = &n
	}
	choice := func(name string, dst **int, allowed ...int) {
		var n *int64
		integer(name, &n)
		if n == nil {
			return
		}
		if !slices.Contains(allowed, int(*n)) {
			vals := make([]string, len(allowed))
			for i, a := range allowed {
				vals[i] = strconv.Itoa(a)
			}
			errs = append(errs, FieldError{Field: name, Code: "invalid_value",
				Message: "It should be one of these values: '" + strings.Join(vals, ",") + "'"})
			return
		}
		v := int(*n)
		*dst = &v
	}
	for name := range fields {
		switch name {
		case "subject", "description", "email", "type", "status", "priority", "source", "requester_id", "group_id", "tags",
			"cc_emails", "name", "phone", "responder_id", "due_by", "fr_due_by", "custom_fields", "company_id", "product_id":
		default:
			errs = append(errs, FieldError{Field: name, Message: "Unexpected/invalid field in request", Code: "invalid_field"})
		}
	}
	str("subject", &in.Subject)
	str("description", &in.Description)
	str("email", &in.Email)
	str("type", &in.Type)
	choice("status", &in.Status, StatusOpen, StatusPending, StatusResolved, StatusClosed)
	choice("priority", &in.Priority, PriorityLow, PriorityMedium, PriorityHigh, PriorityUrgent)
	choice("source", &in.Source, 1, 2, 3, 5, 6, 7, 9, 10)
	integer("requester_id", &in.RequesterID)
	integer("group_id", &in.GroupID)
	if v, ok := fields["tags"]; ok {
		var tags []string
		if json.Unmarshal(v, &tags) != nil {
			errs = append(errs, mismatch("tags", v, "Array"))
		} else {
			in.Tags = &tags
		}
	}
	if in.Email != nil && !emailRE.MatchString(*in.Email) {
		errs = append(errs, FieldError{Field: "email", Message: "It should be in the 'valid email address' format", Code: "invalid_value"})
	}
	if create {
		if in.Email == nil && in.RequesterID == nil && fields["phone"] == nil {
			errs = append(errs, FieldError{Field: "requester_id", Code: "missing_field",
				Message: "Please fill at least 1 of requester_id, phone, email, twitter_id, facebook_id, unique_external_id fields"})
		}
		if in.Subject == nil {
			errs = append(errs, FieldError{Field: "subject", Message: "It should be a/an String", Code: "missing_field"})
		}
		if in.Description == nil {
			errs = append(errs, FieldError{Field: "description", Message: "It should be a/an String", Code: "missing_field"})
		}
	}
	if in.Subject != nil && strings.TrimSpace(*in.Subject) == "" {
		errs = append(errs, FieldError{Field: "subject", Message: "It should not be blank as this is a mandatory field", Code: "invalid_value"})
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return in, errs
}

func mismatch(field string, v json.RawMessage, want string) FieldError {
	got := "String"
	switch {
	case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')):
		got = "Integer"
	case len(v) > 0 && v[0] == '[':
		got = "Array"
	case len(v) > 0 && v[0] == '{':
		got = "key/value pair"
	case string(v) == "true" || string(v) == "false":
		got = "Boolean"
	case string(v) == "null":
		got = "Null"
	}
	return FieldError{Field: field, Code: "datatype_mismatch", Message: fmt.Sprintf("Value set is of type %s.It should be a/an %s", got, want)}
}

// apply writes an update to t; the caller holds s.mu.
func (s *Server) apply(t *Ticket, in ticketInput) {
	if in.Subject != nil {
		t.Subject = *in.Subject
	}
	if in.Description != nil {
		t.Description = *in.Description
		if !strings.HasPrefix(strings.TrimSpace(t.Description), "<") {
			t.Description = "<div>" + t.Description + "</div>" // Freshdesk stores HTML
		}
	}
	if in.Type != nil {
		t.Type = *in.Type
	}
	if in.Status != nil {
		t.Status = *in.Status
	}
	if in.Priority != nil {
		t.Priority = *in.Priority
	}
	if in.Source != nil {
		t.Source = *in.Source
	}
	if in.GroupID != nil {
		t.GroupID = *in.GroupID
	}
	if in.Tags != nil {
		t.Tags = slices.Clone(*in.Tags)
	}
	if in.Email != nil {
		t.Email, t.RequesterID = *in.Email, s.contact(*in.Email)
	} else if in.RequesterID != nil {
		t.RequesterID = *in.RequesterID
	}
	t.UpdatedAt = s.clk.Now()
}

func (s *Server) contact(email string) int64 {
	email = strings.ToLower(email)
	id, ok := s.contacts[email]
	if !ok {
		s.nextContact++
		id = 43000000000 + s.nextContact
		s.contacts[email] = id
	}
	return id
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	in, errs := parseTicket(raw, true)
	if len(errs) > 0 {
		validationFailed(w, errs)
		return
	}
	s.mu.Lock()
	s.nextTicket++
	now := s.clk.Now()
	t := &Ticket{ID: s.nextTicket, Status: StatusOpen, Priority: PriorityLow, Source: SourcePortal, CreatedAt: now, Tags: []string{}}
	s.tickets[t.ID] = t
	s.apply(t, in)
	out := s.render(t, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *Ticket {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t, ok := s.tickets[id]
	if err != nil || !ok || t.Deleted {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	return t
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.lookup(w, r); t != nil {
		writeJSON(w, http.StatusOK, s.render(t, true))
	}
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	in, errs := parseTicket(raw, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(w, r)
	if t == nil {
		return
	}
	if len(errs) > 0 {
		validationFailed(w, errs)
		return
	}
	s.apply(t, in)
	writeJSON(w, http.StatusOK, s.render(t, true))
}

// listTickets serves GET /api/v2/tickets with the requester filters
// (email, requester_id), order_by created_at|updated_at, order_type and
// paging (per_page up to 100). Like Freshdesk it lists only tickets
// created in the last 30 days and leaves out the description.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage, page, errs := paging(q)
	if ob := q.Get("order_by"); ob != "" && ob != "created_at" && ob != "updated_at" && ob != "due_by" && ob != "status" {
		errs = append(errs, FieldError{Field: "order_by", Code: "invalid_value", Message: "It should be one of these values: 'created_at,due_by,updated_at,status'"})
	}
	if ot := q.Get("order_type"); ot != "" && ot != "asc" && ot != "desc" {
		errs = append(errs, FieldError{Field: "order_type", Code: "invalid_value", Message: "It should be one of these values: 'asc,desc'"})
	}
	if len(errs) > 0 {
		validationFailed(w, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	var list []*Ticket
	for _, t := range s.tickets {
		if t.Deleted || now.Sub(t.CreatedAt) > 30*24*time.Hour {
			continue
		}
		if e := q.Get("email"); e != "" && !strings.EqualFold(e, t.Email) {
			continue
		}
		if rid := q.Get("requester_id"); rid != "" && rid != strconv.FormatInt(t.RequesterID, 10) {
			continue
		}
		list = append(list, t)
	}
	key := func(t *Ticket) time.Time { return t.CreatedAt }
	if q.Get("order_by") == "updated_at" {
		key = func(t *Ticket) time.Time { return t.UpdatedAt }
	}
	desc := q.Get("order_type") != "asc"
	slices.SortStableFunc(list, func(a, b *Ticket) int {
		c := key(a).Compare(key(b))
		if c == 0 {
			c = int(a.ID - b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(list) && i < page*perPage; i++ {
		out = append(out, s.render(list[i], false))
	}
	if page*perPage < len(list) {
		next := *r.URL
		v := next.Query()
		v.Set("page", strconv.Itoa(page+1))
		next.RawQuery = v.Encode()
		w.Header().Set("Link", "<"+next.RequestURI()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

func paging(q map[string][]string) (perPage, page int, errs []FieldError) {
	perPage, page = 30, 1
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if v := get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, FieldError{Field: "per_page", Code: "invalid_value", Message: "It should be a Positive Integer less than or equal to 100"})
		}
		perPage = n
	}
	if v := get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, FieldError{Field: "page", Code: "invalid_value", Message: "It should be a Positive Integer"})
		}
		page = n
	}
	return perPage, page, errs
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	var errs []FieldError
	var body string
	private, incoming := true, false
	for name, v := range fields {
		switch name {
		case "body":
			if json.Unmarshal(v, &body) != nil {
				errs = append(errs, mismatch(name, v, "String"))
			}
		case "private":
			if json.Unmarshal(v, &private) != nil {
				errs = append(errs, mismatch(name, v, "Boolean"))
			}
		case "incoming":
			if json.Unmarshal(v, &incoming) != nil {
				errs = append(errs, mismatch(name, v, "Boolean"))
			}
		case "notify_emails", "user_id":
		default:
			errs = append(errs, FieldError{Field: name, Message: "Unexpected/invalid field in request", Code: "invalid_field"})
		}
	}
	if _, ok := fields["body"]; !ok {
		errs = append(errs, FieldError{Field: "body", Message: "It should be a/an String", Code: "missing_field"})
	} else if strings.TrimSpace(body) == "" && len(errs) == 0 {
		errs = append(errs, FieldError{Field: "body", Message: "It should not be blank as this is a mandatory field", Code: "invalid_value"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(w, r)
	if t == nil {
		return
	}
	if len(errs) > 0 {
		validationFailed(w, errs)
		return
	}
	s.nextNote++
	n := Note{ID: s.nextNote, Body: body, Private: private, Incoming: incoming, CreatedAt: s.clk.Now()}
	t.Notes = append(t.Notes, n)
	t.UpdatedAt = n.CreatedAt
	out := renderNote(t, n)
	out["notified_to"] = []string{}
	writeJSON(w, http.StatusCreated, out)
}

// conversations serves a ticket's notes, oldest first, paged like a list.
func (s *Server) conversations(w http.ResponseWriter, r *http.Request) {
	perPage, page, errs := paging(r.URL.Query())
	if len(errs) > 0 {
		validationFailed(w, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(w, r)
	if t == nil {
		return
	}
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(t.Notes) && i < page*perPage; i++ {
		n := renderNote(t, t.Notes[i])
		n["source"], n["category"] = 2, 2
		n["from_email"], n["to_emails"], n["cc_emails"], n["bcc_emails"] = nil, []string{}, []string{}, nil
		out = append(out, n)
	}
	if page*perPage < len(t.Notes) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d&per_page=%d>; rel="next"`, r.URL.Path, page+1, perPage))
	}
	writeJSON(w, http.StatusOK, out)
}

func renderNote(t *Ticket, n Note) map[string]any {
	return map[string]any{
		"id": n.ID, "body": n.Body, "body_text": textOf(n.Body), "incoming": n.Incoming, "private": n.Private,
		"user_id": int64(43000000000), "support_email": nil, "ticket_id": t.ID, "attachments": []any{},
		"created_at": stamp(n.CreatedAt), "updated_at": stamp(n.CreatedAt),
	}
}

// search serves GET /api/v2/search/tickets?query="…" with the terms vigil
// and tests use: tag, status, priority, type and group_id, joined by AND
// and OR (AND binds tighter), 30 results a page.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("query")
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		validationFailed(w, []FieldError{{Field: "query", Code: "invalid_value", Message: "Query should be wrapped in double quotes"}})
		return
	}
	match, err := parseQuery(q[1 : len(q)-1])
	if err != nil {
		validationFailed(w, []FieldError{{Field: "query", Code: "invalid_value", Message: err.Error()}})
		return
	}
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			validationFailed(w, []FieldError{{Field: "page", Code: "invalid_value", Message: "It should be a Positive Integer less than or equal to 10"}})
			return
		}
		page = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	var hits []*Ticket
	for id := int64(1); id <= s.nextTicket; id++ {
		t, ok := s.tickets[id]
		if !ok || t.Deleted || now.Sub(t.CreatedAt) < s.opts.SearchLag {
			continue // not indexed yet
		}
		if match(t) {
			hits = append(hits, t)
		}
	}
	slices.Reverse(hits) // newest first
	results := []map[string]any{}
	for i := (page - 1) * 30; i < len(hits) && i < page*30; i++ {
		results = append(results, s.render(hits[i], false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "total": len(hits)})
}

var termRE = regexp.MustCompile(`^(tag|status|priority|type|group_id):(?:'([^']*)'|(\d+))$`)

func parseQuery(q string) (func(*Ticket) bool, error) {
	var ors [][]func(*Ticket) bool
	for _, disj := range strings.Split(q, " OR ") {
		var ands []func(*Ticket) bool
		for _, term := range strings.Split(disj, " AND ") {
			m := termRE.FindStringSubmatch(strings.TrimSpace(term))
			if m == nil {
				return nil, fmt.Errorf("Invalid query: %q", term)
			}
			field, str, num := m[1], m[2], m[3]
			n, _ := strconv.ParseInt(num, 10, 64)
			var f func(*Ticket) bool
			switch field {
			case "tag":
				f = func(t *Ticket) bool {
					return slices.ContainsFunc(t.Tags, func(x string) bool { return strings.EqualFold(x, str) })
				}
			case "type":
				f = func(t *Ticket) bool { return strings.EqualFold(t.Type, str) }
			case "status":
				f = func(t *Ticket) bool { return int64(t.Status) == n }
			case "priority":
				f = func(t *Ticket) bool { return int64(t.Priority) == n }
			case "group_id":
				f = func(t *Ticket) bool { return t.GroupID == n }
			}
			if (field == "tag" || field == "type") && num != "" || field != "tag" && field != "type" && num == "" {
				return nil, fmt.Errorf("Invalid value for %s", field)
			}
			ands = append(ands, f)
		}
		ors = append(ors, ands)
	}
	return func(t *Ticket) bool {
		for _, ands := range ors {
			ok := true
			for _, f := range ands {
				ok = ok && f(t)
			}
			if ok {
				return true
			}
		}
		return false
	}, nil
}

// render is a ticket as the API shows it; full adds what only the view
// of a single ticket has (description, attachments).
func (s *Server) render(t *Ticket, full bool) map[string]any {
	var typ, groupID any
	if t.Type != "" {
		typ = t.Type
	}
	if t.GroupID != 0 {
		groupID = t.GroupID
	}
	out := map[string]any{
		"cc_emails": []string{}, "fwd_emails": []string{}, "reply_cc_emails": []string{}, "ticket_cc_emails": []string{},
		"fr_escalated": false, "spam": false, "email_config_id": nil, "group_id": groupID,
		"priority": t.Priority, "requester_id": t.RequesterID, "responder_id": nil, "source": t.Source,
		"company_id": nil, "status": t.Status, "subject": t.Subject, "association_type": nil,
		"support_email": nil, "to_emails": nil, "product_id": nil, "id": t.ID, "type": typ,
		"due_by": stamp(t.CreatedAt.Add(72 * time.Hour)), "fr_due_by": stamp(t.CreatedAt.Add(24 * time.Hour)),
		"is_escalated": false, "custom_fields": map[string]any{},
		"created_at": stamp(t.CreatedAt), "updated_at": stamp(t.UpdatedAt),
		"tags": slices.Clone(t.Tags), "nr_due_by": nil, "nr_escalated": false,
	}
	if full {
		out["description"] = t.Description
		out["description_text"] = textOf(t.Description)
		out["attachments"] = []any{}
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

var tagRE = regexp.MustCompile(`<[^>]*>`)

// textOf is the plain text Freshdesk derives from HTML.
func textOf(h string) string {
	h = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p>", "\n", "</div>", "\n").Replace(h)
	return strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(h, "")))
}

func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
			"code": "invalid_content_type", "message": "Content-Type header should have application/json"})
		return nil, false
	}
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&raw); err != nil || len(raw) == 0 || raw[0] != '{' {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "invalid_json", "message": "Request body has invalid json format"})
		return nil, false
	}
	return raw, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// discard is where a dropped answer goes.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// BasicAuth returns the Authorization header value Freshdesk expects for
// an API key, for tests that build raw requests.
func BasicAuth(apiKey string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":X"))
}
