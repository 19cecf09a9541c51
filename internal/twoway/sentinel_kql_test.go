package twoway_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/twoway"
)

// bulkClient is a Sentinel connector that may read the workspace's tables
// through the Log Analytics query API.
func bulkClient(t testing.TB, srv *simulator.Server) *sentinel.Client {
	t.Helper()
	info := srv.Info
	c, err := sentinel.New(sentinel.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
		AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client(),
		WorkspaceID: info.WorkspaceID, LogAnalyticsURL: info.LogAnalyticsURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storedIncidents is what a store holds of the Sentinel incidents, by
// name, without the store's own ids.
func storedIncidents(t *testing.T, h *harness) map[string]string {
	t.Helper()
	list, err := h.db.ListIncidents(context.Background(), "sentinel", 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, in := range list {
		// Each harness has its own fake clock.
		in.ID, in.WorkItemID, in.CreatedAt, in.UpdatedAt = 0, 0, time.Time{}, time.Time{}
		b, _ := json.Marshal(in)
		out[in.SourceID] = string(b)
	}
	return out
}

// TestSentinelResyncThroughQueryAPI: the first poll through the query API
// stores what the ARM lookups store, without an ARM request; a 403 from
// the query API falls back to the lookups for that resync, and the next
// resync tries the query API again.
func TestSentinelResyncThroughQueryAPI(t *testing.T) {
	h := newHarness(t)
	w := h.sim.Sim.World()
	for range 6 {
		w.RaiseDefenderAlert(simulator.AlertSpec{})
	}
	h.raise(3)
	incs := w.Incidents()
	if _, _, err := w.UpdateIncident(incs[0].Name, "", simulator.IncidentUpdate{Title: "Owned", Severity: "High", Status: "Active",
		Owner: &simulator.Owner{ObjectID: "2046feea-040d-4a46-9e2b-91c2941bfa70", Email: "ada@contoso.com", UserPrincipalName: "ada@contoso.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.UpdateIncident(incs[1].Name, "", simulator.IncidentUpdate{Title: "Closed", Severity: "Low", Status: "Closed",
		Classification: "TruePositive", ClassificationReason: "SuspiciousActivity"}); err != nil {
		t.Fatal(err)
	}
	opts := twoway.SentinelOptions{Name: "ws", RequestsPerSecond: -1, Clock: h.clk, Logger: h.log}
	ctx := context.Background()

	// The ARM path, in the harness's store.
	if err := twoway.NewSentinelPoller(h.sentinel, h.db, h.items, h.proc, opts).UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := storedIncidents(t, h)
	if len(want) != 6 { // 7 incidents, one closed
		t.Fatalf("ARM path stored %d incidents, want 6", len(want))
	}

	// The query path, in a store of its own.
	h2 := buildHarness(t, h.sim)
	c := bulkClient(t, h.sim)
	if err := twoway.NewSentinelPoller(c, h2.db, h2.items, h2.proc, opts).UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Requests() != 0 || c.LogQueries() != 2 {
		t.Fatalf("query path: %d ARM requests, %d queries; want 0 and 2", c.Requests(), c.LogQueries())
	}
	got := storedIncidents(t, h2)
	if len(got) != len(want) {
		t.Fatalf("query path stored %d incidents, ARM path %d", len(got), len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Fatalf("incident %s:\nquery: %s\nARM:   %s", name, got[name], w)
		}
	}

	// No role on the workspace: 403, and the lookups instead.
	h3 := buildHarness(t, h.sim)
	c3 := bulkClient(t, h.sim)
	h.sim.Sim.Inject(simulator.Fault{Endpoint: "loganalytics.query", Kind: simulator.FaultInsufficientAccess, Times: 1})
	p3 := twoway.NewSentinelPoller(c3, h3.db, h3.items, h3.proc, opts)
	if err := p3.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if c3.LogQueries() != 1 || c3.Requests() != 1+6 { // one list page, one lookup per open incident
		t.Fatalf("fallback: %d queries, %d ARM requests; want 1 and 7", c3.LogQueries(), c3.Requests())
	}
	if got := storedIncidents(t, h3); len(got) != len(want) {
		t.Fatalf("fallback stored %d incidents, want %d", len(got), len(want))
	}
	// The next resync tries the query API again; what it reads is stored
	// already, so it costs no lookup.
	h.clk.Advance(2 * time.Hour) // the pollers' clock (opts)
	before := c3.Requests()
	if err := p3.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if c3.LogQueries() != 3 {
		t.Fatalf("second resync: %d queries in all, want 3", c3.LogQueries())
	}
	// The delta list, and a lookup for the one incident it brings that
	// the open-only resyncs had not: the closed one.
	if n := c3.Requests() - before; n != 2 {
		t.Fatalf("second resync: %d ARM requests, want 2 (the delta list, the closed incident's alerts)", n)
	}
}
