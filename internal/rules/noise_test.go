package rules_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// noisyStore is the real store with the noise statistics replaced, so
// that the thresholds can be tested row by row.
type noisyStore struct {
	*store.DB
	rows  []store.NoiseRow
	since time.Time
}

func (n *noisyStore) NoiseStats(_ context.Context, since time.Time, limit int) ([]store.NoiseRow, error) {
	n.since = since
	return n.rows[:min(limit, len(n.rows))], nil
}

// TestNoiseSuggestions: a rule is suggested for a kind seen at least five
// times and at least 80% noise, at most five of them, in the order of the
// rows; each suggestion is disabled, expires in 7 days, and tests the
// key entity only when the vocabulary has a property for its kind.
func TestNoiseSuggestions(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	row := func(title, entity string, items, fp, bp int) store.NoiseRow {
		return store.NoiseRow{Type: "alert", Title: title, KeyEntity: entity, Source: "defender", Items: items,
			FalsePositive: fp, BenignPositive: bp, NoiseShare: float64(fp+bp) / float64(items)}
	}
	tests := []struct {
		name      string
		rows      []store.NoiseRow
		want      []string // suggested titles, in order
		wantProps int      // builder rows of the first suggestion
	}{
		{"too few items", []store.NoiseRow{row("a", "", 4, 4, 0)}, nil, 0},
		{"not noisy enough", []store.NoiseRow{row("a", "", 10, 5, 2)}, nil, 0},
		{"exactly at the thresholds", []store.NoiseRow{row("a", "host vm1", 5, 3, 1)}, []string{"a"}, 3},
		{"unknown entity kind is left out", []store.NoiseRow{row("a", "registry HKLM", 6, 6, 0)}, []string{"a"}, 2},
		{"at most five", func() []store.NoiseRow {
			var rs []store.NoiseRow
			for i := range 7 {
				rs = append(rs, row(fmt.Sprint("t", i), "", 9, 9, 0))
			}
			return rs
		}(), []string{"t0", "t1", "t2", "t3", "t4"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := &noisyStore{DB: storetest.SQLite(t, clock.NewFake(now)), rows: tc.rows}
			svc := rules.New(ns, workitem.DefaultProcess(), clock.NewFake(now), nil)
			rep, err := svc.Noise(context.Background(), auth.System, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Days != 30 || !ns.since.Equal(now.AddDate(0, 0, -30)) {
				t.Errorf("window = %d days from %v", rep.Days, ns.since)
			}
			var got []string
			for _, s := range rep.Suggestions {
				got = append(got, s.Title)
				if s.Rule.Enabled || s.Rule.ExpiresAt == nil || !s.Rule.ExpiresAt.Equal(now.Add(7*24*time.Hour)) {
					t.Errorf("%s: enabled %v, expiry %v; want disabled, expiring %v", s.Title, s.Rule.Enabled, s.Rule.ExpiresAt, now.Add(7*24*time.Hour))
				}
				if s.Rule.Condition == "" {
					t.Errorf("%s: the suggestion carries no CEL", s.Title)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("suggested %v, want %v", got, tc.want)
			}
			if len(got) > 0 && len(rep.Suggestions[0].Rule.Builder.Rows) != tc.wantProps {
				t.Errorf("builder rows = %+v, want %d", rep.Suggestions[0].Rule.Builder.Rows, tc.wantProps)
			}
		})
	}
	svc := rules.New(&noisyStore{DB: storetest.SQLite(t, clock.NewFake(now))}, workitem.DefaultProcess(), clock.NewFake(now), nil)
	for _, c := range []struct{ days, limit int }{{-1, 0}, {367, 0}, {0, 1001}} {
		if _, err := svc.Noise(context.Background(), auth.System, c.days, c.limit); err == nil {
			t.Errorf("Noise(days %d, limit %d) = nil error", c.days, c.limit)
		}
	}
}
