package store_test

import (
	"context"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestIncidentLinkKey: one incident shown by Sentinel and by Graph is one
// row and one work item, whichever view comes first; the primary view
// keeps it, a secondary view never overwrites it.
func TestIncidentLinkKey(t *testing.T) {
	sentinelView := func(title string, secondary bool) alert.Incident {
		return alert.Incident{Source: "sentinel", SourceID: "6f1d-guid", Ref: "/subscriptions/s/resourceGroups/rg/providers/" +
			"Microsoft.OperationalInsights/workspaces/ws/providers/Microsoft.SecurityInsights/incidents/6f1d-guid",
			LinkKey: "xdr:42", Title: title, Severity: alert.SeverityHigh, Secondary: secondary}
	}
	graphView := func(title string, secondary bool) alert.Incident {
		return alert.Incident{Source: "graph", SourceID: "42", Ref: "42", LinkKey: "xdr:42", Title: title,
			Severity: alert.SeverityHigh, Secondary: secondary}
	}
	for _, tc := range []struct {
		name        string
		first, then alert.Incident
		wantSource  string
		wantTitle   string
	}{
		{"graph primary, Sentinel first", sentinelView("from sentinel", true), graphView("from graph", false), "graph", "from graph"},
		{"graph primary, Graph first", graphView("from graph", false), sentinelView("from sentinel", true), "graph", "from graph"},
		{"sentinel primary, Graph first", graphView("from graph", true), sentinelView("from sentinel", false), "sentinel", "from sentinel"},
		{"sentinel primary, Sentinel first", sentinelView("from sentinel", false), graphView("from graph", true), "sentinel", "from sentinel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				proc := workitem.DefaultProcess()
				var items []int64
				for _, in := range []alert.Incident{tc.first, tc.then, tc.first, tc.then} {
					if err := in.Normalize(t0); err != nil {
						t.Fatal(err)
					}
					r, err := db.UpsertIncident(ctx, proc, "test", in)
					if err != nil {
						t.Fatal(err)
					}
					items = append(items, r.WorkItemID)
				}
				for _, id := range items {
					if id != items[0] || id == 0 {
						t.Fatalf("work items %v, want one", items)
					}
				}
				list, err := db.ListIncidents(ctx, "", 0, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 {
					t.Fatalf("%d incidents, want 1", len(list))
				}
				got := list[0]
				if got.Source != tc.wantSource || got.Title != tc.wantTitle || got.LinkKey != "xdr:42" {
					t.Fatalf("incident %s/%s %q link %q, want source %s title %q", got.Source, got.SourceID, got.Title, got.LinkKey, tc.wantSource, tc.wantTitle)
				}
				incs, err := db.ItemIncidents(ctx, items[0])
				if err != nil || len(incs) != 1 || incs[0].LinkKey != "xdr:42" {
					t.Fatalf("item incidents %+v %v", incs, err)
				}
			})
		})
	}
}
