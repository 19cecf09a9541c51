package graph_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestMapIncidentFixture maps Microsoft's own example of an incident
// (GET /security/incidents), whose enum values are capitalised.
func TestMapIncidentFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "incidents_list.json"))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &page); err != nil || len(page.Value) == 0 {
		t.Fatalf("fixture: %v", err)
	}
	inc, err := graph.ParseIncident(page.Value[0])
	if err != nil {
		t.Fatal(err)
	}
	in, err := graph.MapIncident(inc)
	if err != nil {
		t.Fatal(err)
	}
	if in.Source != "graph" || in.SourceID != "2972395" || in.LinkKey != "xdr:2972395" || in.Ref != "2972395" {
		t.Fatalf("mapped %s/%s ref %s link %s", in.Source, in.SourceID, in.Ref, in.LinkKey)
	}
	if in.Status != alert.StatusNew || in.Severity != alert.SeverityMedium || !strings.HasPrefix(in.Title, "Multi-stage incident") {
		t.Fatalf("mapped status %s severity %s title %q", in.Status, in.Severity, in.Title)
	}
	if inc.AssignedTo != "KaiC@contoso.onmicrosoft.com" || len(inc.Comments) != 1 || len(inc.CustomTags) != 1 {
		t.Fatalf("parsed %+v", inc)
	}
}

func TestIncidentStatus(t *testing.T) {
	for _, tc := range []struct {
		status, class string
		want          alert.Status
	}{
		{"active", "", alert.StatusNew},
		{"Active", "TruePositive", alert.StatusNew},
		{"inProgress", "", alert.StatusInProgress},
		{"awaitingAction", "", alert.StatusInProgress},
		{"resolved", "truePositive", alert.StatusResolved},
		{"resolved", "falsePositive", alert.StatusDismissed},
		{"resolved", "informationalExpectedActivity", alert.StatusDismissed},
		{"redirected", "", alert.StatusResolved},
		{"unknownFutureValue", "", alert.StatusNew},
	} {
		if got := graph.IncidentStatus(tc.status, tc.class); got != tc.want {
			t.Errorf("IncidentStatus(%q, %q) = %s, want %s", tc.status, tc.class, got, tc.want)
		}
	}
}

// TestIncidentsFromSimulator lists the simulated tenant's incidents with
// their alerts, and writes to one: a resend after a lost answer sends
// nothing more, and a resolved incident is not resolved again.
func TestIncidentsFromSimulator(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	c := e.client(t, nil)
	ctx := context.Background()
	r := e.raiseDefender(t, simulator.AlertSpec{})

	list, err := c.Incidents(ctx, graph.IncidentQuery{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || len(list[0].Alerts) != 1 {
		t.Fatalf("incidents %+v", list)
	}
	in, err := graph.MapIncident(list[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Members) != 1 || in.Members[0] != (alert.Member{Source: "defender", SourceID: r.Name, Status: alert.StatusNew}) {
		t.Fatalf("members %+v, want the Defender alert %s", in.Members, r.Name)
	}
	id := list[0].ID

	send := func(op string, payload any) {
		t.Helper()
		b, _ := json.Marshal(payload)
		if err := c.Send(ctx, outbox.Message{Target: graph.Target, Op: op, Resource: id, Payload: b}); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
	}
	count := func(route string) int {
		n := 0
		for _, rec := range e.sim.Requests(0) {
			if rec.Route == route {
				n++
			}
		}
		return n
	}
	close := graph.IncidentUpdatePayload{Status: "resolved", Classification: "falsePositive", Determination: "other", Comment: "Closed by vigil."}
	send(graph.OpIncidentUpdate, close)
	send(graph.OpIncidentUpdate, close) // the answer was lost: sent again
	if n := count("graph.incidents.update"); n != 1 {
		t.Fatalf("%d PATCHes, want 1", n)
	}
	if n := count("graph.incidents.comments.create"); n != 1 {
		t.Fatalf("%d comments posted, want 1", n)
	}
	send(graph.OpIncidentComment, graph.CommentPayload{Message: "checked twice"})
	send(graph.OpIncidentComment, graph.CommentPayload{Message: "checked twice"})
	if n := count("graph.incidents.comments.create"); n != 2 {
		t.Fatalf("%d comments posted, want 2", n)
	}
	// Queued comments carry their write's marker: a resend of the same
	// write adds nothing, another write with the same text is a comment.
	keyed := func(key string) {
		t.Helper()
		b, _ := json.Marshal(graph.CommentPayload{Message: "seen on the proxy"})
		if err := c.Send(ctx, outbox.Message{ID: 9, IdemKey: key, Target: graph.Target, Op: graph.OpIncidentComment, Resource: id, Payload: b}); err != nil {
			t.Fatal(err)
		}
	}
	keyed("workitem:1:comment:5:graph")
	keyed("workitem:1:comment:5:graph")
	keyed("workitem:1:comment:6:graph")
	if n := count("graph.incidents.comments.create"); n != 4 {
		t.Fatalf("%d comments posted, want 4 (one resend skipped)", n)
	}
	after, err := c.Incidents(ctx, graph.IncidentQuery{})
	if err != nil || len(after) != 1 {
		t.Fatalf("incidents after: %v %d", err, len(after))
	}
	if after[0].Status != "resolved" || after[0].Classification != "falsePositive" {
		t.Fatalf("incident is %s/%s, want resolved/falsePositive", after[0].Status, after[0].Classification)
	}
	if open, _ := c.Incidents(ctx, graph.IncidentQuery{Open: true}); len(open) != 0 {
		t.Fatalf("%d open incidents after the resolution", len(open))
	}
}

// FuzzParseIncident: whatever Graph answers, parsing and mapping return
// an error or an incident, never panic.
func FuzzParseIncident(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "incidents_list.json")); err == nil {
		var page struct {
			Value []json.RawMessage `json:"value"`
		}
		if json.Unmarshal(b, &page) == nil {
			for _, v := range page.Value {
				f.Add([]byte(v))
			}
		}
	}
	f.Add([]byte(`{"id":"1","alerts":[{"id":"a","serviceSource":"microsoftDefenderForCloud","providerAlertId":"x"}]}`))
	f.Add([]byte(`{"id":"1","alerts":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inc, err := graph.ParseIncident(b)
		if err != nil {
			return
		}
		if _, err := graph.MapIncident(inc); err != nil {
			return
		}
	})
}
