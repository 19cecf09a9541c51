package simulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

const adoCommentsV = "api-version=7.1-preview.4"

// comments lists a work item's discussion with query q.
func (e *adoEnv) comments(id int, q string) map[string]any {
	e.t.Helper()
	r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workItems/%d/comments?%s&%s", e.proj(), id, adoCommentsV, q), "", nil, "")
	if r.code != http.StatusOK {
		e.t.Fatalf("comments of %d: %d %s", id, r.code, r.raw)
	}
	return r.obj(e.t)
}

func commentTexts(page map[string]any) []string {
	var out []string
	cs, _ := page["comments"].([]any)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		s, _ := m["text"].(string)
		out = append(out, s)
	}
	return out
}

// TestDevOpsComments: System.History written with a patch and comments
// added through the Comments API are one discussion, read newest first
// by default, in pages with a continuation token.
func TestDevOpsComments(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	id := adoItemID(e.create("Problem", adoAdd("System.Title", "t"), adoAdd("System.History", "first")))
	for _, h := range []string{"second", "third"} {
		if r := e.patch(id, adoAdd("System.History", h)); r.code != http.StatusOK {
			t.Fatalf("patch: %d %s", r.code, r.raw)
		}
	}
	// A change without history adds no comment.
	if r := e.patch(id, adoAdd("System.Title", "t2")); r.code != http.StatusOK {
		t.Fatalf("patch: %d %s", r.code, r.raw)
	}
	r := e.call("POST", fmt.Sprintf("%s/_apis/wit/workItems/%d/comments?%s", e.proj(), id, adoCommentsV), "application/json",
		map[string]any{"text": "fourth <b>bold</b>"}, "")
	if r.code != http.StatusOK {
		t.Fatalf("add comment: %d %s", r.code, r.raw)
	}
	added := r.obj(t)
	if added["text"] != "fourth <b>bold</b>" || added["workItemId"] != float64(id) || added["commentId"] == nil {
		t.Errorf("added comment = %v", added)
	}
	if h := adoFieldsOf(e.getItem(id))["System.History"]; h != "fourth <b>bold</b>" {
		t.Errorf("System.History after the comment = %v", h)
	}

	all := e.comments(id, "")
	if got := strings.Join(commentTexts(all), ","); got != "fourth <b>bold</b>,third,second,first" || all["totalCount"] != float64(4) {
		t.Errorf("comments = %s (total %v), want newest first", got, all["totalCount"])
	}
	if got := strings.Join(commentTexts(e.comments(id, "order=asc")), ","); got != "first,second,third,fourth <b>bold</b>" {
		t.Errorf("order=asc: %s", got)
	}
	var seen []string
	q := "$top=3"
	for range 3 {
		page := e.comments(id, q)
		seen = append(seen, commentTexts(page)...)
		tok, _ := page["continuationToken"].(string)
		if tok == "" {
			break
		}
		q = "$top=3&continuationToken=" + tok
	}
	if len(seen) != 4 || seen[3] != "first" {
		t.Errorf("paged: %q, want 4 comments over two pages", seen)
	}

	// The Comments API is a preview: 7.1 alone is refused.
	if r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workItems/%d/comments?%s", e.proj(), id, adoV), "", nil, ""); r.code != http.StatusBadRequest {
		t.Errorf("without -preview: %d, want 400", r.code)
	}
	if r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workItems/9999/comments?%s", e.proj(), adoCommentsV), "", nil, ""); r.code != http.StatusNotFound {
		t.Errorf("comments of a missing item: %d, want 404", r.code)
	}
	if r := e.call("POST", fmt.Sprintf("%s/_apis/wit/workItems/%d/comments?%s", e.proj(), id, adoCommentsV), "application/json",
		map[string]any{"text": " "}, ""); r.code != http.StatusBadRequest {
		t.Errorf("empty comment: %d, want 400", r.code)
	}
	cid := int(added["commentId"].(float64))
	if r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workItems/%d/comments/%d?%s", e.proj(), id, cid, adoCommentsV), "", nil, ""); r.code != http.StatusOK || r.obj(t)["text"] != "fourth <b>bold</b>" {
		t.Errorf("get comment %d: %d %s", cid, r.code, r.raw)
	}
}
