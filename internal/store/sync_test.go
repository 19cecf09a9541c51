package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func sentinelIncident(name string, status alert.Status, members ...alert.Member) alert.Incident {
	return alert.Incident{Source: "sentinel", SourceID: name, Title: "Incident " + name, Severity: alert.SeverityHigh,
		Status: status, FirstSeen: t0, LastSeen: t0, Members: members, Ref: "/subscriptions/s/incidents/" + name}
}

func TestIncidentMembersAcrossSources(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		// The Sentinel incident arrives before the Defender alert it names.
		in := sentinelIncident("inc-1", alert.StatusNew, alert.Member{Source: "defender", SourceID: "dfc-1", Status: alert.StatusNew},
			alert.Member{Source: "defender", SourceID: "dfc-2", Status: alert.StatusNew})
		r, err := db.UpsertIncident(ctx, proc, "sentinel", in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != store.OutcomeCreated || len(r.MissingAlerts) != 2 || r.MissingAlerts[0] != "defender:dfc-1" {
			t.Fatalf("first upsert = %+v, want created with both members missing", r)
		}
		open, err := db.OpenIncidents(ctx, "sentinel")
		if err != nil || len(open) != 1 || len(open[0].Members) != 2 || open[0].Ref != in.Ref {
			t.Fatalf("open = %+v, %v; want the incident with 2 members and its ref", open, err)
		}

		// The Defender connector brings the alert, with a newer status: the
		// reconciler's view prefers the alert's own status.
		a := testAlert("dfc-1")
		a.Status = alert.StatusDismissed
		if _, err := db.Ingest(ctx, proc, "defender", []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
		open, _ = db.OpenIncidents(ctx, "sentinel")
		got := map[string]alert.Status{}
		for _, m := range open[0].Members {
			got[m.SourceID] = m.Status
		}
		if got["dfc-1"] != alert.StatusDismissed || got["dfc-2"] != alert.StatusNew {
			t.Fatalf("member statuses = %v, want dfc-1 dismissed (the alert's own) and dfc-2 new (Sentinel's view)", got)
		}

		// Re-reading the unchanged incident adds no version, but links the
		// member that arrived since.
		r2, err := db.UpsertIncident(ctx, proc, "sentinel", in)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Outcome != store.OutcomeUnchanged || r2.PreviousStatus != alert.StatusNew {
			t.Fatalf("re-read = %+v, want unchanged", r2)
		}
		inc, err := db.GetIncident(ctx, r.IncidentID)
		if err != nil || inc.Version != 1 || len(inc.AlertIDs) != 1 {
			t.Fatalf("incident = %+v, %v; want version 1 with the arrived alert linked", inc, err)
		}
		it, _ := db.GetWorkItem(ctx, r.WorkItemID)
		if len(it.AlertIDs) != 1 {
			t.Fatalf("work item alerts = %v, want the linked Defender alert", it.AlertIDs)
		}

		// Closed in Sentinel: a new version, the previous status reported,
		// and no longer open.
		r3, err := db.UpsertIncident(ctx, proc, "sentinel", sentinelIncident("inc-1", alert.StatusResolved, in.Members...))
		if err != nil || r3.Outcome != store.OutcomeUpdated || r3.PreviousStatus != alert.StatusNew || r3.Version != 2 {
			t.Fatalf("close = %+v, %v; want updated to version 2 from new", r3, err)
		}
		if open, _ := db.OpenIncidents(ctx, "sentinel"); len(open) != 0 {
			t.Fatalf("open after close = %+v, want none", open)
		}
	})
}

func TestExternalRefsAndCursors(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{testAlert("ref-1")})
		if err != nil {
			t.Fatal(err)
		}
		id := res[0].WorkItemID
		if ref, err := db.ExternalRef(ctx, id, "devops"); err != nil || ref != "" {
			t.Fatalf("ref before = %q, %v; want none", ref, err)
		}
		for range 2 { // saving the same ref twice is harmless
			if err := db.SaveExternalRef(ctx, id, "devops", "17"); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.SaveExternalRef(ctx, id, "devops", "18"); err == nil || !strings.Contains(err.Error(), "already mirrored") {
			t.Fatalf("second ref = %v, want already mirrored", err)
		}
		if ref, _ := db.ExternalRef(ctx, id, "devops"); ref != "17" {
			t.Fatalf("ref = %q, want 17", ref)
		}
		if got, _ := db.WorkItemByRef(ctx, "devops", "17"); got != id {
			t.Fatalf("item by ref = %d, want %d", got, id)
		}
		if got, _ := db.WorkItemByRef(ctx, "freshdesk", "17"); got != 0 {
			t.Fatalf("item by another system's ref = %d, want 0", got)
		}
		tl, _ := db.Timeline(ctx, id, 0, 100)
		mirrored := 0
		for _, e := range tl {
			if strings.Contains(e.Message, "mirrored as devops 17") {
				mirrored++
			}
		}
		if mirrored != 1 {
			t.Fatalf("timeline has %d mirror entries, want 1", mirrored)
		}

		if v, err := db.Cursor(ctx, "sentinel:ws"); err != nil || v != "" {
			t.Fatalf("cursor before = %q, %v", v, err)
		}
		db.SetCursor(ctx, "sentinel:ws", "a")
		db.SetCursor(ctx, "sentinel:ws", "b")
		if v, _ := db.Cursor(ctx, "sentinel:ws"); v != "b" {
			t.Fatalf("cursor = %q, want b", v)
		}

		msgs := []outbox.Message{{WorkItemID: id, Target: "sentinel", Op: "incident.close", Resource: "r", IdemKey: "reconcile:1"}}
		entries := []workitem.Entry{{Actor: "reconciler", Kind: workitem.KindSync, Message: "decided to close"}}
		for i, want := range []int{1, 0} {
			n, err := db.Enqueue(ctx, msgs, entries)
			if err != nil || n != want {
				t.Fatalf("enqueue %d = %d, %v; want %d", i, n, err, want)
			}
		}
		tl, _ = db.Timeline(ctx, id, 0, 100)
		decided := 0
		for _, e := range tl {
			if e.Message == "decided to close" {
				decided++
			}
		}
		if decided != 1 {
			t.Fatalf("decision entries = %d, want 1 (a repeated decision adds nothing)", decided)
		}
		if ids, err := db.WorkItemIDsAfter(ctx, 0, 10); err != nil || len(ids) != 1 || ids[0] != id {
			t.Fatalf("ids after 0 = %v, %v", ids, err)
		}
	})
}

func TestIncidentWithoutWorkItem(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := sentinelIncident("quiet-1", alert.StatusNew, alert.Member{Source: "defender", SourceID: "q-1"})
		in.NoWorkItem = true
		r, err := db.UpsertIncident(ctx, workitem.DefaultProcess(), "sentinel", in)
		if err != nil || r.WorkItemID != 0 || r.Outcome != store.OutcomeCreated {
			t.Fatalf("upsert = %+v, %v; want created without a work item", r, err)
		}
		if items, _ := db.ListWorkItems(ctx, workitem.Filter{}); len(items) != 0 {
			t.Fatalf("work items = %d, want none", len(items))
		}
		if open, _ := db.OpenIncidents(ctx, "sentinel"); len(open) != 1 || open[0].WorkItemID != 0 {
			t.Fatalf("open = %+v, want the incident for the reconciler", open)
		}
	})
}
