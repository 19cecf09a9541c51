package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestOpenItemCounts(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res := mustIngest(t, db,
			newAlert(t, "sentinel", "a1", "one", alert.SeverityHigh),
			newAlert(t, "sentinel", "a2", "two", alert.SeverityHigh),
			newAlert(t, "sentinel", "a3", "three", alert.SeverityLow),
			newAlert(t, "sentinel", "a4", "four", alert.SeverityCritical),
			newAlert(t, "sentinel", "a5", "five", alert.SeverityCritical),
			newAlert(t, "sentinel", "a6", "six", alert.SeverityMedium),
		)
		item := func(i int) int64 { return res[i].WorkItemID }
		// a2 is worked on, a4 closed, a5 merged into a1's item.
		mustUpdate(t, db, item(1), func(it *workitem.Item) { it.State = "Active" })
		mustUpdate(t, db, item(3), func(it *workitem.Item) {
			now := clk.Now()
			it.State, it.ClosedAt = "Closed", &now
		})
		if err := db.ExecForTest(ctx, `UPDATE workitems SET merged_into = ? WHERE id = ?`, item(0), item(4)); err != nil {
			t.Fatal(err)
		}
		// A moved item keeps its severity label current.
		mustUpdate(t, db, item(5), func(it *workitem.Item) { it.Severity = alert.SeverityHigh })

		for _, tc := range []struct {
			name   string
			states []string
			want   []store.ItemCount
		}{
			{"every state", nil, []store.ItemCount{
				{State: "Active", Severity: "high", Count: 1},
				{State: "New", Severity: "high", Count: 2},
				{State: "New", Severity: "low", Count: 1},
			}},
			{"the open states", workitem.DefaultProcess().OpenStates(), []store.ItemCount{
				{State: "Active", Severity: "high", Count: 1},
				{State: "New", Severity: "high", Count: 2},
				{State: "New", Severity: "low", Count: 1},
			}},
			{"one state", []string{"Active"}, []store.ItemCount{
				{State: "Active", Severity: "high", Count: 1},
			}},
			{"a state nobody is in", []string{"Verification"}, []store.ItemCount{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.OpenItemCounts(ctx, tc.states)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil || !slices.Equal(got, tc.want) {
					t.Errorf("counts =\n %+v\nwant\n %+v", got, tc.want)
				}
			})
		}
	})
}

func TestRuleHitCountsForMetrics(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		got, err := db.RuleHitCounts(ctx)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("no rules: counts = %+v, %v; want none", got, err)
		}
		save := func(name string) int64 {
			t.Helper()
			r, err := db.SaveRule(ctx, 0, automation.Definition{Name: name, Enabled: true, Triggers: []string{"item.moved"}}, "admin@example.com")
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		quiet, closer := save("quiet lab"), save("close drills")
		record := func(res *automation.Result) {
			t.Helper()
			if err := db.RecordRuleHits(ctx, res); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
		}
		record(&automation.Result{Hits: []automation.Hit{{RuleID: quiet}}, Suppressed: &automation.Hit{RuleID: quiet}})
		record(&automation.Result{Hits: []automation.Hit{{RuleID: closer, Closed: true}, {RuleID: quiet}}})
		record(&automation.Result{Hits: []automation.Hit{{RuleID: closer}}})
		got, err = db.RuleHitCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.RuleHitCount{
			{Rule: "close drills", Hits: 2, Closed: 1},
			{Rule: "quiet lab", Hits: 2, Suppressed: 1},
		}
		if !slices.Equal(got, want) {
			t.Errorf("counts =\n %+v\nwant\n %+v", got, want)
		}
	})
}
