package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestIncidentLifecycle(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		mk := func(id string) alert.Alert {
			a := testAlert(id)
			a.Source = "sentinel"
			return a
		}
		res, err := db.Ingest(ctx, proc, "test", []alert.Alert{mk("a1"), mk("a2")})
		if err != nil {
			t.Fatal(err)
		}
		inc := alert.Incident{Source: "sentinel", SourceID: "inc-42", Title: "Multi-stage attack", Severity: alert.SeverityHigh,
			AlertRefs: []string{"a1", "a2", "not-yet"}, Raw: []byte(`{"name":"inc-42"}`)}
		if err := inc.Normalize(t0); err != nil {
			t.Fatal(err)
		}
		r1, err := db.UpsertIncident(ctx, proc, "test", inc)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Outcome != store.OutcomeCreated || r1.Version != 1 || fmt.Sprint(r1.MissingAlerts) != "[not-yet]" {
			t.Errorf("first upsert = %+v, want created v1 missing [not-yet]", r1)
		}
		got, err := db.GetIncident(ctx, r1.IncidentID)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint([]int64{res[0].AlertID, res[1].AlertID}); fmt.Sprint(got.AlertIDs) != want {
			t.Errorf("incident alert ids = %v, want %s", got.AlertIDs, want)
		}
		if string(got.Raw) != `{"name":"inc-42"}` {
			t.Errorf("incident raw = %s", got.Raw)
		}
		item, err := db.GetWorkItem(ctx, r1.WorkItemID)
		if err != nil {
			t.Fatal(err)
		}
		if item.Type != workitem.TypeIssue || item.AlertCount != 2 || fmt.Sprint(item.IncidentIDs) != fmt.Sprint([]int64{r1.IncidentID}) {
			t.Errorf("incident item = type %s, %d alerts, incidents %v", item.Type, item.AlertCount, item.IncidentIDs)
		}

		// The same incident again: a new version on the same item, no duplicate links.
		inc.Status = alert.StatusInProgress
		r2, err := db.UpsertIncident(ctx, proc, "test", inc)
		if err != nil {
			t.Fatal(err)
		}
		if r2.IncidentID != r1.IncidentID || r2.Version != 2 || r2.WorkItemID != r1.WorkItemID || r2.Outcome != store.OutcomeUpdated {
			t.Errorf("second upsert = %+v, want version 2 on the same item", r2)
		}
		vs, err := db.IncidentVersions(ctx, r1.IncidentID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[1].Status != alert.StatusInProgress || len(vs[1].AlertIDs) != 2 {
			t.Errorf("versions = %+v", vs)
		}

		// The item is closed. The incident read again as it was, and then
		// closed at its source (vigil's own close read back by the next
		// poll): both stay on the closed item.
		if _, err := db.UpdateWorkItem(ctx, r1.WorkItemID, func(it *workitem.Item) ([]workitem.Entry, error) {
			it.State = "Closed"
			return []workitem.Entry{{Kind: workitem.KindTransition, Actor: "test", Message: "closed"}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		r3, err := db.UpsertIncident(ctx, proc, "test", inc)
		if err != nil {
			t.Fatal(err)
		}
		if r3.WorkItemID != r1.WorkItemID || r3.Outcome == store.OutcomeReopened || r3.Outcome == store.OutcomeCreated {
			t.Errorf("re-read after close = %+v, want it on the closed item %d", r3, r1.WorkItemID)
		}
		inc.Status = alert.StatusResolved
		r4, err := db.UpsertIncident(ctx, proc, "test", inc)
		if err != nil {
			t.Fatal(err)
		}
		if r4.WorkItemID != r1.WorkItemID || r4.Outcome != store.OutcomeUpdated || r4.PreviousStatus != alert.StatusInProgress {
			t.Errorf("closed at the source after close = %+v, want updated on the closed item %d", r4, r1.WorkItemID)
		}
		tl := mustTimeline(t, db, r1.WorkItemID)
		if got, want := tl[len(tl)-1].Message, fmt.Sprintf("incident inc-42 (version %d): resolved at the source", r4.Version); got != want {
			t.Errorf("closed item's last entry = %q, want %q", got, want)
		}
		if it := mustGetItem(t, db, r1.WorkItemID); it.State != "Closed" {
			t.Errorf("closed item state = %s, want Closed", it.State)
		}

		// Reopened at its source: the incident came back, a new item
		// linked to the old.
		inc.Status = alert.StatusNew
		r5, err := db.UpsertIncident(ctx, proc, "test", inc)
		if err != nil {
			t.Fatal(err)
		}
		if r5.Outcome != store.OutcomeReopened || r5.WorkItemID == r1.WorkItemID {
			t.Errorf("reopened at the source = %+v, want reopened on a new item", r5)
		}
		next, err := db.GetWorkItem(ctx, r5.WorkItemID)
		if err != nil {
			t.Fatal(err)
		}
		if next.PreviousID != r1.WorkItemID {
			t.Errorf("new item previous_id = %d, want %d", next.PreviousID, r1.WorkItemID)
		}
		if items, err := db.ListWorkItems(ctx, workitem.Filter{Source: "sentinel"}); err != nil || len(items) != 4 {
			t.Errorf("ListWorkItems = %d items, %v; want 4 (two alerts, the incident's and its successor)", len(items), err)
		}
		list, err := db.ListIncidents(ctx, "sentinel", 0, 10)
		if err != nil || len(list) != 1 {
			t.Errorf("ListIncidents = %d, %v; want 1", len(list), err)
		}
	})
}

func TestIncidentNormalize(t *testing.T) {
	tests := []struct {
		name  string
		in    alert.Incident
		field string
	}{
		{"no source", alert.Incident{SourceID: "1", Title: "t"}, "source"},
		{"no id", alert.Incident{Source: "s", Title: "t"}, "source_id"},
		{"no title", alert.Incident{Source: "s", SourceID: "1"}, "title"},
		{"bad severity", alert.Incident{Source: "s", SourceID: "1", Title: "t", Severity: "urgent"}, "severity"},
		{"empty ref", alert.Incident{Source: "s", SourceID: "1", Title: "t", AlertRefs: []string{"a", " "}}, "alerts[1]"},
	}
	for _, tt := range tests {
		err := tt.in.Normalize(t0)
		if err == nil || !contains(err.Error(), tt.field+":") {
			t.Errorf("%s: Normalize = %v, want an error on %s", tt.name, err, tt.field)
		}
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s[:len(sub)] == sub) }
