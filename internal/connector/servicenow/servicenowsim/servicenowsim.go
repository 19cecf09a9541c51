// Package servicenowsim is an in-memory ServiceNow instance for tests and
// demos. It speaks the Table API contract for the incident table: Basic
// auth, create (POST), read (GET one, GET a list with sysparm_query),
// update (PATCH/PUT), the sysparm_fields, sysparm_limit/offset,
// sysparm_display_value and sysparm_exclude_reference_link parameters,
// reference fields as {link, value}, journal fields (work_notes,
// comments), the incident business rules vigil depends on (state and
// incident_state in step, priority from impact × urgency, resolve and
// close stamps, closed incidents read-only) and the data policy that a
// Resolved or Closed incident has a resolution code and notes. Errors have
// ServiceNow's {"error": {...}, "status": "failure"} shape; the inbound
// rate limit answers 429 with Retry-After. Tests can inject faults, lose
// answers, add mandatory fields and act as a ServiceNow user.
//
// As on a real instance, a sysparm_query condition on a field the table
// does not have is dropped rather than rejected, and fields a write names
// that the table does not have are ignored.
package servicenowsim

import (
	"crypto/rand"
	"encoding/base64"
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

// Options configure a Server.
type Options struct {
	// User and Password are the only credentials accepted; empty means
	// "vigil" and "secret".
	User, Password string
	// RateLimit is how many requests the user may make per RateWindow;
	// 0 means no rate-limit rule. ServiceNow counts per hour.
	RateLimit  int
	RateWindow time.Duration // defaults to an hour
	// BaseURL is used in reference links; empty means the request's host.
	BaseURL string
	// Clock defaults to the wall clock.
	Clock clock.Clock
}

// JournalEntry is one work note or additional comment.
type JournalEntry struct {
	Field     string // "work_notes" or "comments"
	Value     string
	By        string
	CreatedAt time.Time
}

// Fault is a misbehaviour injected for matching requests.
type Fault struct {
	Method string // "" matches any
	Path   string // a prefix of the URL path; "" matches any
	// Status answers with this status (429, 500, 503, …) without handling
	// the request; 429 has the rate-limit body and headers.
	Status     int
	RetryAfter time.Duration
	// DropAnswer handles the request, then closes the connection without
	// answering.
	DropAnswer bool
}

type fault struct {
	Fault
	times int
}

// Server is the emulator; it is an http.Handler.
type Server struct {
	opts      Options
	clk       clock.Clock
	mux       *http.ServeMux
	userSysID string

	mu        sync.Mutex
	records   map[string]map[string]string // sys_id → field → value
	order     []string
	journals  map[string][]JournalEntry
	mandatory []string
	number    int
	faults    []*fault
	winStart  time.Time
	winCount  int
	hits      map[string]int
}

// New returns an instance with an empty incident table.
func New(opts Options) *Server {
	if opts.User == "" {
		opts.User = "vigil"
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = time.Hour
	}
	s := &Server{opts: opts, clk: opts.Clock, mux: http.NewServeMux(), userSysID: "6816f79cc0a8016401c5a33be04be441",
		records: map[string]map[string]string{}, journals: map[string][]JournalEntry{}, number: 10000, hits: map[string]int{}}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	for _, prefix := range []string{"/api/now/table/", "/api/now/v1/table/", "/api/now/v2/table/"} {
		s.mux.HandleFunc("POST "+prefix+"{table}", s.create)
		s.mux.HandleFunc("GET "+prefix+"{table}", s.list)
		s.mux.HandleFunc("GET "+prefix+"{table}/{sys_id}", s.get)
		s.mux.HandleFunc("PATCH "+prefix+"{table}/{sys_id}", s.update)
		s.mux.HandleFunc("PUT "+prefix+"{table}/{sys_id}", s.update)
	}
	return s
}

// BasicAuth returns the Authorization header value for tests that build
// raw requests.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// ServeHTTP answers as an instance would: injected faults first, then
// authentication, then the per-user rate limit, then the Table API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	f := s.take(r, pattern)
	if f != nil && !f.DropAnswer {
		s.writeFault(w, f)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.opts.User || p != s.opts.Password {
		w.Header().Set("WWW-Authenticate", `BASIC realm="Service-now"`)
		fail(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return
	}
	if !s.admit(w) {
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
// e.g. "POST /api/now/table/{table}".
func (s *Server) Hits(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[pattern]
}

// RequireFields adds a data policy making fields mandatory on every
// insert and update, as many instances do for assignment_group.
func (s *Server) RequireFields(fields ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mandatory = append(s.mandatory, fields...)
}

// Incidents returns a copy of every incident's raw values, oldest first.
func (s *Server) Incidents() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]string, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, cloneMap(s.records[id]))
	}
	return out
}

// Incident returns a copy of one incident's raw values.
func (s *Server) Incident(sysID string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[sysID]
	return cloneMap(rec), ok
}

// Journal returns an incident's work notes and comments, oldest first.
func (s *Server) Journal(sysID string) []JournalEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journals[sysID])
}

// UserUpdate acts as a ServiceNow user (an ITIL agent in the UI) changing
// an incident. The business rules, the data policy and the read-only rule
// for closed incidents apply; auth, faults and the rate limit do not.
func (s *Server) UserUpdate(sysID string, fields map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[sysID]
	if !ok {
		return fmt.Errorf("no incident %s", sysID)
	}
	if e := s.write(rec, fields, "itil.agent", false); e != nil {
		return fmt.Errorf("%s: %s", e.message, e.detail)
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Status == http.StatusTooManyRequests {
		limit := max(s.opts.RateLimit, 1)
		fail(w, f.Status, "Rate limit exceeded", fmt.Sprintf("Rate limit of %d requests per %s for Table API exceeded", limit, per(s.opts.RateWindow)))
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(f.Status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
}

func per(d time.Duration) string {
	switch d {
	case time.Hour:
		return "hour"
	case time.Minute:
		return "minute"
	}
	return d.String()
}

// admit applies the rate-limit rule: a count per window, reported in the
// X-RateLimit-* headers of every answer.
func (s *Server) admit(w http.ResponseWriter) bool {
	if s.opts.RateLimit <= 0 {
		return true
	}
	s.mu.Lock()
	now := s.clk.Now()
	if now.Sub(s.winStart) >= s.opts.RateWindow {
		s.winStart, s.winCount = now.Truncate(s.opts.RateWindow), 0
	}
	reset := s.winStart.Add(s.opts.RateWindow)
	over := s.winCount >= s.opts.RateLimit
	if !over {
		s.winCount++
	}
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Rule", "d2e5ae2bc0a8000e0098b6c43c7ba9d5")
	if over {
		wait := reset.Sub(now)
		h.Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
		fail(w, http.StatusTooManyRequests, "Rate limit exceeded",
			fmt.Sprintf("Rate limit of %d requests per %s for Table API exceeded", s.opts.RateLimit, per(s.opts.RateWindow)))
	}
	return !over
}

type apiError struct {
	status          int
	message, detail string
}

func fail(w http.ResponseWriter, status int, message, detail string) {
	var d any
	if detail != "" {
		d = detail
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "detail": d}, "status": "failure"})
}

func (e *apiError) write(w http.ResponseWriter) { fail(w, e.status, e.message, e.detail) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fields of the incident table, with "" as their value on a new record
// unless defaults says otherwise.
var fields = []string{
	"active", "activity_due", "additional_assignee_list", "approval", "approval_history", "approval_set",
	"assigned_to", "assignment_group", "business_duration", "business_service", "business_stc",
	"calendar_duration", "calendar_stc", "caller_id", "category", "caused_by", "child_incidents", "close_code",
	"close_notes", "closed_at", "closed_by", "cmdb_ci", "comments", "comments_and_work_notes", "company",
	"contact_type", "correlation_display", "correlation_id", "delivery_plan", "delivery_task", "description",
	"due_date", "escalation", "expected_start", "follow_up", "group_list", "impact", "incident_state",
	"knowledge", "location", "made_sla", "notify", "number", "opened_at", "opened_by", "order", "parent",
	"parent_incident", "priority", "problem_id", "reassignment_count", "rejection_goto", "reopen_count",
	"resolved_at", "resolved_by", "rfc", "severity", "short_description", "sla_due", "state", "subcategory",
	"sys_class_name", "sys_created_by", "sys_created_on", "sys_domain", "sys_domain_path", "sys_id",
	"sys_mod_count", "sys_tags", "sys_updated_by", "sys_updated_on", "time_worked", "upon_approval",
	"upon_reject", "urgency", "user_input", "watch_list", "wf_activity", "work_end", "work_notes",
	"work_notes_list", "work_start",
}

var defaults = map[string]string{
	"active": "true", "approval": "not requested", "category": "inquiry", "child_incidents": "0",
	"contact_type": "phone", "escalation": "0", "impact": "3", "incident_state": "1", "knowledge": "false",
	"made_sla": "true", "notify": "1", "reassignment_count": "0", "reopen_count": "0", "severity": "3",
	"state": "1", "sys_class_name": "incident", "sys_domain": "global", "sys_domain_path": "/",
	"sys_mod_count": "0", "upon_approval": "proceed", "upon_reject": "cancel", "urgency": "3", "priority": "5",
}

// references are the reference fields and the tables they point into.
var references = map[string]string{
	"assigned_to": "sys_user", "assignment_group": "sys_user_group", "business_service": "cmdb_ci_service",
	"caller_id": "sys_user", "caused_by": "change_request", "closed_by": "sys_user", "cmdb_ci": "cmdb_ci",
	"company": "core_company", "location": "cmn_location", "opened_by": "sys_user", "parent": "task",
	"parent_incident": "incident", "problem_id": "problem", "resolved_by": "sys_user", "rfc": "change_request",
	"sys_domain": "sys_user_group",
}

// journals are written as entries, never stored in the field.
var journalFields = map[string]string{"work_notes": "Work notes", "comments": "Additional comments"}

// labels name fields in data policy messages, as the form does.
var labels = map[string]string{
	"close_code": "Resolution code", "close_notes": "Resolution notes", "assignment_group": "Assignment group",
	"assigned_to": "Assigned to", "caller_id": "Caller", "short_description": "Short description",
	"category": "Category", "description": "Description", "cmdb_ci": "Configuration item",
}

// readOnly are set by the system; writes to them are ignored.
var readOnly = map[string]bool{
	"sys_id": true, "number": true, "sys_created_on": true, "sys_created_by": true, "sys_updated_on": true,
	"sys_updated_by": true, "sys_mod_count": true, "sys_class_name": true, "opened_by": true, "priority": true,
	"resolved_at": true, "resolved_by": true, "closed_at": true, "closed_by": true, "reopen_count": true,
	"comments_and_work_notes": true, "active": true,
}

var choices = map[string]map[string]string{
	"state":    {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"},
	"impact":   {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
	"urgency":  {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
	"priority": {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"},
	"severity": {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"},
}

func init() { choices["incident_state"] = choices["state"] }

// Priority is the base instance's priority lookup: impact × urgency.
func Priority(impact, urgency string) string {
	i, _ := strconv.Atoi(impact)
	u, _ := strconv.Atoi(urgency)
	if i < 1 || i > 3 || u < 1 || u > 3 {
		return "5"
	}
	return strconv.Itoa([3][3]int{{1, 2, 3}, {2, 3, 4}, {3, 4, 5}}[i-1][u-1])
}

func (s *Server) stamp() string { return s.clk.Now().UTC().Format("2006-01-02 15:04:05") }

func newSysID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func checkTable(w http.ResponseWriter, r *http.Request) bool {
	if t := r.PathValue("table"); t != "incident" {
		fail(w, http.StatusBadRequest, "Invalid table "+t, "")
		return false
	}
	return true
}

// readBody reads a JSON object body into field values; numbers and
// booleans become their text, as the platform stores them.
func readBody(r *http.Request) (map[string]string, *apiError) {
	var in map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&in); err != nil || in == nil {
		return nil, &apiError{http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON."}
	}
	out := map[string]string{}
	for k, v := range in {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
			out[k] = ""
		}
	}
	return out, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if !checkTable(w, r) {
		return
	}
	in, e := readBody(r)
	if e != nil {
		e.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.stamp()
	rec := map[string]string{}
	for _, f := range fields {
		rec[f] = defaults[f]
	}
	s.number++
	rec["sys_id"], rec["number"] = newSysID(), fmt.Sprintf("INC%07d", s.number)
	rec["opened_at"], rec["sys_created_on"], rec["sys_updated_on"] = now, now, now
	rec["opened_by"], rec["sys_created_by"], rec["sys_updated_by"] = s.userSysID, s.opts.User, s.opts.User
	rec["sys_mod_count"] = "-1" // the insert below counts as the first write
	if e := s.write(rec, in, s.opts.User, true); e != nil {
		e.write(w)
		return
	}
	s.records[rec["sys_id"]] = rec
	s.order = append(s.order, rec["sys_id"])
	writeJSON(w, http.StatusCreated, map[string]any{"result": s.render(r, rec)})
}

// write applies a change to rec with the business rules and the data
// policy; rec is left untouched when it fails. The caller holds s.mu.
func (s *Server) write(rec, in map[string]string, by string, insert bool) *apiError {
	if st := rec["state"]; !insert && (st == StateClosed || st == StateCanceled) {
		return &apiError{http.StatusForbidden, "Operation Failed", "ACL Exception Update Failed due to security constraints"}
	}
	next := cloneMap(rec)
	var notes []JournalEntry
	for k, v := range in {
		if _, ok := journalFields[k]; ok {
			if strings.TrimSpace(v) != "" {
				notes = append(notes, JournalEntry{Field: k, Value: v, By: by})
			}
			continue
		}
		if _, known := next[k]; !known || readOnly[k] {
			continue
		}
		next[k] = v
	}
	// state and incident_state are kept in step, whichever was written.
	if v, ok := in["state"]; ok {
		next["incident_state"] = v
	} else if v, ok := in["incident_state"]; ok {
		next["state"] = v
	}
	next["priority"] = Priority(next["impact"], next["urgency"])
	var missing []string
	if st := next["state"]; st == StateResolved || st == StateClosed {
		for _, f := range []string{"close_code", "close_notes"} {
			if strings.TrimSpace(next[f]) == "" {
				missing = append(missing, f)
			}
		}
	}
	for _, f := range s.mandatory {
		if strings.TrimSpace(next[f]) == "" && !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, f := range missing {
			names[i] = f
			if l, ok := labels[f]; ok {
				names[i] = l
			}
		}
		return &apiError{http.StatusForbidden, "Operation Failed",
			"Data Policy Exception: \n\tThe following fields are mandatory: " + strings.Join(names, ", ") + "\n"}
	}
	now := s.stamp()
	was, st := rec["state"], next["state"]
	if st != was || insert {
		switch st {
		case StateResolved:
			next["resolved_at"], next["resolved_by"] = now, s.sysIDOf(by)
		case StateClosed:
			next["closed_at"], next["closed_by"] = now, s.sysIDOf(by)
			if next["resolved_at"] == "" {
				next["resolved_at"], next["resolved_by"] = now, s.sysIDOf(by)
			}
		}
		if !insert && was == StateResolved && (st == StateNew || st == StateInProgress || st == StateOnHold) {
			n, _ := strconv.Atoi(next["reopen_count"])
			next["reopen_count"] = strconv.Itoa(n + 1)
			next["resolved_at"], next["resolved_by"], next["close_code"], next["close_notes"] = "", "", "", ""
		}
	}
	next["active"] = strconv.FormatBool(st != StateClosed && st != StateCanceled)
	n, _ := strconv.Atoi(next["sys_mod_count"])
	next["sys_mod_count"] = strconv.Itoa(n + 1)
	next["sys_updated_on"], next["sys_updated_by"] = now, by
	clear(rec)
	for k, v := range next {
		rec[k] = v
	}
	for i := range notes {
		notes[i].CreatedAt = s.clk.Now()
	}
	s.journals[rec["sys_id"]] = append(s.journals[rec["sys_id"]], notes...)
	return nil
}

func (s *Server) sysIDOf(user string) string {
	if user == s.opts.User {
		return s.userSysID
	}
	return user
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if !checkTable(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[r.PathValue("sys_id")]
	if !ok {
		fail(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.render(r, rec)})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	if !checkTable(w, r) {
		return
	}
	in, e := readBody(r)
	if e != nil {
		e.write(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[r.PathValue("sys_id")]
	if !ok {
		fail(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	if e := s.write(rec, in, s.opts.User, false); e != nil {
		e.write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": s.render(r, rec)})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if !checkTable(w, r) {
		return
	}
	q := r.URL.Query()
	limit, offset := 10000, 0
	if v := q.Get("sysparm_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(w, http.StatusBadRequest, "Invalid sysparm_limit", "sysparm_limit must be a positive integer")
			return
		}
		limit = n
	}
	if v := q.Get("sysparm_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(w, http.StatusBadRequest, "Invalid sysparm_offset", "sysparm_offset must be a non-negative integer")
			return
		}
		offset = n
	}
	match, order := parseQuery(q.Get("sysparm_query"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []map[string]string
	for _, id := range s.order {
		if rec := s.records[id]; match(rec) {
			hits = append(hits, rec)
		}
	}
	if order != nil {
		slices.SortStableFunc(hits, order)
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(hits)))
	out := []map[string]any{}
	for i := offset; i < len(hits) && i < offset+limit; i++ {
		out = append(out, s.render(r, hits[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// parseQuery reads an encoded query: conditions joined by ^ (and) and
// ^OR (or, with the condition before), ORDERBY/ORDERBYDESC. Conditions on
// fields the table does not have are dropped, as the platform does.
func parseQuery(q string) (match func(map[string]string) bool, order func(a, b map[string]string) int) {
	var groups [][]func(map[string]string) bool // and of ors
	for _, part := range strings.Split(q, "^") {
		if part == "" {
			continue
		}
		if f, ok := strings.CutPrefix(part, "ORDERBYDESC"); ok {
			order = func(a, b map[string]string) int { return -strings.Compare(a[f], b[f]) }
			continue
		}
		if f, ok := strings.CutPrefix(part, "ORDERBY"); ok {
			order = func(a, b map[string]string) int { return strings.Compare(a[f], b[f]) }
			continue
		}
		or := false
		if rest, ok := strings.CutPrefix(part, "OR"); ok && len(groups) > 0 {
			part, or = rest, true
		}
		cond := condition(part)
		if cond == nil {
			continue
		}
		if or {
			groups[len(groups)-1] = append(groups[len(groups)-1], cond)
		} else {
			groups = append(groups, []func(map[string]string) bool{cond})
		}
	}
	return func(rec map[string]string) bool {
		for _, ors := range groups {
			if !slices.ContainsFunc(ors, func(c func(map[string]string) bool) bool { return c(rec) }) {
				return false
			}
		}
		return true
	}, order
}

func condition(c string) func(map[string]string) bool {
	i := strings.IndexFunc(c, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') })
	field, rest := c, ""
	if i >= 0 {
		field, rest = c[:i], c[i:]
	}
	if !slices.Contains(fields, field) {
		return nil
	}
	get := func(rec map[string]string) string { return rec[field] }
	ops := []struct {
		op string
		f  func(v, x string) bool
	}{
		{"ISNOTEMPTY", func(v, _ string) bool { return v != "" }},
		{"ISEMPTY", func(v, _ string) bool { return v == "" }},
		{"!=", func(v, x string) bool { return v != x }},
		{"STARTSWITH", strings.HasPrefix},
		{"ENDSWITH", strings.HasSuffix},
		{"NOT LIKE", func(v, x string) bool { return !strings.Contains(strings.ToLower(v), strings.ToLower(x)) }},
		{"LIKE", func(v, x string) bool { return strings.Contains(strings.ToLower(v), strings.ToLower(x)) }},
		{"IN", func(v, x string) bool { return slices.Contains(strings.Split(x, ","), v) }},
		{"=", func(v, x string) bool { return v == x }},
	}
	for _, o := range ops {
		if x, ok := strings.CutPrefix(rest, o.op); ok {
			return func(rec map[string]string) bool { return o.f(get(rec), x) }
		}
	}
	return nil
}

// render is a record as the Table API answers it, shaped by
// sysparm_fields, sysparm_display_value and
// sysparm_exclude_reference_link.
func (s *Server) render(r *http.Request, rec map[string]string) map[string]any {
	q := r.URL.Query()
	display := strings.ToLower(q.Get("sysparm_display_value"))
	noLinks := q.Get("sysparm_exclude_reference_link") == "true"
	want := fields
	if f := q.Get("sysparm_fields"); f != "" {
		want = nil
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); slices.Contains(fields, name) {
				want = append(want, name)
			}
		}
	}
	base := s.opts.BaseURL
	if base == "" {
		base = "http://" + r.Host
	}
	out := make(map[string]any, len(want))
	for _, f := range want {
		v := rec[f]
		dv := s.displayValue(rec, f)
		link := ""
		if table, ok := references[f]; ok && v != "" && !noLinks {
			link = base + "/api/now/table/" + table + "/" + v
		}
		switch {
		case display == "all":
			m := map[string]any{"display_value": dv, "value": v}
			if link != "" {
				m["link"] = link
			}
			out[f] = m
		case display == "true" && link != "":
			out[f] = map[string]any{"display_value": dv, "link": link}
		case display == "true":
			out[f] = dv
		case link != "":
			out[f] = map[string]any{"link": link, "value": v}
		default:
			out[f] = v
		}
	}
	return out
}

// displayValue is what the form shows: choice labels, user names and,
// for a journal field, its entries newest first.
func (s *Server) displayValue(rec map[string]string, f string) string {
	v := rec[f]
	if label, ok := journalFields[f]; ok {
		var b strings.Builder
		entries := s.journals[rec["sys_id"]]
		for i := len(entries) - 1; i >= 0; i-- {
			if e := entries[i]; e.Field == f {
				fmt.Fprintf(&b, "%s - %s (%s)\n%s\n\n", e.CreatedAt.UTC().Format("2006-01-02 15:04:05"), e.By, label, e.Value)
			}
		}
		return b.String()
	}
	if c, ok := choices[f]; ok {
		if l, ok := c[v]; ok {
			return l
		}
	}
	if v == s.userSysID {
		return s.opts.User
	}
	return v
}

// discard is where a dropped answer goes.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
