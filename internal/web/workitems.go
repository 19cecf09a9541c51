package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func (s *Server) listWorkItems(w http.ResponseWriter, r *http.Request) {
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := workitem.Filter{Type: workitem.Type(q.Get("type")), Severity: alert.Severity(q.Get("severity")),
		Source: q.Get("source"), Assignee: q.Get("assignee"), Tag: q.Get("tag"), Text: q.Get("q"), After: after, Limit: limit}
	for _, st := range q["state"] {
		for _, part := range strings.Split(st, ",") {
			if part = strings.TrimSpace(part); part != "" {
				f.States = append(f.States, part)
			}
		}
	}
	if f.Severity != "" && !f.Severity.Valid() {
		s.fail(w, r, validation.NewFieldError("severity", "unknown severity %q", f.Severity))
		return
	}
	switch f.Type {
	case "", workitem.TypeIssue, workitem.TypeProblem, workitem.TypeTask:
	default:
		s.fail(w, r, validation.NewFieldError("type", "unknown type %q (want Issue, Problem or Task)", f.Type))
		return
	}
	items, err := s.items.List(r.Context(), auth.FromContext(r.Context()), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(items, limit, func(it workitem.Item) int64 { return it.ID }))
}

// writeItem answers with the item and its revision as an ETag, which a
// client sends back in If-Match to avoid overwriting a concurrent change.
func writeItem(w http.ResponseWriter, code int, it workitem.Item) {
	w.Header().Set("ETag", `"`+strconv.Itoa(it.Rev)+`"`)
	writeJSON(w, code, it)
}

func (s *Server) getWorkItem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	it, err := s.items.Get(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItem(w, http.StatusOK, it)
}

// ifMatch reads the revision from If-Match ("3" or 3); 0 means absent.
func ifMatch(r *http.Request) (int, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	rev, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(v, "W/"), `"`))
	if err != nil || rev < 1 {
		return 0, validation.NewFieldError("If-Match", "must be an ETag returned by this API")
	}
	return rev, nil
}

type patchIn struct {
	Title    *string         `json:"title"`
	Severity *alert.Severity `json:"severity"`
	Assignee *string         `json:"assignee"`
	Tags     *[]string       `json:"tags"`
	// DueDate is "YYYY-MM-DD" (midnight UTC) or an RFC 3339 time; ""
	// clears it.
	DueDate *string `json:"due_date"`
	// State is accepted only to explain that transitions have their own
	// endpoint, which enforces the process and asks for a reason.
	State *string `json:"state"`
}

func (s *Server) patchWorkItem(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rev, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in patchIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.State != nil {
		s.fail(w, r, validation.NewFieldError("state", "change state with POST /api/v1/workitems/%d/transitions", id))
		return
	}
	due, err := ParseDueDate(in.DueDate)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	it, err := s.items.Update(r.Context(), auth.FromContext(r.Context()), id,
		workitem.Patch{Title: in.Title, Severity: in.Severity, Assignee: in.Assignee, Tags: in.Tags, DueAt: due}, rev)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItem(w, http.StatusOK, it)
}

func (s *Server) transition(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rev, err := ifMatch(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(in.To) == "" {
		s.fail(w, r, validation.NewFieldError("to", "is required"))
		return
	}
	it, err := s.items.Transition(r.Context(), auth.FromContext(r.Context()), id, in.To, in.Reason, rev)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItem(w, http.StatusOK, it)
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	entries, err := s.items.Timeline(r.Context(), auth.FromContext(r.Context()), id, after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Oldest first, so the cursor moves forward in time.
	p := listPage[workitem.Entry]{Items: entries}
	if len(entries) == limit {
		p.NextCursor = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, p)
}

// itemList answers GET /api/v1/workitems/{id}/<children> with list.
func itemList[T any](s *Server, w http.ResponseWriter, r *http.Request,
	list func(context.Context, auth.Actor, int64) ([]T, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := list(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// itemCreate answers POST /api/v1/workitems/{id}/<children>: it decodes
// the body strictly into In and answers 201 with what create made.
func itemCreate[In, Out any](s *Server, w http.ResponseWriter, r *http.Request,
	create func(context.Context, auth.Actor, int64, In) (Out, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in In
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := create(r.Context(), auth.FromContext(r.Context()), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

type commentIn struct {
	Body string `json:"body"`
}

type taskIn struct {
	Title string `json:"title"`
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	itemList(s, w, r, s.items.Comments)
}

func (s *Server) addComment(w http.ResponseWriter, r *http.Request) {
	itemCreate(s, w, r, func(ctx context.Context, a auth.Actor, id int64, in commentIn) (workitem.Comment, error) {
		return s.items.Comment(ctx, a, id, in.Body)
	})
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	itemList(s, w, r, s.items.Tasks)
}

func (s *Server) addTask(w http.ResponseWriter, r *http.Request) {
	itemCreate(s, w, r, func(ctx context.Context, a auth.Actor, id int64, in taskIn) (workitem.Task, error) {
		return s.items.AddTask(ctx, a, id, in.Title)
	})
}

func (s *Server) patchTask(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	taskID, err := pathID(r, "task")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		Title *string `json:"title"`
		Done  *bool   `json:"done"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.items.UpdateTask(r.Context(), auth.FromContext(r.Context()), id, taskID, in.Title, in.Done)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// processView is the process as the API shows it: states in board order
// with their allowed next states.
type processView struct {
	States      []stateView              `json:"states"`
	Transitions []workitem.Transition    `json:"transitions"`
	Types       map[string]workitem.Type `json:"types"`
}

type stateView struct {
	workitem.State
	Next []string `json:"next"`
}

func (s *Server) process(w http.ResponseWriter, r *http.Request) {
	p := s.items.Process()
	v := processView{Transitions: p.Transitions, Types: p.Types}
	for _, st := range p.States {
		next := p.Next(st.Name)
		if next == nil {
			next = []string{}
		}
		v.States = append(v.States, stateView{State: st, Next: next})
	}
	writeJSON(w, http.StatusOK, v)
}
