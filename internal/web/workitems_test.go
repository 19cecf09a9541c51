package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// seedItems ingests the alerts one request each, so that their ids follow
// the argument order (within one request the store writes in dedup-key
// order), and returns the work item ids by title.
func seedItems(t *testing.T, e *env, alerts ...map[string]any) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	for _, a := range alerts {
		ids[a["title"].(string)] = e.ingest(t, a).Results[0].WorkItemID
	}
	return ids
}

func (e *env) move(t *testing.T, id int64, to, reason string) resp {
	t.Helper()
	body := map[string]any{"to": to}
	if reason != "" {
		body["reason"] = reason
	}
	return e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), body)
}

func (e *env) patch(t *testing.T, id int64, body any, hdr ...string) resp {
	t.Helper()
	return e.do(t, responder, "PATCH", fmt.Sprintf("/api/v1/workitems/%d", id), body, hdr...)
}

func TestListWorkItems(t *testing.T) {
	e := newEnv(t)
	ids := seedItems(t, e,
		alertBody("Phishing mail to finance", map[string]any{"source": "o365", "severity": "high"}),
		alertBody("Malware on laptop-7", map[string]any{"source": "defender", "severity": "critical"}),
		alertBody("Impossible travel", map[string]any{"source": "entra", "severity": "medium"}),
		alertBody("Port scan from 203.0.113.9", map[string]any{"source": "suricata", "severity": "low"}),
		alertBody("Crypto miner on web-3", map[string]any{"source": "defender", "severity": "high"}),
	)
	phish, malware, travel, scan, miner := ids["Phishing mail to finance"], ids["Malware on laptop-7"],
		ids["Impossible travel"], ids["Port scan from 203.0.113.9"], ids["Crypto miner on web-3"]
	e.move(t, phish, "Approved", "").wantCode(t, http.StatusOK)
	e.move(t, travel, "Approved", "").wantCode(t, http.StatusOK)
	e.move(t, travel, "Active", "").wantCode(t, http.StatusOK)
	e.patch(t, malware, map[string]any{"assignee": "alice"}).wantCode(t, http.StatusOK)
	e.patch(t, scan, map[string]any{"tags": []string{"recon"}}).wantCode(t, http.StatusOK)
	e.patch(t, phish, map[string]any{"tags": []string{"phishing", "finance"}}).wantCode(t, http.StatusOK)

	tests := []struct {
		query string
		want  []int64 // newest first
	}{
		{"", []int64{miner, scan, travel, malware, phish}},
		{"?state=New", []int64{miner, scan, malware}},
		{"?state=Approved", []int64{phish}},
		{"?state=New,Approved", []int64{miner, scan, malware, phish}},
		{"?state=New&state=Active", []int64{miner, scan, travel, malware}},
		{"?state=New,%20Active", []int64{miner, scan, travel, malware}},
		{"?type=Problem", []int64{miner, malware}},
		{"?type=Issue", []int64{scan, travel, phish}},
		{"?severity=high", []int64{miner, phish}},
		{"?source=defender", []int64{miner, malware}},
		{"?assignee=alice", []int64{malware}},
		{"?tag=phishing", []int64{phish}},
		{"?tag=recon&state=New", []int64{scan}},
		{"?q=MALWARE", []int64{malware}},
		{"?state=Approved&severity=critical", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var p struct {
				Items []item `json:"items"`
			}
			e.do(t, viewer, "GET", "/api/v1/workitems"+tt.query, nil).wantCode(t, http.StatusOK).decode(t, &p)
			var got []int64
			for _, it := range p.Items {
				got = append(got, it.ID)
				if it.Tags == nil {
					t.Errorf("item %d: tags is absent or null, want an array", it.ID)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GET /api/v1/workitems%s: got ids %v, want %v", tt.query, got, tt.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		var got []int64
		var pages []int
		cursor := ""
		for range 10 {
			var p struct {
				Items      []item `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			path := "/api/v1/workitems?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			e.do(t, viewer, "GET", path, nil).wantCode(t, http.StatusOK).decode(t, &p)
			pages = append(pages, len(p.Items))
			for _, it := range p.Items {
				got = append(got, it.ID)
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if want := []int64{miner, scan, travel, malware, phish}; !slices.Equal(got, want) {
			t.Errorf("paged ids: got %v, want %v", got, want)
		}
		if !slices.Equal(pages, []int{2, 2, 1}) {
			t.Errorf("page sizes: got %v, want [2 2 1]", pages)
		}
	})

	bad := []struct{ query, field string }{
		{"?state=Bogus", "state[0]"},
		{"?state=New,Bogus", "state[1]"},
		{"?type=Bug", "type"},
		{"?severity=urgent", "severity"},
		{"?limit=x", "limit"},
		{"?cursor=0", "cursor"},
	}
	for _, b := range bad {
		r := e.do(t, viewer, "GET", "/api/v1/workitems"+b.query, nil).wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != b.field {
			t.Errorf("%s: got error.field %q, want %q", r, got, b.field)
		}
	}
}

func TestGetWorkItem(t *testing.T) {
	e := newEnv(t)
	a := e.ingest(t, alertBody("Suspicious login", map[string]any{"source": "entra", "severity": "medium"})).Results[0]
	r := e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d", a.WorkItemID), nil).wantCode(t, http.StatusOK)
	var it item
	r.decode(t, &it)
	want := item{ID: a.WorkItemID, Type: "Issue", Title: "Suspicious login", State: "New", Severity: "medium",
		Tags: []string{}, Source: "entra", Rev: 1, AlertCount: 1, AlertIDs: []int64{a.AlertID}}
	if it.ID != want.ID || it.Type != want.Type || it.Title != want.Title || it.State != want.State ||
		it.Severity != want.Severity || it.Source != want.Source || it.Rev != want.Rev || it.AlertCount != want.AlertCount ||
		!slices.Equal(it.AlertIDs, want.AlertIDs) || it.Tags == nil || len(it.Tags) != 0 || it.ClosedAt != nil {
		t.Errorf("GET work item: got %+v, want %+v", it, want)
	}
	if got := r.hdr.Get("ETag"); got != `"1"` {
		t.Errorf("ETag = %q, want %q", got, `"1"`)
	}
	for _, p := range []string{"/api/v1/workitems/999", "/api/v1/workitems/x", "/api/v1/workitems/-1"} {
		code := http.StatusNotFound
		if !strings.HasSuffix(p, "999") {
			code = http.StatusBadRequest
		}
		e.do(t, viewer, "GET", p, nil).wantCode(t, code)
	}
}

func TestPatchWorkItem(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, alertBody("Phishing mail", map[string]any{"severity": "medium"})).Results[0].WorkItemID

	tests := []struct {
		name  string
		body  map[string]any
		check func(it item) (got, want any)
		entry string // substring of the timeline message
	}{
		{"assignee", map[string]any{"assignee": "  alice@example.com "},
			func(it item) (any, any) { return it.Assignee, "alice@example.com" }, `assignee changed from "" to "alice@example.com"`},
		{"severity", map[string]any{"severity": "critical"},
			func(it item) (any, any) { return it.Severity, "critical" }, `severity changed from "medium" to "critical"`},
		{"tags normalized", map[string]any{"tags": []string{"  Phishing", "finance", "phishing", "FINANCE "}},
			func(it item) (any, any) { return strings.Join(it.Tags, ","), "finance,phishing" }, `tags changed from "" to "finance, phishing"`},
		{"title trimmed", map[string]any{"title": "  Phishing mail to finance  "},
			func(it item) (any, any) { return it.Title, "Phishing mail to finance" }, `title changed from "Phishing mail" to "Phishing mail to finance"`},
		{"unassign", map[string]any{"assignee": ""},
			func(it item) (any, any) { return it.Assignee, "" }, `assignee changed from "alice@example.com" to ""`},
	}
	rev := 1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.patch(t, id, tt.body).wantCode(t, http.StatusOK)
			var it item
			r.decode(t, &it)
			rev++
			if got, want := tt.check(it); got != want {
				t.Errorf("PATCH %v: got %v, want %v", tt.body, got, want)
			}
			if it.Rev != rev {
				t.Errorf("rev = %d, want %d", it.Rev, rev)
			}
			if got, want := r.hdr.Get("ETag"), `"`+strconv.Itoa(rev)+`"`; got != want {
				t.Errorf("ETag = %q, want %q", got, want)
			}
			if stored := e.item(t, id); tt.check != nil {
				if got, want := tt.check(stored); got != want {
					t.Errorf("after PATCH, GET shows %v, want %v", got, want)
				}
			}
			tl := e.timeline(t, id)
			last := tl[len(tl)-1]
			if last.Kind != "update" || last.Actor != e.actor(responder) || !strings.Contains(last.Msg, tt.entry) {
				t.Errorf("last timeline entry = %+v, want kind update by %s with %q", last, e.actor(responder), tt.entry)
			}
		})
	}

	bad := []struct {
		name  string
		body  any
		field string
	}{
		{"state", map[string]any{"state": "Closed"}, "state"},
		{"empty title", map[string]any{"title": "  "}, "title"},
		{"bad severity", map[string]any{"severity": "urgent"}, "severity"},
		{"tag with comma", map[string]any{"tags": []string{"a,b"}}, "tags[0]"},
		{"empty tag", map[string]any{"tags": []string{"ok", " "}}, "tags[1]"},
		{"wrong type", map[string]any{"assignee": 5}, "assignee"},
		{"unknown field", map[string]any{"asignee": "bob"}, "asignee"},
		{"malformed", `{"assignee": "bob"`, "body"},
		{"empty body", ``, "body"},
	}
	for _, b := range bad {
		t.Run("bad "+b.name, func(t *testing.T) {
			r := e.patch(t, id, b.body).wantCode(t, http.StatusBadRequest)
			got := r.apiErr(t)
			if got.Error.Field != b.field {
				t.Errorf("%s: got error.field %q, want %q", r, got.Error.Field, b.field)
			}
			if b.field == "state" && !strings.Contains(got.Error.Message, fmt.Sprintf("/api/v1/workitems/%d/transitions", id)) {
				t.Errorf("%s: message does not point to the transitions endpoint", r)
			}
			if it := e.item(t, id); it.Rev != rev {
				t.Errorf("rejected PATCH changed the item: rev %d, want %d", it.Rev, rev)
			}
		})
	}

	t.Run("If-Match", func(t *testing.T) {
		cur := e.item(t, id).Rev
		steps := []struct {
			name    string
			ifMatch string
			code    int
		}{
			{"stale", `"1"`, http.StatusPreconditionFailed},
			{"malformed", `abc`, http.StatusBadRequest},
			{"current", `"` + strconv.Itoa(cur) + `"`, http.StatusOK},
			{"weak current", `W/"` + strconv.Itoa(cur+1) + `"`, http.StatusOK},
			{"bare current", strconv.Itoa(cur + 2), http.StatusOK},
			{"any", `*`, http.StatusOK},
			{"previous", `"` + strconv.Itoa(cur+2) + `"`, http.StatusPreconditionFailed},
		}
		for _, s := range steps {
			before := e.item(t, id)
			r := e.patch(t, id, map[string]any{"assignee": "bob-" + s.name}, "If-Match", s.ifMatch).wantCode(t, s.code)
			after := e.item(t, id)
			switch s.code {
			case http.StatusOK:
				if after.Rev != before.Rev+1 || after.Assignee != "bob-"+s.name {
					t.Errorf("%s: If-Match %s accepted but item is %+v", r, s.ifMatch, after)
				}
			default:
				if after.Rev != before.Rev || after.Assignee != before.Assignee {
					t.Errorf("%s: If-Match %s rejected but item changed from rev %d to %d", r, s.ifMatch, before.Rev, after.Rev)
				}
				want := map[int]string{http.StatusPreconditionFailed: "stale", http.StatusBadRequest: "invalid"}[s.code]
				if got := r.apiErr(t); got.Error.Code != want {
					t.Errorf("%s: error.code %q, want %q", r, got.Error.Code, want)
				}
			}
		}
		// Transitions honour If-Match too.
		r := e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Approved"},
			"If-Match", `"1"`).wantCode(t, http.StatusPreconditionFailed)
		if it := e.item(t, id); it.State != "New" {
			t.Errorf("%s: state %q, want New", r, it.State)
		}
	})
}

func TestTransitions(t *testing.T) {
	e := newEnv(t)
	ids := seedItems(t, e, alertBody("Walk", nil), alertBody("Errors", nil), alertBody("Remove", nil))

	t.Run("walk to Closed", func(t *testing.T) {
		id := ids["Walk"]
		steps := []struct{ to, reason string }{
			{"Approved", ""},
			{"Active", "starting work"},
			{"Verification", ""},
			{"Active", "fix did not hold"},
			{"Verification", ""},
			{"Closed", "True positive; host reimaged"},
		}
		for i, s := range steps {
			r := e.move(t, id, s.to, s.reason).wantCode(t, http.StatusOK)
			var it item
			r.decode(t, &it)
			if it.State != s.to || it.Rev != i+2 {
				t.Errorf("move to %s: got state %q rev %d, want %s rev %d", s.to, it.State, it.Rev, s.to, i+2)
			}
			if got, want := r.hdr.Get("ETag"), `"`+strconv.Itoa(it.Rev)+`"`; got != want {
				t.Errorf("move to %s: ETag %q, want %q", s.to, got, want)
			}
			if closed := it.ClosedAt != nil; closed != (s.to == "Closed") {
				t.Errorf("move to %s: closed_at = %v", s.to, it.ClosedAt)
			}
		}
		// Each move is on the timeline, by the token, with its reason.
		var moves []entry
		for _, en := range e.timeline(t, id) {
			if en.Kind == "transition" {
				moves = append(moves, en)
			}
		}
		if len(moves) != len(steps) {
			t.Fatalf("got %d transition entries, want %d", len(moves), len(steps))
		}
		from := "New"
		for i, s := range steps {
			m := moves[i]
			var data map[string]string
			json.Unmarshal(m.Data, &data)
			if m.Actor != e.actor(responder) || m.Reason != s.reason || data["from"] != from || data["to"] != s.to {
				t.Errorf("entry %d = %+v (data %v), want actor %s reason %q from %s to %s", i, m, data, e.actor(responder), s.reason, from, s.to)
			}
			from = s.to
		}

		// Closed is final: any move is a conflict with nothing allowed.
		r := e.move(t, id, "Active", "again").wantCode(t, http.StatusConflict)
		got := r.apiErr(t)
		if got.Error.Code != "conflict" || got.Error.Allowed == nil || len(got.Error.Allowed) != 0 {
			t.Errorf("%s: got code %q allowed %#v, want conflict with an empty allowed list", r, got.Error.Code, got.Error.Allowed)
		}
	})

	t.Run("rejected moves", func(t *testing.T) {
		id := ids["Errors"]
		tests := []struct {
			name    string
			body    any
			code    int
			field   string
			allowed []string
		}{
			{"forbidden", map[string]any{"to": "Active"}, http.StatusConflict, "", []string{"Approved", "Removed"}},
			{"forbidden to Closed", map[string]any{"to": "Closed", "reason": "done"}, http.StatusConflict, "", []string{"Approved", "Removed"}},
			{"Removed without reason", map[string]any{"to": "Removed"}, http.StatusBadRequest, "reason", nil},
			{"Removed with blank reason", map[string]any{"to": "Removed", "reason": "  "}, http.StatusBadRequest, "reason", nil},
			{"unknown state", map[string]any{"to": "Done"}, http.StatusBadRequest, "to", nil},
			{"no state", map[string]any{"reason": "x"}, http.StatusBadRequest, "to", nil},
			{"typo", map[string]any{"to": "Approved", "resaon": "x"}, http.StatusBadRequest, "resaon", nil},
			{"reason too long", map[string]any{"to": "Approved", "reason": strings.Repeat("x", 5000)}, http.StatusBadRequest, "reason", nil},
			{"malformed", `{"to":`, http.StatusBadRequest, "body", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), tt.body).wantCode(t, tt.code)
				got := r.apiErr(t)
				if got.Error.Field != tt.field || !slices.Equal(got.Error.Allowed, tt.allowed) {
					t.Errorf("%s: got field %q allowed %q, want field %q allowed %q", r, got.Error.Field, got.Error.Allowed, tt.field, tt.allowed)
				}
				if it := e.item(t, id); it.State != "New" || it.Rev != 1 {
					t.Errorf("rejected move changed the item: state %q rev %d", it.State, it.Rev)
				}
			})
		}
		e.move(t, id, "Approved", "").wantCode(t, http.StatusOK)
		e.move(t, id, "Active", "").wantCode(t, http.StatusOK)
		e.move(t, id, "Verification", "").wantCode(t, http.StatusOK)
		r := e.move(t, id, "Closed", "").wantCode(t, http.StatusBadRequest)
		if got := r.apiErr(t).Error.Field; got != "reason" {
			t.Errorf("%s: Closed without reason: error.field %q, want reason", r, got)
		}
		r = e.move(t, id, "Removed", "dup").wantCode(t, http.StatusConflict)
		if got := r.apiErr(t).Error.Allowed; !slices.Equal(got, []string{"Closed", "Active"}) {
			t.Errorf("%s: allowed %q, want [Closed Active]", r, got)
		}
	})

	t.Run("Removed with reason", func(t *testing.T) {
		var it item
		e.move(t, ids["Remove"], "Removed", "benign: scheduled scan").wantCode(t, http.StatusOK).decode(t, &it)
		if it.State != "Removed" || it.ClosedAt == nil {
			t.Errorf("got state %q closed_at %v, want Removed and set", it.State, it.ClosedAt)
		}
		tl := e.timeline(t, ids["Remove"])
		if last := tl[len(tl)-1]; last.Reason != "benign: scheduled scan" || last.Actor != e.actor(responder) {
			t.Errorf("last timeline entry = %+v, want the reason and actor %s", last, e.actor(responder))
		}
	})
}

func TestTimelinePaging(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, alertBody("Chatty", nil)).Results[0].WorkItemID
	for i := range 4 {
		e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/comments", id), map[string]any{"body": fmt.Sprintf("note %d", i)}).
			wantCode(t, http.StatusCreated)
	}
	// created + 4 comments = 5 entries, oldest first, in pages of 2.
	var kinds []string
	var sizes []int
	cursor := ""
	for range 10 {
		var p struct {
			Items      []entry `json:"items"`
			NextCursor string  `json:"next_cursor"`
		}
		path := fmt.Sprintf("/api/v1/workitems/%d/timeline?limit=2", id)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		e.do(t, viewer, "GET", path, nil).wantCode(t, http.StatusOK).decode(t, &p)
		sizes = append(sizes, len(p.Items))
		for _, en := range p.Items {
			kinds = append(kinds, en.Kind)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if want := []string{"created", "comment", "comment", "comment", "comment"}; !slices.Equal(kinds, want) {
		t.Errorf("timeline kinds: got %q, want %q", kinds, want)
	}
	if !slices.Equal(sizes[:3], []int{2, 2, 1}) {
		t.Errorf("page sizes: got %v, want [2 2 1]", sizes)
	}
	r := e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/timeline?limit=0", id), nil).wantCode(t, http.StatusBadRequest)
	if got := r.apiErr(t).Error.Field; got != "limit" {
		t.Errorf("%s: error.field %q, want limit", r, got)
	}
}

func TestCommentsAndTasks(t *testing.T) {
	e := newEnv(t)
	ids := seedItems(t, e, alertBody("One", nil), alertBody("Two", nil))
	id, other := ids["One"], ids["Two"]
	base := fmt.Sprintf("/api/v1/workitems/%d", id)

	t.Run("comments", func(t *testing.T) {
		var c struct {
			ID         int64  `json:"id"`
			WorkItemID int64  `json:"workitem_id"`
			Author     string `json:"author"`
			Body       string `json:"body"`
		}
		e.do(t, responder, "POST", base+"/comments", map[string]any{"body": "  Checked the mail headers.  "}).
			wantCode(t, http.StatusCreated).decode(t, &c)
		if c.ID == 0 || c.WorkItemID != id || c.Author != e.actor(responder) || c.Body != "Checked the mail headers." {
			t.Errorf("created comment = %+v, want item %d, author %s, trimmed body", c, id, e.actor(responder))
		}
		e.do(t, admin, "POST", base+"/comments", map[string]any{"body": "Escalated."}).wantCode(t, http.StatusCreated)
		var list struct {
			Items []struct {
				Author string `json:"author"`
				Body   string `json:"body"`
			} `json:"items"`
		}
		e.do(t, viewer, "GET", base+"/comments", nil).wantCode(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].Body != "Checked the mail headers." || list.Items[1].Author != e.actor(admin) {
			t.Errorf("comments = %+v, want the two in order", list.Items)
		}
		var empty struct {
			Items []any `json:"items"`
		}
		e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d/comments", other), nil).wantCode(t, http.StatusOK).decode(t, &empty)
		if empty.Items == nil || len(empty.Items) != 0 {
			t.Errorf("comments of an item without any = %#v, want []", empty.Items)
		}
		for _, b := range []struct {
			body  any
			field string
		}{
			{map[string]any{"body": "   "}, "body"},
			{map[string]any{"text": "hi"}, "text"},
			{map[string]any{"body": strings.Repeat("x", 70<<10)}, "body"},
		} {
			r := e.do(t, responder, "POST", base+"/comments", b.body).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t).Error.Field; got != b.field {
				t.Errorf("%s: error.field %q, want %q", r, got, b.field)
			}
		}
	})

	t.Run("tasks", func(t *testing.T) {
		type task struct {
			ID         int64  `json:"id"`
			WorkItemID int64  `json:"workitem_id"`
			Title      string `json:"title"`
			Done       bool   `json:"done"`
			DoneBy     string `json:"done_by"`
		}
		var t1, t2 task
		e.do(t, responder, "POST", base+"/tasks", map[string]any{"title": "Reset password"}).wantCode(t, http.StatusCreated).decode(t, &t1)
		e.do(t, responder, "POST", base+"/tasks", map[string]any{"title": "Block sender"}).wantCode(t, http.StatusCreated).decode(t, &t2)
		if t1.ID == 0 || t1.WorkItemID != id || t1.Title != "Reset password" || t1.Done {
			t.Errorf("created task = %+v", t1)
		}
		var done task
		e.do(t, responder, "PATCH", fmt.Sprintf("%s/tasks/%d", base, t1.ID), map[string]any{"done": true}).
			wantCode(t, http.StatusOK).decode(t, &done)
		if !done.Done || done.DoneBy != e.actor(responder) {
			t.Errorf("ticked task = %+v, want done by %s", done, e.actor(responder))
		}
		var renamed task
		e.do(t, responder, "PATCH", fmt.Sprintf("%s/tasks/%d", base, t2.ID), map[string]any{"title": "Block sender domain"}).
			wantCode(t, http.StatusOK).decode(t, &renamed)
		if renamed.Title != "Block sender domain" || renamed.Done {
			t.Errorf("renamed task = %+v", renamed)
		}
		var list struct {
			Items []task `json:"items"`
		}
		e.do(t, viewer, "GET", base+"/tasks", nil).wantCode(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || !list.Items[0].Done || list.Items[1].Title != "Block sender domain" {
			t.Errorf("tasks = %+v", list.Items)
		}

		notFound := []struct{ method, path string }{
			{"PATCH", fmt.Sprintf("%s/tasks/%d", base, 9999)},
			{"PATCH", fmt.Sprintf("/api/v1/workitems/%d/tasks/%d", other, t1.ID)}, // another item's task
		}
		for _, nf := range notFound {
			e.do(t, responder, nf.method, nf.path, map[string]any{"done": true}).wantCode(t, http.StatusNotFound)
		}
		for _, b := range []struct {
			path  string
			body  any
			field string
		}{
			{base + "/tasks", map[string]any{"title": ""}, "title"},
			{base + "/tasks", map[string]any{"title": strings.Repeat("t", 300)}, "title"},
			{fmt.Sprintf("%s/tasks/%d", base, t1.ID), map[string]any{"done": "yes"}, "done"},
			{fmt.Sprintf("%s/tasks/%d", base, t1.ID), map[string]any{"title": " "}, "title"},
			{base + "/tasks/x", map[string]any{"done": true}, "task"},
		} {
			method := "POST"
			if strings.Contains(b.path, "/tasks/") {
				method = "PATCH"
			}
			r := e.do(t, responder, method, b.path, b.body).wantCode(t, http.StatusBadRequest)
			if got := r.apiErr(t).Error.Field; got != b.field {
				t.Errorf("%s: error.field %q, want %q", r, got, b.field)
			}
		}
	})

	t.Run("timeline", func(t *testing.T) {
		var kinds []string
		for _, en := range e.timeline(t, id) {
			kinds = append(kinds, en.Kind)
			if en.Kind != "created" && !strings.HasPrefix(en.Actor, "token:") {
				t.Errorf("entry %+v: actor %q, want a token", en, en.Actor)
			}
		}
		want := []string{"created", "comment", "comment", "task", "task", "task", "task"}
		if !slices.Equal(kinds, want) {
			t.Errorf("timeline kinds = %q, want %q", kinds, want)
		}
	})
}

func TestUnknownWorkItem(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/workitems/4242", nil},
		{"PATCH", "/api/v1/workitems/4242", map[string]any{"assignee": "bob"}},
		{"POST", "/api/v1/workitems/4242/transitions", map[string]any{"to": "Approved"}},
		{"GET", "/api/v1/workitems/4242/timeline", nil},
		{"GET", "/api/v1/workitems/4242/comments", nil},
		{"POST", "/api/v1/workitems/4242/comments", map[string]any{"body": "hi"}},
		{"GET", "/api/v1/workitems/4242/tasks", nil},
		{"POST", "/api/v1/workitems/4242/tasks", map[string]any{"title": "t"}},
		{"PATCH", "/api/v1/workitems/4242/tasks/1", map[string]any{"done": true}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, responder, tt.method, tt.path, tt.body).wantCode(t, http.StatusNotFound)
			if got := r.apiErr(t); got.Error.Code != "not_found" || !strings.Contains(got.Error.Message, "4242") {
				t.Errorf("%s: got %+v, want not_found naming 4242", r, got.Error)
			}
		})
	}
}

func TestProcess(t *testing.T) {
	e := newEnv(t)
	var p struct {
		States []struct {
			Name           string   `json:"name"`
			Initial        bool     `json:"initial"`
			Terminal       bool     `json:"terminal"`
			ReasonRequired bool     `json:"reason_required"`
			Next           []string `json:"next"`
		} `json:"states"`
		Transitions []struct {
			From string   `json:"from"`
			To   []string `json:"to"`
		} `json:"transitions"`
		Types map[string]string `json:"types"`
	}
	e.do(t, viewer, "GET", "/api/v1/process", nil).wantCode(t, http.StatusOK).decode(t, &p)
	var names []string
	next := map[string][]string{}
	for _, s := range p.States {
		names = append(names, s.Name)
		next[s.Name] = s.Next
		if s.Next == nil {
			t.Errorf("state %s: next is absent or null, want an array", s.Name)
		}
	}
	if want := []string{"New", "Approved", "Removed", "Active", "Verification", "Closed"}; !slices.Equal(names, want) {
		t.Errorf("states = %q, want %q", names, want)
	}
	if !p.States[0].Initial || !p.States[5].Terminal || !p.States[5].ReasonRequired {
		t.Errorf("New/Closed flags wrong: %+v / %+v", p.States[0], p.States[5])
	}
	if !slices.Equal(next["New"], []string{"Approved", "Removed"}) || len(next["Closed"]) != 0 {
		t.Errorf("next = %v", next)
	}
	if len(p.Transitions) != 4 || p.Types["defender"] != "Problem" || p.Types["default"] != "Issue" {
		t.Errorf("transitions %+v types %v", p.Transitions, p.Types)
	}
	e.do(t, noAuth, "GET", "/api/v1/process", nil).wantCode(t, http.StatusUnauthorized)
}
