package jirasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const projectID = "10000"

// issue types of the project; 10000 is the one the documented create uses.
var issueTypes = map[string]string{"10000": "Task", "10001": "Bug", "10002": "Story"}

func (s *Server) base(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return strings.TrimRight(s.opts.BaseURL, "/")
	}
	return "http://" + r.Host
}

func (s *Server) status(name string) Status {
	for _, st := range s.opts.Statuses {
		if strings.EqualFold(st.Name, name) {
			return st
		}
	}
	return Status{ID: "0", Name: name, Category: "undefined"}
}

var categories = map[string]struct {
	id          int
	colour, nam string
}{
	"new": {2, "blue-gray", "To Do"}, "indeterminate": {4, "yellow", "In Progress"}, "done": {3, "green", "Done"},
	"undefined": {1, "medium-gray", "No Category"},
}

func (s *Server) renderStatus(base, name string) map[string]any {
	st := s.status(name)
	cat := categories[st.Category]
	return map[string]any{
		"self": base + "/rest/api/3/status/" + st.ID, "description": "", "iconUrl": base + "/images/icons/statuses/generic.png",
		"name": st.Name, "id": st.ID,
		"statusCategory": map[string]any{"self": base + "/rest/api/3/statuscategory/" + strconv.Itoa(cat.id),
			"id": cat.id, "key": st.Category, "colorName": cat.colour, "name": cat.nam},
	}
}

// transitionTo finds the transition open to the issue that leads to a
// status; the caller holds s.mu.
func (s *Server) transitionTo(is *Issue, to string) (Transition, bool) {
	for _, t := range s.available(is) {
		if strings.EqualFold(t.To, to) {
			return t, true
		}
	}
	return Transition{}, false
}

func (s *Server) available(is *Issue) []Transition {
	var out []Transition
	for _, t := range s.opts.Transitions {
		if len(t.From) == 0 || slices.ContainsFunc(t.From, func(f string) bool { return strings.EqualFold(f, is.Status) }) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) fieldsOf(is *Issue, base string) map[string]any {
	f := make(map[string]any, len(is.Fields)+3)
	for k, v := range is.Fields {
		f[k] = v
	}
	f["status"] = s.renderStatus(base, is.Status)
	f["created"] = is.Created.UTC().Format("2006-01-02T15:04:05.000-0700")
	if _, ok := f["labels"]; !ok {
		f["labels"] = []any{}
	}
	return f
}

// render is an issue as GET answers it, with only the fields asked for
// ("*all" or none: every field; "-x" leaves x out).
func (s *Server) render(r *http.Request, is *Issue, fields []string) map[string]any {
	base := s.base(r)
	all := s.fieldsOf(is, base)
	want := map[string]any{}
	if len(fields) == 0 || slices.Contains(fields, "*all") || slices.Contains(fields, "*navigable") {
		want = all
	}
	for _, f := range fields {
		if name, ok := strings.CutPrefix(f, "-"); ok {
			delete(want, name)
		} else if v, ok := all[f]; ok {
			want[f] = v
		}
	}
	return map[string]any{"expand": "", "id": is.ID, "key": is.Key, "self": base + "/rest/api/3/issue/" + is.ID, "fields": want}
}

func splitFields(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// lookup finds an issue by key or id; the caller holds s.mu.
func (s *Server) lookup(keyOrID string) *Issue {
	if is, ok := s.issues[strings.ToUpper(keyOrID)]; ok {
		return is
	}
	for _, is := range s.issues {
		if is.ID == keyOrID {
			return is
		}
	}
	return nil
}

func notFound(w http.ResponseWriter) {
	fail(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
}

func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		fail(w, http.StatusBadRequest, "Unexpected character or malformed request body: "+err.Error())
		return false
	}
	return true
}

type ref struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Fields     map[string]json.RawMessage `json:"fields"`
		Update     map[string]json.RawMessage `json:"update"`
		Transition *ref                       `json:"transition"`
	}
	if !readBody(w, r, &in) {
		return
	}
	errs := map[string]string{}
	var proj, typ ref
	if raw, ok := in.Fields["project"]; !ok || json.Unmarshal(raw, &proj) != nil ||
		!(proj.ID == projectID || strings.EqualFold(proj.Key, s.opts.Project)) {
		errs["project"] = "Specify a valid project ID or key"
	}
	typeName := ""
	if raw, ok := in.Fields["issuetype"]; ok && json.Unmarshal(raw, &typ) == nil {
		if n, ok := issueTypes[typ.ID]; ok {
			typeName = n
		}
		for _, n := range issueTypes {
			if strings.EqualFold(n, typ.Name) {
				typeName = n
			}
		}
	}
	if typeName == "" {
		errs["issuetype"] = "Specify an issue type"
	}
	var summary string
	if raw, ok := in.Fields["summary"]; !ok || json.Unmarshal(raw, &summary) != nil || strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	} else if len([]rune(summary)) > 255 || strings.ContainsAny(summary, "\r\n") {
		errs["summary"] = "The summary must be a single line of less than 255 characters."
	}
	var labels []string
	if raw, ok := in.Fields["labels"]; ok {
		if json.Unmarshal(raw, &labels) != nil || slices.ContainsFunc(labels, func(l string) bool { return l == "" || strings.ContainsAny(l, " \t") }) {
			errs["labels"] = "The label must not contain spaces."
		}
	}
	if len(errs) > 0 {
		failFields(w, http.StatusBadRequest, nil, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []string
	for _, f := range s.required {
		if _, ok := in.Fields[f]; !ok {
			missing = append(missing, fmt.Sprintf("Field '%s' is required", f))
		}
	}
	if len(missing) > 0 {
		fail(w, http.StatusBadRequest, missing...)
		return
	}
	s.next++
	n := len(s.order) + 1
	is := &Issue{ID: strconv.Itoa(s.next), Key: fmt.Sprintf("%s-%d", s.opts.Project, n), Status: s.opts.Statuses[0].Name,
		Fields: map[string]any{}, Created: s.clk.Now()}
	for k, raw := range in.Fields {
		var v any
		_ = json.Unmarshal(raw, &v)
		is.Fields[k] = v
	}
	is.Fields["project"] = map[string]any{"id": projectID, "key": s.opts.Project}
	is.Fields["issuetype"] = map[string]any{"id": idOf(typeName), "name": typeName}
	out := map[string]any{"id": is.ID, "key": is.Key, "self": s.base(r) + "/rest/api/3/issue/" + is.ID}
	if in.Transition != nil {
		// The create goes through; a transition that cannot run is
		// reported in the answer, as Jira does.
		tr := map[string]any{"status": 200, "errorCollection": map[string]any{"errorMessages": []string{}, "errors": map[string]string{}}}
		if t, ok := s.byID(is, in.Transition.ID); ok {
			is.Status = t.To
		} else {
			tr["status"] = 400
			tr["errorCollection"] = map[string]any{"errorMessages": []string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", in.Transition.ID)}, "errors": map[string]string{}}
		}
		out["transition"] = tr
	}
	s.issues[is.Key] = is
	s.order = append(s.order, is.Key)
	writeJSON(w, http.StatusCreated, out)
}

func idOf(typeName string) string {
	for id, n := range issueTypes {
		if n == typeName {
			return id
		}
	}
	return ""
}

func (s *Server) byID(is *Issue, id string) (Transition, bool) {
	for _, t := range s.available(is) {
		if t.ID == id {
			return t, true
		}
	}
	return Transition{}, false
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.render(r, is, splitFields(r.URL.Query().Get("fields"))))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if !readBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	for k, raw := range in.Fields {
		if k == "status" || k == "project" {
			failFields(w, http.StatusBadRequest, nil, map[string]string{k: fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", k)})
			return
		}
		var v any
		_ = json.Unmarshal(raw, &v)
		is.Fields[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTransitions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	base := s.base(r)
	out := []any{}
	for _, t := range s.available(is) {
		tr := map[string]any{"id": t.ID, "name": t.Name, "to": s.renderStatus(base, t.To),
			"hasScreen": false, "isGlobal": len(t.From) == 0, "isInitial": false, "isAvailable": true, "isConditional": false}
		if strings.Contains(r.URL.Query().Get("expand"), "transitions.fields") {
			tr["fields"] = map[string]any{}
		}
		out = append(out, tr)
	}
	writeJSON(w, http.StatusOK, map[string]any{"transitions": out})
}

func (s *Server) doTransition(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Transition *ref `json:"transition"`
		Update     struct {
			Comment []struct {
				Add struct {
					Body json.RawMessage `json:"body"`
				} `json:"add"`
			} `json:"comment"`
		} `json:"update"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if !readBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	if in.Transition == nil || in.Transition.ID == "" {
		fail(w, http.StatusBadRequest, "Missing 'transition' identifier")
		return
	}
	t, ok := s.byID(is, in.Transition.ID)
	if !ok {
		fail(w, http.StatusBadRequest, fmt.Sprintf("Transition id '%s' is not valid for this issue.", in.Transition.ID))
		return
	}
	for _, c := range in.Update.Comment {
		if e := s.comment(is, c.Add.Body, s.opts.Email); e != "" {
			failFields(w, http.StatusBadRequest, nil, map[string]string{"comment": e})
			return
		}
	}
	from := is.Status
	is.Status = t.To
	defer s.apiMoved(is, from) // after the fields, so the webhook shows them
	for k, raw := range in.Fields {
		var v any
		_ = json.Unmarshal(raw, &v)
		is.Fields[k] = v
	}
	w.WriteHeader(http.StatusNoContent)
}

// comment adds an ADF comment, or says why it is not one; the caller
// holds s.mu.
func (s *Server) comment(is *Issue, body json.RawMessage, by string) string {
	var doc struct {
		Type    string `json:"type"`
		Version int    `json:"version"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Type != "doc" || doc.Version != 1 {
		return "Comment body is not valid!" // what Jira says to a v2 string body on v3
	}
	s.comments++
	is.Comments = append(is.Comments, Comment{ID: strconv.Itoa(10000 + s.comments), Author: by, Body: slices.Clone(body), Created: s.clk.Now()})
	return ""
}

func (s *Server) renderComment(base string, is *Issue, c Comment) map[string]any {
	ts := c.Created.UTC().Format("2006-01-02T15:04:05.000-0700")
	return map[string]any{"self": base + "/rest/api/3/issue/" + is.ID + "/comment/" + c.ID, "id": c.ID,
		"author": map[string]any{"accountId": "5b10a2844c20165700ede21g", "displayName": c.Author, "active": true},
		"body":   json.RawMessage(c.Body), "created": ts, "updated": ts, "jsdPublic": true}
}

func (s *Server) addComment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body json.RawMessage `json:"body"`
	}
	if !readBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	if e := s.comment(is, in.Body, s.opts.Email); e != "" {
		failFields(w, http.StatusBadRequest, nil, map[string]string{"comment": e})
		return
	}
	writeJSON(w, http.StatusCreated, s.renderComment(s.base(r), is, is.Comments[len(is.Comments)-1]))
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("startAt"))
	limit, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 100 // Jira caps a page too
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("key"))
	if is == nil {
		notFound(w)
		return
	}
	cs := slices.Clone(is.Comments)
	if q.Get("orderBy") == "-created" {
		slices.Reverse(cs)
	}
	out := []any{}
	for i := max(start, 0); i < len(cs) && len(out) < limit; i++ {
		out = append(out, s.renderComment(s.base(r), is, cs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": limit, "total": len(cs), "comments": out})
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	jql, fields, limit, token := q.Get("jql"), splitFields(q.Get("fields")), q.Get("maxResults"), q.Get("nextPageToken")
	if r.Method == http.MethodPost {
		var in struct {
			JQL           string   `json:"jql"`
			Fields        []string `json:"fields"`
			MaxResults    int      `json:"maxResults"`
			NextPageToken string   `json:"nextPageToken"`
		}
		if !readBody(w, r, &in) {
			return
		}
		jql, fields, limit, token = in.JQL, in.Fields, strconv.Itoa(in.MaxResults), in.NextPageToken
	}
	match, desc, byKey, err := parseJQL(jql)
	if err != "" {
		fail(w, http.StatusBadRequest, err)
		return
	}
	n, _ := strconv.Atoi(limit)
	if n <= 0 || n > 5000 {
		n = 50
	}
	start, _ := strconv.Atoi(token)
	if len(fields) == 0 {
		fields = []string{"id"} // the enhanced search returns ids only by default
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*Issue
	for _, k := range s.order {
		if is := s.issues[k]; match(is, s.opts.Project) {
			hits = append(hits, is)
		}
	}
	_ = byKey // creation order and key order agree here
	if desc {
		slices.Reverse(hits)
	}
	out := []any{}
	for i := max(start, 0); i < len(hits) && len(out) < n; i++ {
		out = append(out, s.render(r, hits[i], fields))
	}
	res := map[string]any{"issues": out, "isLast": start+len(out) >= len(hits)}
	if next := start + len(out); next < len(hits) {
		res["nextPageToken"] = strconv.Itoa(next)
	}
	writeJSON(w, http.StatusOK, res)
}
