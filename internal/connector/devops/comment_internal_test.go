package devops

import (
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// FuzzParseCommentPage fuzzes an answer of GET workItems/{id}/comments,
// which a resend reads to find its marker. Seeds follow Microsoft's
// example of Comments - Get Comments (7.1-preview.4).
func FuzzParseCommentPage(f *testing.F) {
	for _, s := range []string{
		`{"totalCount":2,"count":2,"comments":[{"workItemId":299,"commentId":50,"version":1,"text":"Moving to the right area path","createdBy":{"displayName":"Jamal Hartnett","uniqueName":"fabrikamfiber4@hotmail.com"},"createdDate":"2019-01-16T03:03:28.97Z","modifiedDate":"2019-01-16T03:03:28.97Z","url":"https://dev.azure.com/fabrikam/Fabrikam-Fiber-Git/_apis/wit/workItems/299/comments/50"},{"workItemId":299,"commentId":49,"version":1,"text":"x<br><br>[vigil 0a1b2c3d4e5f]"}],"continuationToken":"Mg"}`,
		`{"totalCount":0,"count":0,"comments":[]}`,
		`{"comments":null}`,
		`{"comments":[{"text":5}]}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := parseCommentPage(raw)
		if err != nil {
			return
		}
		for _, c := range p.Comments {
			if strings.Contains(c.Text, marker("")) && !strings.Contains(c.Text, "[vigil ]") {
				t.Fatalf("marker of an empty key matched %q", c.Text)
			}
		}
	})
}

func TestMarkerKey(t *testing.T) {
	for _, tc := range []struct {
		idem string
		id   int64
		want bool
	}{{"workitem:1:comment:2:devops", 0, true}, {"", 9, true}, {"", 0, false}} {
		k := markerKey(outboxMessage(tc.idem, tc.id))
		if (k != "") != tc.want || strings.ContainsAny(k, "[] ") {
			t.Errorf("markerKey(%q, %d) = %q", tc.idem, tc.id, k)
		}
	}
	if markerKey(outboxMessage("a", 1)) == markerKey(outboxMessage("b", 1)) {
		t.Error("different idempotency keys, same marker")
	}
	if markerKey(outboxMessage("a", 1)) != markerKey(outboxMessage("a", 2)) {
		t.Error("the same write in two message rows got two markers")
	}
}

func outboxMessage(idem string, id int64) outbox.Message {
	return outbox.Message{ID: id, IdemKey: idem}
}
