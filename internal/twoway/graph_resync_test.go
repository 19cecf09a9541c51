package twoway_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// fakeAlertsV2 is a Graph tenant whose alerts a test edits directly,
// lastUpdateDateTime included: the simulator stamps every change with its
// clock, and the point here is a change stamped in the past.
type fakeAlertsV2 struct {
	mu      sync.Mutex
	alerts  map[string]graph.AlertV2
	filters []string // the $filter of each full list (no Since)
}

func (f *fakeAlertsV2) AlertsV2(_ context.Context, q graph.Query) ([]graph.AlertV2, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.Since.IsZero() {
		f.filters = append(f.filters, q.Filter)
	}
	var out []graph.AlertV2
	for _, a := range f.alerts {
		if !q.Since.IsZero() && a.LastUpdateDateTime.Before(q.Since) {
			continue
		}
		if strings.Contains(q.Filter, "status ne 'resolved'") && a.Status == "resolved" {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeAlertsV2) LegacyAlerts(context.Context, graph.LegacyQuery) ([]graph.LegacyAlert, error) {
	return nil, nil
}

func (f *fakeAlertsV2) set(a graph.AlertV2) {
	f.mu.Lock()
	f.alerts[a.ID] = a
	f.mu.Unlock()
}

// graphStatus is the status vigil stores for a Graph alert.
func (h *harness) graphStatus(id string) alert.Status {
	h.t.Helper()
	list, err := h.db.ListAlerts(context.Background(), store.AlertFilter{Source: "graph", Limit: 500})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range list {
		if a.SourceID == id {
			return a.Status
		}
	}
	h.t.Fatalf("vigil has no Graph alert %s", id)
	return ""
}

// TestGraphResync: a change stamped before the watermark is not in any
// delta; the periodic full list of open alerts picks it up, and only when
// it is due.
func TestGraphResync(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	now := h.clk.Now().UTC()
	alertAt := func(id, status string, updated time.Time) graph.AlertV2 {
		return graph.AlertV2{ID: id, Title: "Suspicious sign-in " + id, Severity: "high", Status: status,
			ServiceSource: "microsoftDefenderForIdentity", CreatedDateTime: now.Add(-2 * time.Hour), LastUpdateDateTime: updated}
	}
	api := &fakeAlertsV2{alerts: map[string]graph.AlertV2{}}
	api.set(alertAt("old", "new", now.Add(-time.Hour)))
	api.set(alertAt("recent", "new", now))
	p := twoway.NewGraphPoller(api, dbIngest{h.db, h.proc}, h.db, twoway.GraphOptions{
		Filter: "serviceSource ne 'microsoftDefenderForCloud'", Window: twoway.Window{Overlap: 5 * time.Minute, Resync: time.Hour},
		Clock: h.clk, Logger: h.log})
	poll := func() {
		t.Helper()
		if err := p.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	poll()
	if got := h.graphStatus("old"); got != alert.StatusNew {
		t.Fatalf("first poll: old is %s, want new", got)
	}

	// Someone takes the old alert on, and the source stamps the change
	// half an hour back: before the watermark less the overlap.
	api.set(alertAt("old", "inProgress", now.Add(-30*time.Minute)))
	h.clk.Advance(10 * time.Minute)
	poll()
	if got := h.graphStatus("old"); got != alert.StatusNew {
		t.Fatalf("a delta poll picked up the back-dated change (%s): the test does not test the resync", got)
	}
	h.clk.Advance(50 * time.Minute) // an hour since the last full list
	poll()
	if got := h.graphStatus("old"); got != alert.StatusInProgress {
		t.Errorf("after the resync: old is %s, want in_progress", got)
	}
	api.mu.Lock()
	filters := append([]string(nil), api.filters...)
	api.mu.Unlock()
	want := "(serviceSource ne 'microsoftDefenderForCloud') and status ne 'resolved'"
	if len(filters) != 2 || filters[0] != want || filters[1] != want {
		t.Errorf("full lists = %q, want two (first poll, resync) with %q", filters, want)
	}
	if items, _ := h.db.ListWorkItems(ctx, workitem.Filter{Source: "graph"}); len(items) != 2 {
		t.Errorf("work items = %d, want one per alert (2)", len(items))
	}
}

// TestGraphLegacyDefenderOneFinding: with the Defender connector running,
// a Defender for Cloud alert that the legacy Graph pull (provider ASC)
// reads too is one alert and one work item in vigil, whichever poller
// reads it first, and a status change made through the legacy API still
// reaches that alert through the Graph poller.
func TestGraphLegacyDefenderOneFinding(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	w := h.sim.Sim.World()
	a := w.RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true})
	p := twoway.NewGraphPoller(h.graph, dbIngest{h.db, h.proc}, h.db, twoway.GraphOptions{
		LegacyProvider: "ASC", Claim: true, Defender: h.db, Clock: h.clk, Logger: h.log})
	poll := func() {
		t.Helper()
		if err := p.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	poll() // before the Defender connector has read it
	h.cycle()
	poll()
	h.clk.Advance(incidentGrace + time.Second)
	h.cycle()
	poll()
	h.cycle()

	all, err := h.db.ListAlerts(ctx, store.AlertFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Source != "defender" || all[0].SourceID != a.Name {
		t.Fatalf("alerts = %+v, want the one Defender alert %s", all, a.Name)
	}
	if items := h.allItems(); len(items) != 1 || h.alertItem(a.Name) != items[0].ID {
		t.Fatalf("work items = %+v, want one, the Defender alert's", items)
	}
	if n := h.writes(); len(n) != 0 {
		t.Errorf("outbox = %v, want nothing (no claim of the Defender connector's alert)", n)
	}

	// An analyst resolves the alert in another tool through the legacy
	// API; only the Graph poller runs after it.
	raw := `{"status":"resolved","provider":"ASC","vendor":"Microsoft"}`
	if err := h.graph.Send(ctx, outbox.Message{Target: graph.Target, Op: graph.OpLegacyUpdate, Resource: a.Name, Payload: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Minute)
	poll()
	all, _ = h.db.ListAlerts(ctx, store.AlertFilter{Limit: 500})
	if len(all) != 1 || all[0].Status != alert.StatusResolved {
		t.Fatalf("alerts after the legacy resolve = %+v, want the one Defender alert, resolved", all)
	}
	if !timelineHas(h.timeline(h.alertItem(a.Name)), "Microsoft Graph") {
		t.Errorf("the item's timeline does not say the status came from Graph")
	}
}
