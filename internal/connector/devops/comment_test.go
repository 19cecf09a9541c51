package devops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/devops"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// discussion reads a Boards item's comments, oldest first, through the
// Comments API.
func (e *env) discussion(bid int) []string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/%s/%s/_apis/wit/workItems/%d/comments?order=asc&api-version=7.1-preview.4",
		e.srv.Info.DevOpsURL, e.srv.Info.DevOpsOrg, e.srv.Info.DevOpsProject, bid), nil)
	req.SetBasicAuth("", e.srv.Info.ClientSecret)
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Comments []struct {
			Text string `json:"text"`
		} `json:"comments"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("comments of %d: %d %v", bid, resp.StatusCode, err)
	}
	var out []string
	for _, c := range page.Comments {
		out = append(out, c.Text)
	}
	return out
}

// TestSendCommentAfterLostAnswer: the answer to the comment's write is
// lost; the outbox sends the message again, and the item has the comment
// once. Another message with the same text is a comment of its own.
func TestSendCommentAfterLostAnswer(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	id, bid := e.mirror("Problem", "New")
	raw, _ := json.Marshal(devops.CommentPayload{WorkItemID: id, Message: "VirusTotal: 3/70"})
	m := outbox.Message{ID: 41, Target: devops.Target, Op: devops.OpComment, Payload: raw,
		IdemKey: fmt.Sprintf("workitem:%d:comment:7:devops", id)}

	lost := 0
	e.tr.mu.Lock()
	e.tr.loseAnswer = func(r *http.Request) bool {
		if r.Method == http.MethodPatch && lost == 0 {
			lost++
			return true
		}
		return false
	}
	e.tr.mu.Unlock()
	err := e.c.Send(context.Background(), m)
	var re *outbox.RetryableError
	if !errors.As(err, &re) || lost != 1 {
		t.Fatalf("first send: %v (lost %d), want a retryable error after the lost answer", err, lost)
	}
	if err := e.c.Send(context.Background(), m); err != nil {
		t.Fatalf("resend: %v", err)
	}
	cs := e.discussion(bid)
	if len(cs) != 1 || !strings.HasPrefix(cs[0], "VirusTotal: 3/70<br><br>[vigil ") {
		t.Fatalf("comments = %q, want the one comment with its marker", cs)
	}

	m2 := m
	m2.ID, m2.IdemKey = 42, fmt.Sprintf("workitem:%d:comment:8:devops", id)
	if err := e.c.Send(context.Background(), m2); err != nil {
		t.Fatal(err)
	}
	if cs := e.discussion(bid); len(cs) != 2 || cs[0] == cs[1] {
		t.Errorf("comments = %q, want a second comment with its own marker", cs)
	}
	// The first message sent once more (a third attempt) still adds nothing.
	if err := e.c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if n := len(e.discussion(bid)); n != 2 {
		t.Errorf("%d comments after a third send, want 2", n)
	}
}

// TestSendCommentReadFails: a failure reading the discussion is retried,
// not taken for "not posted yet" or given up on.
func TestSendCommentReadFails(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	id, bid := e.mirror("Problem", "New")
	e.tr.mu.Lock()
	e.tr.before = func(r *http.Request, _ []byte) *http.Response {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/comments") {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"application/json"}},
				Body: http.NoBody, Request: r}
		}
		return nil
	}
	e.tr.mu.Unlock()
	raw, _ := json.Marshal(devops.CommentPayload{WorkItemID: id, Message: "x"})
	err := e.c.Send(context.Background(), outbox.Message{ID: 1, IdemKey: "k", Target: devops.Target, Op: devops.OpComment, Payload: raw})
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("send: %v, want retryable", err)
	}
	e.tr.mu.Lock()
	e.tr.before = nil
	e.tr.mu.Unlock()
	if n := len(e.discussion(bid)); n != 0 {
		t.Errorf("%d comments, want none written while the discussion could not be read", n)
	}
}
