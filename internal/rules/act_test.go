package rules_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var person = auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}

func setup(t *testing.T, db *store.DB, clk clock.Clock) (*rules.Service, *workitem.Service) {
	t.Helper()
	proc := workitem.DefaultProcess()
	items := workitem.NewService(db, proc, clk)
	svc := rules.New(db, proc, clk, nil)
	svc.Act(items, db)
	items.Observe(svc)
	return svc, items
}

func save(t *testing.T, svc *rules.Service, d automation.Definition) automation.Rule {
	t.Helper()
	r, err := svc.Save(context.Background(), auth.System, 0, d)
	if err != nil {
		t.Fatalf("save %s: %v", d.Name, err)
	}
	return r
}

// TestUpdateTriggersAndLoopGuard: a move triggers item.moved rules,
// which act through the items service as the rule; the rule's own
// assignment does not trigger item.assigned rules (the loop guard), a
// person's does.
func TestUpdateTriggersAndLoopGuard(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, items := setup(t, db, clk)
		save(t, svc, automation.Definition{Name: "approved goes to lead", Enabled: true, Order: 1, Triggers: []string{"item.moved"},
			Builder: &automation.Builder{Rows: []automation.BuilderRow{{Property: "changed.state.to", Operator: "equals", Values: []string{"approved"}}}},
			Actions: []automation.ActionSpec{{Type: "assign", Assignee: "lead@example.com"}, {Type: "comment", Text: "approved: lead owns it"}}})
		save(t, svc, automation.Definition{Name: "tag on assign", Enabled: true, Order: 2, Triggers: []string{"item.assigned"},
			Actions: []automation.ActionSpec{{Type: "tags", Add: []string{"assigned"}}}})

		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{{Source: "api", SourceID: "a1", Title: "t", Severity: alert.SeverityLow,
			FirstSeen: clk.Now(), LastSeen: clk.Now(), Status: alert.StatusNew}})
		if err != nil {
			t.Fatal(err)
		}
		id := res[0].WorkItemID
		if _, err := items.Transition(ctx, person, id, "Approved", "", 0); err != nil {
			t.Fatal(err)
		}
		it, _ := db.GetWorkItem(ctx, id)
		if it.Assignee != "lead@example.com" {
			t.Errorf("assignee = %q, want the rule's", it.Assignee)
		}
		if len(it.Tags) != 0 {
			t.Errorf("tags = %v: the rule's own assignment triggered a rule (loop guard)", it.Tags)
		}
		cs, _ := db.Comments(ctx, id)
		if len(cs) != 1 || cs[0].Author != "rule:approved goes to lead@v1" {
			t.Errorf("comments = %+v", cs)
		}
		if _, err := items.Update(ctx, person, id, workitem.Patch{Assignee: ptr("bo@example.com")}, 0); err != nil {
			t.Fatal(err)
		}
		it, _ = db.GetWorkItem(ctx, id)
		if !slices.Equal(it.Tags, []string{"assigned"}) {
			t.Errorf("tags after a person's assignment = %v, want [assigned]", it.Tags)
		}
		tl, _ := db.Timeline(ctx, id, 0, 100)
		var hits []string
		for _, e := range tl {
			if e.Kind == workitem.KindRule {
				hits = append(hits, e.Actor)
			}
		}
		if !slices.Equal(hits, []string{"rule:approved goes to lead@v1", "rule:tag on assign@v1"}) {
			t.Errorf("rule entries = %v", hits)
		}
		stored, _ := db.ListRules(ctx)
		for _, r := range stored {
			if r.Hits != 1 {
				t.Errorf("rule %q hits = %d, want 1", r.Name, r.Hits)
			}
		}
	})
}

// TestCreationCloseQueuesWriteBack: a close at creation queues the
// automation target's write-back planning in the ingest transaction, and
// a page action its deferred run; the target notes that no module runs
// pages yet.
func TestCreationCloseQueuesWriteBack(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := setup(t, db, clk)
		save(t, svc, automation.Definition{Name: "fp", Enabled: true, Triggers: []string{"alert.created"},
			Actions: []automation.ActionSpec{{Type: "close", Classification: "false_positive"}, {Type: "page", Target: "soc-primary"}}})
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{{Source: "api", SourceID: "a1", Title: "t", Severity: alert.SeverityLow,
			FirstSeen: clk.Now(), LastSeen: clk.Now(), Status: alert.StatusNew}})
		if err != nil {
			t.Fatal(err)
		}
		id := res[0].WorkItemID
		msgs, err := db.ListOutbox(ctx, "", id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, m := range msgs {
			ops = append(ops, m.Target+"/"+m.Op)
		}
		slices.Sort(ops)
		if !slices.Equal(ops, []string{"automation/page", "automation/plan-writeback"}) {
			t.Fatalf("outbox = %v", ops)
		}
		target := rules.NewTarget(db, nil)
		for _, m := range msgs {
			if err := target.Send(ctx, m); err != nil {
				t.Errorf("send %s: %v", m.Op, err)
			}
		}
		tl, _ := db.Timeline(ctx, id, 0, 100)
		found := false
		for _, e := range tl {
			found = found || strings.Contains(e.Message, "page soc-primary not run")
		}
		if !found {
			t.Error("no timeline note that nothing runs pages yet")
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestAlertUpdatedTrigger: a re-sent alert that changed runs
// alert.updated rules with its status change.
func TestAlertUpdatedTrigger(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	ctx := context.Background()
	svc, _ := setup(t, db, clk)
	save(t, svc, automation.Definition{Name: "resolved at source", Enabled: true, Triggers: []string{"alert.updated"},
		Condition: `has(changed.status) && changed.status.to == "resolved"`,
		Actions:   []automation.ActionSpec{{Type: "tags", Add: []string{"source-resolved"}}}})
	a := alert.Alert{Source: "api", SourceID: "a1", Title: "t", Severity: alert.SeverityLow, FirstSeen: clk.Now(), LastSeen: clk.Now(), Status: alert.StatusNew}
	first, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	svc.Ingested(ctx, []alert.Alert{a}, first)
	a.Status = alert.StatusResolved
	second, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	svc.Ingested(ctx, []alert.Alert{a}, second)
	it, _ := db.GetWorkItem(ctx, first[0].WorkItemID)
	if !slices.Equal(it.Tags, []string{"source-resolved"}) {
		t.Errorf("tags = %v, want the alert.updated rule's", it.Tags)
	}
}

// TestIncidentUpdatedTrigger: an incident raised to high at its source
// fires the incident.updated rule testing the severity change, through
// the store's observer; an update that changes the severity otherwise (or
// not at all) does not.
func TestIncidentUpdatedTrigger(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	ctx := context.Background()
	svc, _ := setup(t, db, clk)
	db.ObserveIncidents(svc)
	save(t, svc, automation.Definition{Name: "escalated at source", Enabled: true, Triggers: []string{"incident.updated"},
		Condition: `has(changed.severity) && changed.severity.to == "high" && changed.severity.from != "critical"`,
		Actions:   []automation.ActionSpec{{Type: "assign", Assignee: "tier2@example.com"}, {Type: "comment", Text: "raised at the source"}}})
	proc := workitem.DefaultProcess()
	in := alert.Incident{Source: "sentinel", SourceID: "inc-1", Title: "Multi-stage attack", Severity: alert.SeverityMedium,
		Status: alert.StatusNew, FirstSeen: clk.Now(), LastSeen: clk.Now()}
	first, err := db.UpsertIncident(ctx, proc, "sentinel", in)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		change   func(*alert.Incident)
		assignee string
	}{
		{"title only", func(in *alert.Incident) { in.Title = "Multi-stage attack (2)" }, ""},
		{"raised to high", func(in *alert.Incident) { in.Severity = alert.SeverityHigh }, "tier2@example.com"},
	}
	for _, st := range steps {
		st.change(&in)
		if _, err := db.UpsertIncident(ctx, proc, "sentinel", in); err != nil {
			t.Fatal(err)
		}
		it, _ := db.GetWorkItem(ctx, first.WorkItemID)
		if it.Assignee != st.assignee {
			t.Errorf("%s: assignee %q, want %q", st.name, it.Assignee, st.assignee)
		}
	}
	var hit bool
	tl, _ := db.Timeline(ctx, first.WorkItemID, 0, 100)
	for _, e := range tl {
		if strings.Contains(e.Message, "escalated at source") {
			hit = true
		}
	}
	if !hit {
		t.Error("the rule's hit is not on the item's timeline")
	}
}
