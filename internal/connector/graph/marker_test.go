package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// loser passes requests on and, for the next n that match, throws the
// answer away after the service has acted: the write happened, the
// client sees a network error.
type loser struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	match func(*http.Request) bool
	mu    sync.Mutex
	n     int
	lost  int
}

func (l *loser) Do(req *http.Request) (*http.Response, error) {
	res, err := l.next.Do(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && l.n > 0 && l.match(req) {
		l.n--
		l.lost++
		res.Body.Close()
		return nil, errors.New("connection reset by peer (answer lost)")
	}
	return res, err
}

// TestCommentLostAnswer: a comment whose answer is lost, sent again by the
// outbox, is on the alert once, with its marker; another write with the
// same text is a comment of its own.
func TestCommentLostAnswer(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	lose := &loser{next: e.rec, n: 1, match: func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comments")
	}}
	c := e.client(t, func(cfg *graph.Config) { cfg.Transport = lose })
	w := e.sim.World()
	ctx := context.Background()
	dfc := e.raiseDefender(t, simulator.AlertSpec{})

	m := message(graph.OpComment, dfc.GraphAlertID, graph.CommentPayload{Message: "Tracked as work item 42."})
	m.ID, m.IdemKey = 7, "workitem:42:comment:1:graph"
	err := c.Send(ctx, m)
	var re *outbox.RetryableError
	if !errors.As(err, &re) || lose.lost != 1 {
		t.Fatalf("first send: %v (lost %d), want a retryable error after the lost answer", err, lose.lost)
	}
	if err := c.Send(ctx, m); err != nil {
		t.Fatalf("resend: %v", err)
	}
	cs := w.GraphAlertAnnotations(dfc.GraphAlertID).Comments
	if len(cs) != 1 || !strings.HasPrefix(cs[0].Comment, "Tracked as work item 42.") || !strings.Contains(cs[0].Comment, "[vigil ") {
		t.Fatalf("comments = %+v, want the one comment, marked", cs)
	}

	again := m
	again.ID, again.IdemKey = 8, "workitem:42:comment:2:graph"
	if err := c.Send(ctx, again); err != nil {
		t.Fatal(err)
	}
	if cs := w.GraphAlertAnnotations(dfc.GraphAlertID).Comments; len(cs) != 2 || cs[0].Comment == cs[1].Comment {
		t.Errorf("comments = %+v, want a second comment with its own marker", cs)
	}
}

// TestLegacyCommentLostAnswer: the same for a legacy update carrying a
// comment.
func TestLegacyCommentLostAnswer(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	lose := &loser{next: e.rec, n: 1, match: func(r *http.Request) bool { return r.Method == http.MethodPatch }}
	c := e.client(t, func(cfg *graph.Config) { cfg.Transport = lose })
	ctx := context.Background()
	dfc := e.raiseDefender(t, simulator.AlertSpec{})

	m := message(graph.OpLegacyUpdate, dfc.Name, graph.LegacyUpdatePayload{Comment: "Seen in vigil.", Provider: "ASC"})
	m.ID, m.IdemKey = 3, "workitem:5:comment:1:graph"
	if err := c.Send(ctx, m); err == nil || lose.lost != 1 {
		t.Fatalf("first send: %v (lost %d), want an error after the lost answer", err, lose.lost)
	}
	if err := c.Send(ctx, m); err != nil {
		t.Fatalf("resend: %v", err)
	}
	as, err := c.LegacyAlerts(ctx, graph.LegacyQuery{Provider: "ASC"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.ID != dfc.Name {
			continue
		}
		if len(a.Comments) != 1 || !strings.HasPrefix(a.Comments[0], "Seen in vigil.") || !strings.Contains(a.Comments[0], "[vigil ") {
			t.Errorf("legacy comments = %q, want the one comment, marked", a.Comments)
		}
		return
	}
	t.Fatalf("legacy alert %s not listed", dfc.Name)
}

func TestHasMarker(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Tracked as work item 42.\n\n[vigil 0123456789ab]", true},
		{"[vigil 0123456789ab] at the start", true},
		{"a person's comment", false},
		{"mentions [vigil 0123] in passing", false},
		{"[vigil 0123456789xz]", false},
		{"[vigil 0123456789ab", false},
	} {
		if got := graph.HasMarker(tc.in); got != tc.want {
			t.Errorf("HasMarker(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
