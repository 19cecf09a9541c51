package twoway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// items lists every work item, merged ones included.
func (h *harness) allItems() []workitem.Item {
	h.t.Helper()
	list, err := h.db.ListWorkItems(context.Background(), workitem.Filter{Limit: 500})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// alertItem returns the work item a Defender alert is tracked on.
func (h *harness) alertItem(name string) int64 {
	h.t.Helper()
	list, err := h.db.ListAlerts(context.Background(), store.AlertFilter{Source: "defender", Limit: 500})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range list {
		if a.SourceID == name {
			return a.WorkItemID
		}
	}
	h.t.Fatalf("vigil has no Defender alert %s", name)
	return 0
}

// writes counts delivered and pending outbox messages per target and op.
func (h *harness) writes() map[string]int {
	h.t.Helper()
	ms, err := h.db.ListOutbox(context.Background(), "", 0, 0, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	n := map[string]int{}
	for _, m := range ms {
		if m.State != outbox.Cancelled {
			n[m.Target+" "+m.Op+" "+m.Resource]++
		}
	}
	return n
}

// TestCloseCreatesNoEcho is defect 1 of issue 10: closing the Issue item
// of a Sentinel incident writes the close to Sentinel, and the next polls
// read that write back. Before the fix, the first of them opened a second,
// already closed item ("incident … came back"). The item count must stay
// the same over at least three cycles, and nothing may be reopened.
func TestCloseCreatesNoEcho(t *testing.T) {
	h := newHarness(t)
	names, incident := h.raise(2)
	h.cycle()
	it := h.itemOf(incident)
	before := len(h.allItems())
	if before != 1 {
		t.Fatalf("after the first cycle: %d work items, want 1 (the incident's, with both Defender alerts)", before)
	}
	h.walk(it.ID, "false positive: a scheduled scan")
	for range 4 {
		h.cycle()
		h.clk.Advance(time.Minute)
	}
	if n := len(h.allItems()); n != before {
		t.Errorf("after the close and 4 cycles: %d work items, want %d", n, before)
	}
	for _, e := range h.timeline(it.ID) {
		if e.Kind == workitem.KindReopened || strings.Contains(e.Message, "came back") || strings.Contains(e.Message, "now tracked in") {
			t.Errorf("timeline of the closed item: %q, want no reopening", e.Message)
		}
	}
	if !timelineHas(h.timeline(it.ID), "closed at the source") && !timelineHas(h.timeline(it.ID), "resolved at the source") {
		t.Errorf("the closed item's timeline does not show the incident's close read back")
	}
	if inc := h.incident(incident); inc.Status != "Closed" {
		t.Errorf("incident = %s, want Closed", inc.Status)
	}
	for _, name := range names {
		if a, _ := h.sim.Sim.World().DefenderAlertByName(name); a.Status != simulator.DfCDismissed && a.Status != simulator.DfCResolved {
			t.Errorf("Defender alert %s = %s, want settled", name, a.Status)
		}
	}
	for w, n := range h.writes() {
		if n != 1 {
			t.Errorf("%s queued %d times, want once", w, n)
		}
	}
}

// TestOneFindingOneItem is defect 4: a Defender for Cloud alert that a
// Sentinel incident contains is tracked on the incident's Issue item and
// gets no Problem item of its own, whichever of the two arrives first.
func TestOneFindingOneItem(t *testing.T) {
	h := newHarness(t)
	names, incident := h.raise(1)
	h.cycle()
	h.clk.Advance(incidentGrace + time.Minute)
	h.cycle()
	items := h.allItems()
	if len(items) != 1 || items[0].Type != workitem.TypeIssue {
		t.Fatalf("work items = %+v, want one Issue", items)
	}
	it := h.itemOf(incident)
	if got := h.alertItem(names[0]); got != it.ID {
		t.Errorf("the Defender alert is on item %d, want the incident's item %d", got, it.ID)
	}
	if it.AlertCount != 1 || it.KeyEntity == "" {
		t.Errorf("incident item: alert_count %d key entity %q, want 1 and the alert's key entity", it.AlertCount, it.KeyEntity)
	}
}

// TestAlertWithoutIncident: with no incident within the grace period, the
// alert gets a Problem item; until then it has none.
func TestAlertWithoutIncident(t *testing.T) {
	h := newHarness(t)
	a := h.sim.Sim.World().RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true})
	h.cycle()
	if n := len(h.allItems()); n != 0 {
		t.Fatalf("within the grace period: %d items, want 0 (the alert waits for its incident)", n)
	}
	h.clk.Advance(incidentGrace + time.Second)
	h.cycle()
	items := h.allItems()
	if len(items) != 1 || items[0].Type != workitem.TypeProblem || h.alertItem(a.Name) != items[0].ID {
		t.Fatalf("after the grace period: %+v, want one Problem item for the alert", items)
	}
	if !timelineHas(h.timeline(items[0].ID), "no incident contained it within 10m0s") {
		t.Errorf("the Problem item's timeline does not say why it exists: %+v", h.timeline(items[0].ID))
	}
}

// TestLateIncidentMerges: an incident that shows up after the alert's
// Problem item was made takes the alert; the Problem item is merged into
// the incident's item, its pending write is cancelled, the timelines
// explain it, and closing the incident's item writes each change to each
// source once.
func TestLateIncidentMerges(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	w := h.sim.Sim.World()
	lone := w.RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true})
	h.cycle()
	h.clk.Advance(incidentGrace + time.Second)
	h.cycle()
	problem := h.alertItem(lone.Name)
	for _, to := range []string{"Approved", "Active"} {
		if _, err := h.items.Transition(ctx, analyst, problem, to, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.items.Update(ctx, analyst, problem, workitem.Patch{Tags: &[]string{"triaged"}}, 0); err != nil {
		t.Fatal(err)
	}

	// An analyst relates the alert to another finding's incident.
	_, incident := h.raise(1)
	if err := w.RelateAlert(incident, lone.SentinelAlertID); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	h.cycle()

	it := h.itemOf(incident)
	p, err := h.db.GetWorkItem(ctx, problem)
	if err != nil {
		t.Fatal(err)
	}
	if p.MergedInto != it.ID {
		t.Fatalf("Problem item %d merged_into = %d, want %d", problem, p.MergedInto, it.ID)
	}
	if got := h.alertItem(lone.Name); got != it.ID {
		t.Errorf("the alert is on item %d, want the incident's %d", got, it.ID)
	}
	if it.AlertCount != 2 || !contains(it.Tags, "triaged") {
		t.Errorf("incident item: alert_count %d tags %v, want 2 alerts and the Problem item's tag", it.AlertCount, it.Tags)
	}
	if !timelineHas(h.timeline(problem), "merged into work item") || !timelineHas(h.timeline(it.ID), "merged into this item") {
		t.Errorf("the merge is not explained on both timelines")
	}
	ms, _ := h.db.ListOutbox(ctx, outbox.Cancelled, problem, 0, 10)
	delivered, _ := h.db.ListOutbox(ctx, outbox.Done, problem, 0, 10)
	if len(ms)+len(delivered) == 0 {
		t.Errorf("the Problem item queued no write at all; the test expects its InProgress write")
	}
	if _, err := h.items.Transition(ctx, analyst, problem, "Verification", "", 0); err == nil {
		t.Errorf("a merged item moved; want a conflict")
	}
	if n := len(h.allItems()); n != 2 {
		t.Errorf("%d items, want 2 (the incident's and the merged Problem)", n)
	}

	h.walk(it.ID, "true positive: confirmed")
	for range 3 {
		h.cycle()
		h.clk.Advance(time.Minute)
	}
	for w, n := range h.writes() {
		if n != 1 {
			t.Errorf("%s queued %d times, want once", w, n)
		}
	}
	if a, _ := w.DefenderAlertByName(lone.Name); a.Status != simulator.DfCResolved {
		t.Errorf("the merged alert = %s at Defender, want Resolved", a.Status)
	}
	if n := len(h.allItems()); n != 2 {
		t.Errorf("after the close: %d items, want 2", n)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
