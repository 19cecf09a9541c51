package opsmetrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var (
	person = auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}
	script = auth.Actor{Kind: "token", Name: "ci@example.com", Role: auth.RoleResponder}
)

// step is one thing done to the item, after waiting.
type step struct {
	wait time.Duration
	do   func(ctx context.Context, items *workitem.Service, id int64) error
}

func move(actor auth.Actor, to string) func(context.Context, *workitem.Service, int64) error {
	return func(ctx context.Context, items *workitem.Service, id int64) error {
		reason := ""
		if items.Process().Terminal(to) {
			reason = "False positive"
		}
		_, err := items.Transition(ctx, actor, id, to, reason, 0)
		return err
	}
}

// follow moves the item as origin does: a rule ("rule:NAME@vN") or a
// source ("sentinel").
func follow(origin, to string) func(context.Context, *workitem.Service, int64) error {
	return func(ctx context.Context, items *workitem.Service, id int64) error {
		_, _, err := items.Follow(ctx, id, to, origin, "test", nil)
		return err
	}
}

func TestMetricItemTimes(t *testing.T) {
	const min = time.Minute
	tests := []struct {
		name  string
		steps []step
		want  map[string]float64
	}{
		{"a person triages", []step{{5 * min, move(person, "Approved")}}, map[string]float64{
			`vigil_workitem_ack_seconds_count{severity="high"}`: 1,
			`vigil_workitem_ack_seconds_sum{severity="high"}`:   300,
		}},
		{"only the first move counts", []step{
			{2 * min, move(person, "Approved")},
			{5 * min, move(person, "Active")},
			{60 * min, move(person, "Verification")},
			{60 * min, move(person, "Closed")},
		}, map[string]float64{
			`vigil_workitem_ack_seconds_count{severity="high"}`:     1,
			`vigil_workitem_ack_seconds_sum{severity="high"}`:       120,
			`vigil_workitem_resolve_seconds_count{severity="high"}`: 1,
			`vigil_workitem_resolve_seconds_sum{severity="high"}`:   (2 + 5 + 60 + 60) * 60,
		}},
		{"a person removes it: acknowledged and resolved at once", []step{{10 * min, move(person, "Removed")}}, map[string]float64{
			`vigil_workitem_ack_seconds_count{severity="high"}`:     1,
			`vigil_workitem_ack_seconds_sum{severity="high"}`:       600,
			`vigil_workitem_resolve_seconds_count{severity="high"}`: 1,
			`vigil_workitem_resolve_seconds_sum{severity="high"}`:   600,
		}},
		{"a rule closes it: resolved, never acknowledged", []step{{60 * min, follow("rule:close drills@v2", "Closed")}}, map[string]float64{
			`vigil_workitem_resolve_seconds_count{severity="high"}`: 1,
			`vigil_workitem_resolve_seconds_sum{severity="high"}`:   3600,
		}},
		{"the source closes it", []step{{30 * min, follow("sentinel", "Closed")}}, map[string]float64{
			`vigil_workitem_resolve_seconds_count{severity="high"}`: 1,
			`vigil_workitem_resolve_seconds_sum{severity="high"}`:   1800,
		}},
		{"a rule approves it, a person works it", []step{
			{time.Second, follow("rule:auto approve@v1", "Approved")},
			{5 * min, move(person, "Active")},
		}, map[string]float64{}},
		{"a script's token triages", []step{{5 * min, move(script, "Approved")}}, map[string]float64{}},
		{"a comment and an assignment are not a triage", []step{
			{min, func(ctx context.Context, items *workitem.Service, id int64) error {
				_, err := items.Comment(ctx, person, id, "looking")
				return err
			}},
			{min, func(ctx context.Context, items *workitem.Service, id int64) error {
				who := person.Name
				_, err := items.Update(ctx, person, id, workitem.Patch{Assignee: &who}, 0)
				return err
			}},
		}, map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			db := storetest.SQLite(t, clk)
			proc := workitem.DefaultProcess()
			reg := prometheus.NewPedanticRegistry()
			times := NewItemTimes(reg, proc, clk)
			items := workitem.NewService(db, proc, clk).Observe(times)
			id := ingest(t, db, alert.SeverityHigh)[0]
			for i, s := range tt.steps {
				clk.Advance(s.wait)
				if err := s.do(context.Background(), items, id); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			got := map[string]float64{}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					sev := `{severity="` + m.GetLabel()[0].GetValue() + `"}`
					got[mf.GetName()+"_count"+sev] = float64(m.GetHistogram().GetSampleCount())
					got[mf.GetName()+"_sum"+sev] = m.GetHistogram().GetSampleSum()
				}
			}
			diff(t, "item times", got, tt.want)
		})
	}
}
