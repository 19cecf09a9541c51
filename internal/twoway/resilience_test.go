package twoway_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var analyst = auth.Actor{Kind: "user", Name: "ana@contoso.com", Role: auth.RoleResponder}

func (h *harness) walk(id int64, reason string) {
	h.t.Helper()
	for _, to := range []string{"Approved", "Active", "Verification", "Closed"} {
		r := ""
		if to == "Closed" {
			r = reason
		}
		if _, err := h.items.Transition(context.Background(), analyst, id, to, r, 0); err != nil {
			h.t.Fatalf("move %d to %s: %v", id, to, err)
		}
	}
}

// pending counts outbox messages still to send.
func (h *harness) pending() int {
	h.t.Helper()
	ms, err := h.db.ListOutbox(context.Background(), outbox.Pending, 0, 0, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(ms)
}

// drain sends until nothing is pending, fast-forwarding vigil's clock
// over each backoff.
func (h *harness) drain(rounds int) {
	h.t.Helper()
	for range rounds {
		h.send()
		if h.pending() == 0 {
			return
		}
		h.clk.Advance(outbox.MaxDelay)
	}
	h.t.Fatalf("outbox still has %d pending messages after %d rounds", h.pending(), rounds)
}

func timelineHas(tl []workitem.Entry, s string) bool {
	for _, e := range tl {
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

// TestWriteBackThroughFaults closes a work item while the tenant throttles
// (a 429 storm), refuses every token issued so far, and has an analyst
// edit the incident between vigil's read and write; and restarts vigil
// with the writes still pending. The incident is closed once, with the
// classification the reason picked, and every step is on the timeline.
func TestWriteBackThroughFaults(t *testing.T) {
	h := newHarness(t)
	names, incName := h.raise(1)
	h.cycle()
	it := h.itemOf(incName)
	h.walk(it.ID, "False positive: a backup job")
	if h.pending() < 2 {
		t.Fatalf("pending = %d, want the Sentinel close and the Defender resolve", h.pending())
	}

	// A restart before anything is sent: the writes are in the database.
	h.restart()
	if h.pending() < 2 {
		t.Fatalf("after restart pending = %d, want the queued writes kept", h.pending())
	}

	sim := h.sim.Sim
	sim.Inject(simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: "status", Status: 429, RetryAfter: 30, Times: 4})
	sim.Inject(simulator.Fault{Endpoint: "defender.", Kind: "status", Status: 503, Times: 2})
	sim.ExpireTokens()
	h.send()
	if got := h.incident(incName).Status; got == simulator.IncidentClosed {
		t.Fatal("incident closed through a 429 storm on the first try")
	}
	sim.Inject(simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: "portal_edit", Times: 1})
	h.drain(12)

	inc := h.incident(incName)
	if inc.Status != simulator.IncidentClosed || inc.Classification != "FalsePositive" || inc.ClassificationReason != "IncorrectAlertLogic" {
		t.Errorf("incident = %s %s/%s, want Closed FalsePositive/IncorrectAlertLogic", inc.Status, inc.Classification, inc.ClassificationReason)
	}
	if a, _ := sim.World().DefenderAlertByName(names[0]); a.Status != simulator.DfCResolved {
		t.Errorf("Defender alert = %s, want Resolved", a.Status)
	}
	tl := h.timeline(it.ID)
	for _, want := range []string{"will be retried", "write-back done: sentinel incident.close", "write-back done: defender alert.resolve"} {
		if !timelineHas(tl, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if puts := sim.Hits("sentinel.incidents.put"); puts < 5 {
		t.Errorf("incident PUTs = %d, want the throttled tries and the one that landed", puts)
	}

	// Quiet cycles afterwards: the closed incident is seen, nothing more
	// is written (no echo of vigil's own close).
	h.cycle()
	h.cycle()
	if h.pending() != 0 {
		t.Errorf("pending after quiet cycles = %d", h.pending())
	}
}

// TestClosedInSentinelMovesItem: an analyst closes the incident in the
// Sentinel portal; the item follows with the cause on its timeline, and
// nothing is written back to Sentinel.
func TestClosedInSentinelMovesItem(t *testing.T) {
	h := newHarness(t)
	_, incName := h.raise(1)
	h.cycle()
	it := h.itemOf(incName)
	if err := h.sim.Sim.World().WithIncident(incName, func(in *simulator.Incident) (bool, error) {
		in.Status, in.Classification, in.ClassificationReason = simulator.IncidentClosed, "TruePositive", "SuspiciousActivity"
		in.LastModified = time.Now()
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.cycle()
	got, _ := h.db.GetWorkItem(context.Background(), it.ID)
	if got.State != "Closed" {
		t.Fatalf("item = %s, want Closed", got.State)
	}
	n := h.incident(incName).Number
	want := "closed in Sentinel as TruePositive (SuspiciousActivity)"
	if tl := h.timeline(it.ID); !timelineHas(tl, want) || !timelineHas(tl, "incident "+itoa(n)) {
		t.Errorf("timeline lacks %q for incident %d", want, n)
	}
	ms, _ := h.db.ListOutbox(context.Background(), "", it.ID, 0, 50)
	for _, m := range ms {
		if m.Target == "sentinel" {
			t.Errorf("a close that came from Sentinel was written back to it: %+v", m)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// failingEnqueue fails its first Enqueue, as a crash between creating the
// work item and queueing the claim would leave things.
type failingEnqueue struct {
	twoway.GraphStore
	fail int
}

func (f *failingEnqueue) Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error) {
	if f.fail > 0 {
		f.fail--
		return 0, errors.New("crash")
	}
	return f.GraphStore.Enqueue(ctx, msgs, entries)
}

// TestGraphClaimExactlyOnce: new Graph alerts from another product create
// one work item each and are set inProgress at the source once, even when
// the claim could not be queued the first time.
func TestGraphClaimExactlyOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var ids []string
	for _, src := range []string{"microsoftDefenderForEndpoint", "microsoftDefenderForIdentity"} {
		a, err := h.sim.Sim.World().RaiseGraphAlert(simulator.GraphAlertSpec{ServiceSource: src})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	st := &failingEnqueue{GraphStore: h.db, fail: 1}
	p := twoway.NewGraphPoller(h.graph, dbIngest{h.db, h.proc}, st, twoway.GraphOptions{
		Filter: "serviceSource ne 'microsoftDefenderForCloud'", Claim: true, Clock: h.clk, Logger: h.log})
	if err := p.UpdateAll(ctx); err == nil {
		t.Fatal("first poll: want the claim failure reported")
	}
	for range 3 {
		if err := p.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
		h.send()
	}
	items, _ := h.db.ListWorkItems(ctx, workitem.Filter{Source: "graph"})
	if len(items) != len(ids) {
		t.Errorf("work items = %d, want one per alert (%d)", len(items), len(ids))
	}
	ms, _ := h.db.ListOutbox(ctx, "", 0, 0, 100)
	claims := map[string]int{}
	for _, m := range ms {
		if strings.HasPrefix(m.IdemKey, "graph:claim:") {
			claims[m.Resource]++
			if m.State != outbox.Done {
				t.Errorf("claim of %s is %s", m.Resource, m.State)
			}
		}
	}
	for _, id := range ids {
		if claims[id] != 1 {
			t.Errorf("alert %s claimed %d times, want once", id, claims[id])
		}
		if a, _ := h.sim.Sim.World().GraphAlertByID(id); a.Status != "inProgress" {
			t.Errorf("alert %s is %q at the source, want inProgress", id, a.Status)
		}
	}
}

// TestCommentsAndOwnerMirrored: a comment on a work item reaches its
// Sentinel incident once (a resend overwrites), and its assignee becomes
// the incident's owner.
func TestCommentsAndOwnerMirrored(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, incName := h.raise(1)
	h.cycle()
	it := h.itemOf(incName)
	if _, err := h.items.Comment(ctx, analyst, it.ID, "Blocked the source IP at the firewall."); err != nil {
		t.Fatal(err)
	}
	who := "bob@contoso.com"
	if _, err := h.items.Update(ctx, analyst, it.ID, workitem.Patch{Assignee: &who}, 0); err != nil {
		t.Fatal(err)
	}
	h.drain(3)
	h.cycle()
	inc := h.incident(incName)
	if len(inc.Comments) != 1 || !strings.Contains(inc.Comments[0].Message, "Blocked the source IP") ||
		!strings.Contains(inc.Comments[0].Message, "ana@contoso.com") {
		t.Errorf("incident comments = %+v, want the one comment with its author", inc.Comments)
	}
	if inc.Owner.Email != who {
		t.Errorf("incident owner = %+v, want %s", inc.Owner, who)
	}
	if h.pending() != 0 {
		t.Errorf("pending = %d after the owner and comment writes", h.pending())
	}
}

// TestGraphLegacyClaim: the legacy alerts API filtered by provider ASC
// brings Defender for Cloud alerts in, and the claim sets them inProgress
// through the legacy PATCH, which Defender for Cloud sees.
func TestGraphLegacyClaim(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	names, _ := h.raise(1)
	p := twoway.NewGraphPoller(h.graph, dbIngest{h.db, h.proc}, h.db, twoway.GraphOptions{
		LegacyProvider: "ASC", Claim: true, Clock: h.clk, Logger: h.log})
	for range 2 {
		if err := p.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
		h.send()
	}
	items, _ := h.db.ListWorkItems(ctx, workitem.Filter{Source: "graph"})
	if len(items) != 1 {
		t.Fatalf("graph work items = %d, want 1", len(items))
	}
	if a, _ := h.sim.Sim.World().DefenderAlertByName(names[0]); a.Status != simulator.DfCInProgress {
		t.Errorf("Defender alert = %s after the legacy claim, want InProgress", a.Status)
	}
	ms, _ := h.db.ListOutbox(ctx, "", 0, 0, 10)
	if len(ms) != 1 || ms[0].Op != "legacyAlert.update" || ms[0].State != outbox.Done {
		t.Errorf("outbox = %+v, want one delivered legacy claim", ms)
	}
}

// TestProblemFollowsItsAlert: a Defender alert that no incident contains
// gets a Problem item once its grace has passed; dismissed by its owner,
// it removes that item, and resolved, it closes it; nothing is written
// back to Defender for either.
func TestProblemFollowsItsAlert(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	w := h.sim.Sim.World()
	dismissed := []string{w.RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true}).Name}
	resolved := []string{w.RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true}).Name}
	h.cycle()
	h.clk.Advance(incidentGrace + time.Second)
	h.cycle()
	h.setDefender(dismissed[0], simulator.DfCDismissed)
	h.setDefender(resolved[0], simulator.DfCResolved)
	h.cycle()
	for name, want := range map[string]string{dismissed[0]: "Removed", resolved[0]: "Closed"} {
		list, _ := h.db.ListAlerts(ctx, store.AlertFilter{Source: "defender", Limit: 100})
		var itemID int64
		for _, a := range list {
			if a.SourceID == name {
				itemID = a.WorkItemID
			}
		}
		it, err := h.db.GetWorkItem(ctx, itemID)
		if err != nil || it.State != want || it.Type != "Problem" {
			t.Errorf("Problem item of %s = %s %s, %v; want %s", name, it.Type, it.State, err, want)
		}
		if !timelineHas(h.timeline(itemID), "defender alert "+name) {
			t.Errorf("item %d's timeline lacks the cause", itemID)
		}
		ms, _ := h.db.ListOutbox(ctx, "", itemID, 0, 10)
		for _, m := range ms {
			if m.Target == "defender" {
				t.Errorf("a change that came from Defender was written back: %+v", m)
			}
		}
	}
}
