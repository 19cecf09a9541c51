package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// installRules saves definitions and installs them as the ingest's set.
func installRules(t *testing.T, db *store.DB, defs ...automation.Definition) []automation.Rule {
	t.Helper()
	ctx := context.Background()
	var rules []automation.Rule
	for _, d := range defs {
		if err := d.Normalize(); err != nil {
			t.Fatal(err)
		}
		if _, err := automation.Compile(d.Condition); err != nil {
			t.Fatal(err)
		}
		r, err := db.SaveRule(ctx, 0, d, "admin@example.com")
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	db.SetRules(automation.NewSet(rules, automation.Options{Process: workitem.DefaultProcess()}))
	return rules
}

// TestCreationRulesInTheIngestTransaction: a suppressing rule leaves the
// alert stored and counted with no item; an acting rule's assignee,
// tags, severity, tasks, comment and close are on the item as it is
// first committed, with the hit on its timeline; the rules' counters
// move; an expired rule does nothing.
func TestCreationRulesInTheIngestTransaction(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		past := now.Add(-time.Hour)
		rules := installRules(t, db,
			automation.Definition{Name: "pentest week", Enabled: true, Order: 1, Triggers: []string{"alert.created"},
				Builder: &automation.Builder{Match: "all", Rows: []automation.BuilderRow{{Property: "title", Operator: "contains", Values: []string{"pentest"}}}},
				Actions: []automation.ActionSpec{{Type: "suppress"}}},
			automation.Definition{Name: "web hosts", Enabled: true, Order: 2, Triggers: []string{"alert.created"}, Sources: []string{"defender"},
				Condition: `hosts.exists(h, h.lowerAscii().startsWith("vm-web"))`,
				Actions: []automation.ActionSpec{{Type: "assign", Assignee: "web@example.com"}, {Type: "tags", Add: []string{"web"}},
					{Type: "severity", Severity: "critical"}, {Type: "tasks", Tasks: []string{"check IIS logs"}},
					{Type: "comment", Text: "web tier"}, {Type: "close", Classification: "false_positive", Reason: "known scanner"}}},
			automation.Definition{Name: "expired", Enabled: true, Order: 3, Triggers: []string{"alert.created"}, ExpiresAt: &past,
				Actions: []automation.ActionSpec{{Type: "tags", Add: []string{"never"}}}},
		)

		quiet := testAlert("p1")
		quiet.Title = "Pentest: port scan"
		res, err := db.Ingest(ctx, proc, "test", []alert.Alert{quiet, testAlert("w1")})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != store.OutcomeSuppressed || res[0].WorkItemID != 0 {
			t.Fatalf("suppressed alert: outcome %s item %d, want suppressed with no item", res[0].Outcome, res[0].WorkItemID)
		}
		if a, err := db.GetAlert(ctx, res[0].AlertID); err != nil || a.WorkItemID != 0 {
			t.Fatalf("suppressed alert stored = %+v, %v", a, err)
		}
		items, err := db.ListWorkItems(ctx, workitem.Filter{States: []string{"New"}})
		if err != nil || len(items) != 0 {
			t.Fatalf("New items = %d (%v), want none: the suppressed alert never shows as New and the other was closed", len(items), err)
		}

		it := mustGetItem(t, db, res[1].WorkItemID)
		if it.State != "Closed" || it.Assignee != "web@example.com" || it.Severity != alert.SeverityCritical || !slices.Equal(it.Tags, []string{"web"}) || it.ClosedAt == nil {
			t.Errorf("item = state %s assignee %q severity %s tags %v closed %v", it.State, it.Assignee, it.Severity, it.Tags, it.ClosedAt)
		}
		tl := mustTimeline(t, db, it.ID)
		var ruleMsg string
		for _, e := range tl {
			if e.Kind == workitem.KindRule {
				ruleMsg = e.Message
				if e.Actor != "rule:web hosts@v1" {
					t.Errorf("rule entry actor = %q", e.Actor)
				}
			}
			if e.Kind == workitem.KindTransition && !strings.HasPrefix(e.Reason, "false positive") {
				t.Errorf("close reason = %q, want the classification first", e.Reason)
			}
		}
		for _, want := range []string{`"web hosts" (v1)`, "assigned to web@example.com", "tagged web", "closed as false positive"} {
			if !strings.Contains(ruleMsg, want) {
				t.Errorf("rule entry %q lacks %q", ruleMsg, want)
			}
		}
		if tasks, _ := db.Tasks(ctx, it.ID); len(tasks) != 1 || tasks[0].Title != "check IIS logs" {
			t.Errorf("tasks = %+v", tasks)
		}
		if cs, _ := db.Comments(ctx, it.ID); len(cs) != 1 || cs[0].Author != "rule:web hosts@v1" {
			t.Errorf("comments = %+v", cs)
		}

		stored, err := db.ListRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][3]int64{}
		for _, r := range stored {
			got[r.Name] = [3]int64{r.Hits, r.Closed, r.Suppressed}
		}
		want := map[string][3]int64{"pentest week": {1, 0, 1}, "web hosts": {1, 1, 0}, "expired": {0, 0, 0}}
		for n, w := range want {
			if got[n] != w {
				t.Errorf("rule %q hits/closed/suppressed = %v, want %v", n, got[n], w)
			}
		}
		_ = rules
	})
}

// TestIncidentCreationRules: incident.created rules see the incident's
// labels from its payload; one acts on the new item in the same
// transaction, another suppresses: the incident is stored with no item.
func TestIncidentCreationRules(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		installRules(t, db,
			automation.Definition{Name: "drill", Enabled: true, Order: 1, Triggers: []string{"incident.created"},
				Condition: `tags.exists(t, t == "drill")`, Actions: []automation.ActionSpec{{Type: "suppress"}}},
			automation.Definition{Name: "tactics", Enabled: true, Order: 2, Triggers: []string{"incident.created"}, Sources: []string{"sentinel"},
				Condition: `"InitialAccess" in tactics`, Actions: []automation.ActionSpec{{Type: "assign", Assignee: "ir@example.com"}, {Type: "severity", Severity: "critical"}}},
		)
		mk := func(id, labels string) alert.Incident {
			in := alert.Incident{Source: "sentinel", SourceID: id, Title: "Multi-stage attack", Severity: alert.SeverityHigh,
				Raw: []byte(`{"name":"` + id + `","properties":{"labels":[` + labels + `],"additionalData":{"tactics":["InitialAccess"]}}}`)}
			if err := in.Normalize(t0); err != nil {
				t.Fatal(err)
			}
			return in
		}
		r, err := db.UpsertIncident(ctx, proc, "test", mk("inc-1", `{"labelName":"Drill"}`))
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != store.OutcomeSuppressed || r.WorkItemID != 0 {
			t.Errorf("drill incident: outcome %s item %d, want suppressed with no item", r.Outcome, r.WorkItemID)
		}
		r, err = db.UpsertIncident(ctx, proc, "test", mk("inc-2", ``))
		if err != nil {
			t.Fatal(err)
		}
		it := mustGetItem(t, db, r.WorkItemID)
		if it.Assignee != "ir@example.com" || it.Severity != alert.SeverityCritical {
			t.Errorf("incident item = assignee %q severity %s", it.Assignee, it.Severity)
		}
		if tl := mustTimeline(t, db, it.ID); !slices.Contains(kinds(tl), workitem.KindRule) {
			t.Errorf("timeline kinds = %v, want a rule entry", kinds(tl))
		}
	})
}

// TestSuppressionExpiresOnANewFiring: a suppressed alert stays without an
// item while it re-sends, and a new firing is judged again: suppressed
// again while the rule lasts, given its item once the rule has expired,
// on a fake clock.
func TestSuppressionExpiresOnANewFiring(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		until := clk.Now().Add(time.Hour) // the clock is shared by the dialects' runs
		installRules(t, db, automation.Definition{Name: "pentest hour", Enabled: true, Triggers: []string{"alert.created"},
			Condition: `title.contains("Pentest")`, ExpiresAt: &until, Actions: []automation.ActionSpec{{Type: "suppress"}}})
		a := testAlert("pt-1")
		a.Title = "Pentest: port scan"
		ingest := func(status alert.Status) store.IngestResult {
			t.Helper()
			a.Status, a.LastSeen = status, clk.Now()
			res, err := db.Ingest(ctx, proc, "test", []alert.Alert{a})
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		steps := []struct {
			name    string
			advance time.Duration
			status  alert.Status
			want    store.Outcome
			item    bool
		}{
			{"first firing", 0, alert.StatusNew, store.OutcomeSuppressed, false},
			{"re-sent unchanged", time.Minute, alert.StatusNew, store.OutcomeUnchanged, false},
			{"resolved", time.Minute, alert.StatusResolved, store.OutcomeUpdated, false},
			{"fires again within the hour", time.Minute, alert.StatusNew, store.OutcomeSuppressed, false},
			{"resolved again", time.Minute, alert.StatusResolved, store.OutcomeUpdated, false},
			{"fires after the rule expired", 2 * time.Hour, alert.StatusNew, store.OutcomeCreated, true},
		}
		var last store.IngestResult
		for _, st := range steps {
			clk.Advance(st.advance)
			last = ingest(st.status)
			if last.Outcome != st.want || (last.WorkItemID != 0) != st.item {
				t.Fatalf("%s: outcome %s, item %d; want %s, item %v", st.name, last.Outcome, last.WorkItemID, st.want, st.item)
			}
		}
		tl := mustTimeline(t, db, last.WorkItemID)
		if len(tl) == 0 || !strings.Contains(tl[0].Message, "a rule had suppressed its earlier firing") {
			t.Errorf("timeline = %+v, want the creation to say the earlier firing was suppressed", tl)
		}
		rs, _ := db.ListRules(ctx)
		if len(rs) != 1 || rs[0].Suppressed != 2 {
			t.Errorf("rule suppressed count = %+v, want 2", rs)
		}
		if stored, err := db.GetAlert(ctx, last.AlertID); err != nil || stored.WorkItemID != last.WorkItemID {
			t.Errorf("alert's item = %d (%v), want %d", stored.WorkItemID, err, last.WorkItemID)
		}
	})
}

// TestHeldAlertsRunCreationRulesOnRelease: an alert held for its incident
// is judged by the creation rules when no incident claimed it and it gets
// its own item: one is suppressed (no item, never released again), one
// gets the rule's tags and payload-based assignment.
func TestHeldAlertsRunCreationRulesOnRelease(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		installRules(t, db,
			automation.Definition{Name: "quiet lab", Enabled: true, Order: 1, Triggers: []string{"alert.created"},
				Condition: `hosts.exists(h, h.startsWith("VM-LAB"))`, Actions: []automation.ActionSpec{{Type: "suppress"}}},
			automation.Definition{Name: "tag defender", Enabled: true, Order: 2, Triggers: []string{"item.created"}, Sources: []string{"defender"},
				Condition: `product == "Azure Security Center"`,
				Actions:   []automation.ActionSpec{{Type: "tags", Add: []string{"mdc"}}, {Type: "assign", Assignee: "cloud@example.com"}}})
		lab, prod := graced(t, "lab-1", alert.SeverityMedium), graced(t, "prod-1", alert.SeverityHigh)
		lab.Entities[0].Value = "VM-LAB-1"
		lab.Product, prod.Product = "Azure Security Center", "Azure Security Center"
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{lab, prod})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != store.OutcomeHeld || res[1].Outcome != store.OutcomeHeld {
			t.Fatalf("outcomes = %s, %s; want both held", res[0].Outcome, res[1].Outcome)
		}
		clk.Advance(11 * time.Minute)
		if n := mustRelease(t, db); n != 1 {
			t.Fatalf("released %d items, want 1 (the other suppressed)", n)
		}
		if n := mustRelease(t, db); n != 0 {
			t.Errorf("a second release made %d items, want none", n)
		}
		if a, _ := db.GetAlert(ctx, res[0].AlertID); a.WorkItemID != 0 {
			t.Errorf("suppressed alert has item %d", a.WorkItemID)
		}
		a, _ := db.GetAlert(ctx, res[1].AlertID)
		it := mustGetItem(t, db, a.WorkItemID)
		if !slices.Equal(it.Tags, []string{"mdc"}) || it.Assignee != "cloud@example.com" {
			t.Errorf("released item: tags %v assignee %q; want [mdc], cloud@example.com", it.Tags, it.Assignee)
		}
		var hit bool
		for _, e := range mustTimeline(t, db, it.ID) {
			hit = hit || (e.Kind == workitem.KindRule && e.Actor == "rule:tag defender@v1")
		}
		if !hit {
			t.Error("the rule's hit is not on the released item's timeline")
		}
		rs, _ := db.ListRules(ctx)
		for _, r := range rs {
			if r.Hits != 1 {
				t.Errorf("rule %q hits = %d, want 1", r.Name, r.Hits)
			}
		}
	})
}
