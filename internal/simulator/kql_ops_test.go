package simulator

import (
	"errors"
	"testing"
	"time"
)

// kqlJoinEnv has incidents naming alerts (I) and the alerts (A), with one
// incident without alerts, one with a null list, and an alert of no
// incident.
func kqlJoinEnv() kqlEnv {
	inc := &kqlTable{
		Cols: []kqlColumn{{"Name", "string"}, {"Status", "string"}, {"AlertIds", "dynamic"}},
		Rows: [][]any{
			{"i1", "New", `["a1","a2"]`},
			{"i2", "Closed", `["a3"]`},
			{"i3", "Active", `[]`},
			{"i4", "Active", nil},
			{"i5", "New", `["a9", 7]`},
		},
	}
	al := &kqlTable{
		Cols: []kqlColumn{{"Id", "string"}, {"Status", "string"}, {"TimeGenerated", "datetime"}},
		Rows: [][]any{
			{"a1", "New", kqlNow.Add(-time.Hour)},
			{"a1", "Resolved", kqlNow},
			{"a2", "New", kqlNow},
			{"a3", "New", kqlNow},
			{"a4", "New", kqlNow},
		},
	}
	return kqlEnv{now: kqlNow, table: func(name string) (*kqlTable, bool) {
		switch name {
		case "I":
			return inc, true
		case "A":
			return al, true
		}
		return nil, false
	}}
}

func TestKQLExpandJoinHash(t *testing.T) {
	tests := []struct {
		query string
		rows  int
		cols  []string // column names, when set
		cell  [3]any   // row, column, value; checked when cell[2] != nil
		err   string
	}{
		// An empty array makes no row, a null one row, a non-string
		// element of typeof(string) is null.
		{query: "I | mv-expand Id = AlertIds to typeof(string)", rows: 6,
			cols: []string{"Name", "Status", "AlertIds", "Id"}, cell: [3]any{0, 3, "a1"}},
		{query: "I | mv-expand AlertIds", rows: 6, cols: []string{"Name", "Status", "AlertIds"}, cell: [3]any{0, 2, `"a1"`}},
		{query: "I | mv-expand Id = AlertIds to typeof(string) | where isempty(Id)", rows: 2},
		{query: `I | where Status != "Closed" | mv-expand Id = AlertIds to typeof(string) | project Id
		  | join kind=inner (A | summarize arg_max(TimeGenerated, *) by Id) on Id`, rows: 2,
			cols: []string{"Id", "Id1", "Status", "TimeGenerated"}, cell: [3]any{0, 2, "Resolved"}},
		{query: `I | mv-expand Id = AlertIds to typeof(string) | project Id
		  | join kind=leftouter (A | summarize arg_max(TimeGenerated, *) by Id) on Id`, rows: 6},
		// innerunique (the default) keeps one left row per key.
		{query: `A | project Id | join (A | summarize arg_max(TimeGenerated, *) by Id) on Id`, rows: 4},
		{query: `A | project Id | join kind=inner (A) on Id`, rows: 7},
		{query: `I | where hash(Name, 2) == 0 | count`, rows: 1},
		{query: `I | where hash(Name, 1) == 0`, rows: 5},
		// Refused.
		{query: "I | mv-expand Nope", err: "semantic"},
		{query: "I | mv-expand kind=array AlertIds", err: "syntax"},
		{query: "I | mv-expand AlertIds to typeof(nope)", err: "syntax"},
		{query: "I | mv-expand a = AlertIds, b = AlertIds", err: "syntax"},
		{query: "I | join kind=fullouter (A) on Id", err: "syntax"},
		{query: "I | join (A) on Name", err: "semantic"},
		{query: "I | join (Nope) on Name", err: "semantic"},
		{query: "I | join (A on Id", err: "syntax"},
		{query: "I | join (A) on $left.Name == $right.Id", err: "syntax"},
		{query: "I | where hash(Name) == 1", err: "semantic"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := parseKQL(tt.query)
			var res *kqlTable
			if err == nil {
				res, _, err = runKQL(q, kqlJoinEnv(), time.Time{}, time.Time{})
			}
			if tt.err != "" {
				var ke *kqlError
				if !errors.As(err, &ke) {
					t.Fatalf("err = %v, want a %s error", err, tt.err)
				}
				if got := map[bool]string{true: "semantic", false: "syntax"}[ke.Semantic]; got != tt.err {
					t.Fatalf("err = %v (%s), want a %s error", err, got, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != tt.rows {
				t.Fatalf("rows = %d, want %d: %v", len(res.Rows), tt.rows, res.Rows)
			}
			if tt.cols != nil {
				var names []string
				for _, c := range res.Cols {
					names = append(names, c.Name)
				}
				if len(names) != len(tt.cols) {
					t.Fatalf("cols = %v, want %v", names, tt.cols)
				}
				for i := range names {
					if names[i] != tt.cols[i] {
						t.Fatalf("cols = %v, want %v", names, tt.cols)
					}
				}
			}
			if tt.cell[2] != nil {
				if got := res.Rows[tt.cell[0].(int)][tt.cell[1].(int)]; got != tt.cell[2] {
					t.Fatalf("cell %v = %v, want %v", tt.cell[:2], got, tt.cell[2])
				}
			}
		})
	}
}

// TestKQLHashPartitions: the partitions of hash(x, n) cover every row
// once, which is what a client paging by them relies on.
func TestKQLHashPartitions(t *testing.T) {
	total := 0
	for part := range 3 {
		q, err := parseKQL("I | where hash(Name, 3) == " + string(rune('0'+part)))
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := runKQL(q, kqlJoinEnv(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		total += len(res.Rows)
	}
	if total != 5 {
		t.Fatalf("partitions hold %d rows, want 5", total)
	}
}
