package twoway_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// unified makes the harness pull incidents through both Sentinel and
// Graph's security/incidents, with api (sync.incident_api) the view that
// keeps and writes incidents seen through both.
func (h *harness) unified(api string) {
	h.items = workitem.NewService(h.db, h.proc, h.clk).WithPlanner(writeback.New(h.db).WithIncidentAPI(api))
	sink := twoway.FollowingSink(dbIngest{h.db, h.proc}, h.items, "connector:defender", "defender", "Closed", incidentGrace, h.log)
	h.modules = []twoway.Module{
		named("defender", defender.NewPoller(h.defender, sink, h.log, h.clk.Now)),
		twoway.NewSentinelPoller(h.sentinel, h.db, h.items, h.proc, twoway.SentinelOptions{Name: "ws", RequestsPerSecond: -1,
			Clock: h.clk, Logger: h.log, Secondary: api == "graph"}),
		twoway.NewGraphIncidentPoller(h.graph, h.db, h.items, h.proc, twoway.GraphIncidentOptions{
			Clock: h.clk, Logger: h.log, Secondary: api == "sentinel"}),
		twoway.NewHeldAlerts(h.db, h.proc, h.log),
		twoway.NewReconciler(h.db, h.log),
	}
}

// count returns how many requests of a route the simulator answered with
// a 2xx since seq.
func (h *harness) count(seq int, route string) int {
	n := 0
	for _, r := range h.sim.Sim.Requests(seq) {
		if r.Route == route && r.Status < 300 {
			n++
		}
	}
	return n
}

func lastSeq(h *harness) int {
	rs := h.sim.Sim.Requests(0)
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}

// TestUnifiedIncidentOneItem is the "done when": an incident
// visible through both Sentinel and Graph is one item, and closing it
// closes it once, through the API the configuration names.
func TestUnifiedIncidentOneItem(t *testing.T) {
	for _, tc := range []struct {
		api, write, notWrite, source string
	}{
		{api: "graph", write: "graph.incidents.update", notWrite: "sentinel.incidents.put", source: "graph"},
		{api: "sentinel", write: "sentinel.incidents.put", notWrite: "graph.incidents.update", source: "sentinel"},
	} {
		t.Run(tc.api, func(t *testing.T) {
			h := newHarness(t)
			h.unified(tc.api)
			ctx := context.Background()
			names, incName := h.raise(2)
			inc := h.incident(incName)
			h.cycle()
			h.cycle() // both views seen twice: nothing may change

			list, err := h.db.ListIncidents(ctx, "", 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 {
				t.Fatalf("%d incidents stored, want 1: %+v", len(list), list)
			}
			got := list[0]
			if got.LinkKey != "xdr:"+strconv.Itoa(inc.Number) || got.Source != tc.source {
				t.Fatalf("incident stored as %s/%s link %q, want source %s link xdr:%d", got.Source, got.SourceID, got.LinkKey, tc.source, inc.Number)
			}
			items, err := h.items.List(ctx, analyst, workitem.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 {
				t.Fatalf("%d work items, want 1", len(items))
			}
			it := items[0]
			if it.AlertCount != len(names) {
				t.Fatalf("item has %d alerts, want the incident's %d Defender alerts", it.AlertCount, len(names))
			}

			seq := lastSeq(h)
			if _, err := h.items.Transition(ctx, analyst, it.ID, "Removed", "false positive", 0); err != nil {
				t.Fatal(err)
			}
			h.send()
			h.cycle()
			h.cycle()
			if n := h.count(seq, tc.write); n != 1 {
				t.Fatalf("%s answered %d times, want once", tc.write, n)
			}
			if n := h.count(seq, tc.notWrite); n != 0 {
				t.Fatalf("%s answered %d times, want never: each write goes to the configured API", tc.notWrite, n)
			}
			if st := h.incident(incName).Status; st != simulator.IncidentClosed {
				t.Fatalf("incident is %s in Sentinel, want Closed", st)
			}
			after, err := h.items.Get(ctx, analyst, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.State != "Removed" {
				t.Fatalf("item is %s, want Removed", after.State)
			}
			if all, _ := h.items.List(ctx, analyst, workitem.Filter{}); len(all) != 1 {
				t.Fatalf("%d items after the closure was read back, want 1", len(all))
			}
		})
	}
}

// TestGraphIncidentTwoWay: with Graph the configured API, an assignee and
// a comment made in vigil reach the incident once, and a resolution in
// the Defender portal moves the item, explained on its timeline.
func TestGraphIncidentTwoWay(t *testing.T) {
	h := newHarness(t)
	h.unified("graph")
	ctx := context.Background()
	_, incName := h.raise(1)
	h.cycle()
	items, err := h.items.List(ctx, analyst, workitem.Filter{})
	if err != nil || len(items) != 1 {
		t.Fatalf("items: %v %d", err, len(items))
	}
	id := items[0].ID
	who := "ana@contoso.com"
	if _, err := h.items.Update(ctx, analyst, id, workitem.Patch{Assignee: &who}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.items.Comment(ctx, analyst, id, "looked at the host"); err != nil {
		t.Fatal(err)
	}
	h.send()
	h.send()
	inc := h.incident(incName)
	if !strings.EqualFold(inc.Owner.Email, who) && !strings.EqualFold(inc.Owner.AssignedTo, who) {
		t.Fatalf("incident owner %+v, want %s", inc.Owner, who)
	}
	n := 0
	for _, c := range inc.Comments {
		if strings.Contains(c.Message, "looked at the host") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("comment on the incident %d times, want once: %+v", n, inc.Comments)
	}

	// An analyst resolves the incident in the Defender portal.
	w := h.sim.Sim.World()
	if _, _, err := w.UpdateIncident(inc.Name, "", simulator.IncidentUpdate{Title: inc.Title, Description: inc.Description,
		Severity: inc.Severity, Status: simulator.IncidentClosed, Classification: "TruePositive",
		ClassificationReason: "SuspiciousActivity"}); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	it, err := h.items.Get(ctx, analyst, id)
	if err != nil {
		t.Fatal(err)
	}
	if it.State != "Closed" {
		t.Fatalf("item is %s, want Closed after the portal resolved the incident", it.State)
	}
	found := false
	for _, e := range h.timeline(id) {
		if e.Actor == "graph" && strings.Contains(e.Message, "resolved in the Defender portal") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no timeline entry from the Graph incident's resolution: %+v", h.timeline(id))
	}
}

// TestReconcilerThroughGraph: with Graph the configured API, the
// reconciler closes the incident of a dismissed Defender for Cloud alert
// through Graph, once, and the item follows.
func TestReconcilerThroughGraph(t *testing.T) {
	h := newHarness(t)
	h.unified("graph")
	ctx := context.Background()
	names, incName := h.raise(1)
	h.cycle()
	seq := lastSeq(h)
	h.setDefender(names[0], simulator.DfCDismissed)
	h.cycle()
	h.cycle()
	h.cycle()
	if st := h.incident(incName).Status; st != simulator.IncidentClosed {
		t.Fatalf("incident is %s, want Closed", st)
	}
	if n := h.count(seq, "graph.incidents.update"); n != 1 {
		t.Fatalf("graph.incidents.update answered %d times, want once", n)
	}
	if n := h.count(seq, "sentinel.incidents.put"); n != 0 {
		t.Fatalf("sentinel.incidents.put answered %d times, want never", n)
	}
	items, err := h.items.List(ctx, analyst, workitem.Filter{})
	if err != nil || len(items) != 1 {
		t.Fatalf("items: %v %d", err, len(items))
	}
	if items[0].State != "Closed" {
		t.Fatalf("item is %s, want Closed", items[0].State)
	}
	var why, follow bool
	for _, e := range h.timeline(items[0].ID) {
		why = why || (e.Actor == "reconciler" && strings.Contains(e.Message, "in the Defender portal as informationalExpectedActivity"))
		follow = follow || (e.Actor == "graph" && strings.Contains(e.Message, "resolved in the Defender portal as informationalExpectedActivity"))
	}
	if !why || !follow {
		t.Fatalf("timeline lacks the reconciler's decision (%v) or the item's follow (%v): %+v", why, follow, h.timeline(items[0].ID))
	}
}

// TestIncidentFieldsWriteBack: an item's new tags and severity reach its
// incident through the configured API, once: Sentinel takes both (tags as
// user labels, Sentinel's own labels kept); Graph takes the tags as
// customTags and has no severity to write.
func TestIncidentFieldsWriteBack(t *testing.T) {
	for _, tc := range []struct {
		api, write, notWrite string
		severity             string // the incident's severity after the change
	}{
		{api: "sentinel", write: "sentinel.incidents.put", notWrite: "graph.incidents.update", severity: "High"},
		{api: "graph", write: "graph.incidents.update", notWrite: "sentinel.incidents.put", severity: ""},
	} {
		t.Run(tc.api, func(t *testing.T) {
			h := newHarness(t)
			h.unified(tc.api)
			ctx := context.Background()
			_, incName := h.raise(1)
			h.cycle()
			before := h.incident(incName)
			items, err := h.items.List(ctx, analyst, workitem.Filter{})
			if err != nil || len(items) != 1 {
				t.Fatalf("items: %v %d", err, len(items))
			}
			seq := lastSeq(h)
			tags, sev := []string{"phishing-wave", "vip"}, alert.SeverityCritical
			if _, err := h.items.Update(ctx, analyst, items[0].ID, workitem.Patch{Tags: &tags, Severity: &sev}, 0); err != nil {
				t.Fatal(err)
			}
			h.send()
			h.send() // nothing more to send: no second write
			inc := h.incident(incName)
			var user []string
			for _, l := range inc.Labels {
				if l["labelType"] == "User" {
					user = append(user, l["labelName"].(string))
				}
			}
			if strings.Join(user, ",") != "phishing-wave,vip" {
				t.Fatalf("user labels %v, want the item's tags (labels %v)", user, inc.Labels)
			}
			want := tc.severity
			if want == "" {
				want = before.Severity // Graph cannot change it
			}
			if inc.Severity != want {
				t.Fatalf("incident severity %s, want %s", inc.Severity, want)
			}
			if n := h.count(seq, tc.write); n != 1 {
				t.Fatalf("%s answered %d times, want once", tc.write, n)
			}
			if n := h.count(seq, tc.notWrite); n != 0 {
				t.Fatalf("%s answered %d times, want never", tc.notWrite, n)
			}

			// Tags cleared: the user labels go.
			none := []string{}
			if _, err := h.items.Update(ctx, analyst, items[0].ID, workitem.Patch{Tags: &none}, 0); err != nil {
				t.Fatal(err)
			}
			h.send()
			for _, l := range h.incident(incName).Labels {
				if l["labelType"] == "User" {
					t.Fatalf("labels after clearing the tags: %v", h.incident(incName).Labels)
				}
			}
		})
	}
}

// TestGraphIncidentCommentsComeBack: a comment someone makes on the
// incident in the Defender portal reaches the item once, and is not sent
// back; vigil's own comments, read back with their marker, are not taken
// for a person's.
func TestGraphIncidentCommentsComeBack(t *testing.T) {
	h := newHarness(t)
	h.unified("graph")
	ctx := context.Background()
	_, incName := h.raise(1)
	h.cycle()
	items, err := h.items.List(ctx, analyst, workitem.Filter{})
	if err != nil || len(items) != 1 {
		t.Fatalf("items: %v %d", err, len(items))
	}
	id := items[0].ID
	if _, err := h.items.Comment(ctx, analyst, id, "isolating the host"); err != nil {
		t.Fatal(err)
	}
	h.send()
	w := h.sim.Sim.World()
	h.clk.Advance(time.Minute)
	if err := w.WithIncident(incName, func(inc *simulator.Incident) (bool, error) {
		inc.Comments = append(inc.Comments, simulator.Comment{Name: "c-kai", Message: "User confirmed the sign-in was theirs.",
			Author: "kai@contoso.com", Created: h.clk.Now()})
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	seq := lastSeq(h)
	h.cycle()
	h.cycle()
	cs, err := h.items.Comments(ctx, analyst, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Author+": "+c.Body)
	}
	want := []string{analyst.String() + ": isolating the host", "graph:kai@contoso.com: User confirmed the sign-in was theirs."}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("comments:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := h.count(seq, "graph.incidents.comments.create"); n != 0 {
		t.Fatalf("the portal's comment was sent back %d times", n)
	}
}
