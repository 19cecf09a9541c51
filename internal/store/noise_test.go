package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// TestNoiseClassMatchesWriteback: the store's copy of the closing phrases
// classifies as the write-back does, so that the statistics count as
// false positive what Sentinel and Graph are told is one.
func TestNoiseClassMatchesWriteback(t *testing.T) {
	want := map[string]string{"FalsePositive": "false_positive", "BenignPositive": "benign_positive", "TruePositive": "", "Undetermined": ""}
	reasons := []string{"", "whatever", "False positive: scanner", "Benign positive — pentest"}
	for _, c := range writeback.Closures {
		reasons = append(reasons, c.Match, "Marked as "+c.Match+" by triage")
	}
	for _, state := range []string{"Closed", "Removed"} {
		for _, r := range reasons {
			if got, w := store.NoiseClass(state, r), want[writeback.ClosureFor(state, r).Sentinel]; got != w {
				t.Errorf("NoiseClass(%q, %q) = %q, want %q as the write-back", state, r, got, w)
			}
		}
	}
}

// TestNoiseStats: over a known data set, on both databases, the rows have
// the volume, alert counts, false and benign positive counts and share,
// and median time to close of their items; items older than the window
// do not count; suppressed alerts count by title and source; the noisiest
// row comes first.
func TestNoiseStats(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		n := 0
		// item ingests one alert as a new item created at at.
		item := func(at time.Time, title, host string) int64 {
			t.Helper()
			clk.Set(at)
			n++
			a := alert.Alert{Source: "defender", SourceID: "n" + string(rune('a'+n)), Title: title, Severity: alert.SeverityMedium,
				Entities: []alert.Entity{{Kind: alert.EntityHost, Value: host}}, Raw: []byte(`{}`)}
			if err := a.Normalize(at); err != nil {
				t.Fatal(err)
			}
			res, err := db.Ingest(ctx, proc, "test", []alert.Alert{a})
			if err != nil || res[0].WorkItemID == 0 {
				t.Fatalf("ingest %s: %+v, %v", title, res, err)
			}
			return res[0].WorkItemID
		}
		// closeAs moves item id to state after d, with reason.
		closeAs := func(id int64, state, reason string, d time.Duration) {
			t.Helper()
			_, err := db.UpdateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) {
				from := it.State
				at := it.CreatedAt.Add(d)
				it.State, it.ClosedAt = state, &at
				return []workitem.Entry{{Actor: "test", Kind: workitem.KindTransition, Message: "closed", Reason: reason,
					Data: map[string]string{"from": from, "to": state}}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}

		day := func(d int) time.Time { return now.Add(time.Duration(-d) * 24 * time.Hour) }
		// Noisy scan on vm-a: two false positives (1h, 3h), a removal
		// with no reason (a benign positive, 2h), one open.
		closeAs(item(day(10), "Noisy scan", "vm-a"), "Closed", "False positive: scanner", time.Hour)
		closeAs(item(day(9), "Noisy scan", "vm-a"), "Closed", "false positive", 3*time.Hour)
		closeAs(item(day(8), "Noisy scan", "vm-a"), "Removed", "", 2*time.Hour)
		item(day(7), "Noisy scan", "vm-a")
		// Real attack on vm-b: two true positives (1h, 4h), one reopened
		// and closed again as benign (the newest transition counts).
		closeAs(item(day(5), "Real attack", "vm-b"), "Closed", "true positive", time.Hour)
		closeAs(item(day(5), "Real attack", "vm-b"), "Closed", "", 4*time.Hour)
		re := item(day(4), "Real attack", "vm-b")
		closeAs(re, "Closed", "false positive", time.Hour)
		mustUpdate(t, db, re, func(it *workitem.Item) { it.State, it.ClosedAt = "Active", nil })
		closeAs(re, "Closed", "Benign positive: expected activity", 6*time.Hour)
		// Outside the window: not counted.
		closeAs(item(day(40), "Noisy scan", "vm-a"), "Closed", "false positive", time.Hour)

		clk.Set(now)
		installRules(t, db, automation.Definition{Name: "quiet", Enabled: true, Triggers: []string{"alert.created"},
			Builder: &automation.Builder{Match: "any", Rows: []automation.BuilderRow{{Property: "title", Operator: "contains", Values: []string{"noisy scan", "pentest"}}}},
			Actions: []automation.ActionSpec{{Type: "suppress"}}})
		for i, title := range []string{"Noisy scan", "Noisy scan", "Pentest sweep"} {
			a := alert.Alert{Source: "defender", SourceID: "s" + string(rune('a'+i)), Title: title, Severity: alert.SeverityLow, Raw: []byte(`{}`)}
			if err := a.Normalize(now); err != nil {
				t.Fatal(err)
			}
			if res, err := db.Ingest(ctx, proc, "test", []alert.Alert{a}); err != nil || res[0].Outcome != store.OutcomeSuppressed {
				t.Fatalf("suppressed ingest %s: %+v, %v", title, res, err)
			}
		}

		got, err := db.NoiseStats(ctx, now.Add(-30*24*time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.NoiseRow{
			{Title: "Noisy scan", KeyEntity: "host vm-a", Source: "defender", Items: 4, Alerts: 4, Closed: 3, FalsePositive: 2, BenignPositive: 1,
				NoiseShare: 0.75, MedianClose: 2 * time.Hour, Suppressed: 2},
			{Title: "Real attack", KeyEntity: "host vm-b", Source: "defender", Items: 3, Alerts: 3, Closed: 3, BenignPositive: 1,
				NoiseShare: 1.0 / 3, MedianClose: 4 * time.Hour},
			{Title: "Pentest sweep", Source: "defender", Suppressed: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("rows = %+v, want %d", got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if i < 2 && g.Type == "" {
				t.Errorf("row %d has no type", i)
			}
			w.Type = g.Type
			w.MedianCloseSeconds = w.MedianClose.Seconds()
			if g != w {
				t.Errorf("row %d =\n %+v\nwant\n %+v", i, g, w)
			}
		}

		tests := []struct {
			name  string
			since time.Time
			limit int
			want  []string
		}{
			{"limit", now.Add(-30 * 24 * time.Hour), 1, []string{"Noisy scan"}},
			// No Noisy scan item is this recent: its title stays as a row
			// of suppressed alerts only, after the row with a benign
			// positive.
			{"narrow window", day(6), 0, []string{"Real attack", "Noisy scan", "Pentest sweep"}},
			{"nothing since", now.Add(time.Hour), 0, []string{}},
		}
		for _, tc := range tests {
			rows, err := db.NoiseStats(ctx, tc.since, tc.limit)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			titles := []string{}
			for _, r := range rows {
				titles = append(titles, r.Title)
			}
			if len(titles) != len(tc.want) {
				t.Errorf("%s: titles = %q, want %q", tc.name, titles, tc.want)
				continue
			}
			for i := range titles {
				if titles[i] != tc.want[i] {
					t.Errorf("%s: titles = %q, want %q", tc.name, titles, tc.want)
					break
				}
			}
		}
	})
}
