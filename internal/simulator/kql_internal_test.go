package simulator

import (
	"errors"
	"testing"
	"time"
)

var kqlNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// kqlTestEnv is a small table with every column type the evaluator knows.
func kqlTestEnv() kqlEnv {
	t := &kqlTable{
		Cols: []kqlColumn{{"TimeGenerated", "datetime"}, {"DeviceName", "string"}, {"RemoteIP", "string"},
			{"RemoteUrl", "string"}, {"RemotePort", "int"}, {"Score", "real"}, {"Blocked", "bool"}},
		Rows: [][]any{
			{kqlNow.Add(-1 * time.Hour), "ws-ada", "203.0.113.7", "http://evil.example.com/gate.php", int64(80), 0.5, true},
			{kqlNow.Add(-30 * time.Hour), "ws-grace", "198.51.100.23", "https://www.office.com/", int64(443), 1.5, false},
			{kqlNow.Add(-2 * time.Hour), "srv-build", "8.8.8.8", "", int64(53), 2.0, false},
			{kqlNow.Add(-3 * time.Hour), "WS-ADA", "10.0.0.1", "https://example.com.attacker.net/x", int64(443), nil, nil},
		},
	}
	return kqlEnv{now: kqlNow, table: func(name string) (*kqlTable, bool) {
		if name == "T" {
			return t, true
		}
		return nil, false
	}}
}

func TestKQL(t *testing.T) {
	tests := []struct {
		query string
		rows  int
		cols  int    // 0: don't check
		first any    // first cell of the first row, when not nil
		err   string // "syntax" or "semantic"
	}{
		{query: "T", rows: 4, cols: 7},
		{query: "T | take 2", rows: 2},
		{query: "T | limit 0", rows: 0},
		{query: `T | where DeviceName == "ws-ada"`, rows: 1},
		{query: `T | where DeviceName =~ "ws-ada"`, rows: 2},
		{query: `T | where DeviceName != "ws-ada"`, rows: 3},
		{query: `T | where DeviceName !~ "ws-ada"`, rows: 2},
		{query: `T | where RemoteIP in ("203.0.113.7", "8.8.8.8")`, rows: 2},
		{query: `T | where RemoteIP !in ("203.0.113.7", "8.8.8.8")`, rows: 2},
		{query: `T | where DeviceName in~ ("WS-GRACE")`, rows: 1},
		{query: `T | where DeviceName !in~ ("WS-GRACE")`, rows: 3},
		{query: `T | where RemoteUrl has_any ("example.com")`, rows: 2}, // whole terms: evil.example.com and example.com.attacker.net
		{query: `T | where RemoteUrl has_any ("evil.example.com", "office.com")`, rows: 2},
		{query: `T | where RemoteUrl has "gate"`, rows: 1},
		{query: `T | where RemoteUrl has "gat"`, rows: 0},
		{query: `T | where RemoteUrl !has "gate"`, rows: 3},
		{query: `T | where RemoteUrl contains "GAT"`, rows: 1},
		{query: `T | where RemoteUrl startswith "https"`, rows: 2},
		{query: `T | where RemoteUrl endswith "/x"`, rows: 1},
		{query: `T | where RemotePort > 80 and RemotePort <= 443`, rows: 2},
		{query: `T | where RemotePort < 80 or RemotePort >= 443`, rows: 3},
		{query: `T | where not(RemotePort == 443)`, rows: 2},
		{query: `T | where (RemotePort == 53 or RemotePort == 80) and DeviceName startswith "ws"`, rows: 1},
		{query: `T | where Score > 1`, rows: 2},
		{query: `T | where Score >= 1.5`, rows: 2},
		{query: `T | where Blocked == true`, rows: 1},
		{query: `T | where TimeGenerated > ago(1d)`, rows: 3},
		{query: `T | where TimeGenerated > ago(90m)`, rows: 1},
		{query: `T | where TimeGenerated > now() - 150m`, rows: 2},
		{query: `T | where TimeGenerated between (ago(1d) .. now())`, err: "syntax"},
		{query: `T | where TimeGenerated < datetime(2026-03-01T10:30:00Z)`, rows: 3},
		{query: `T | where TimeGenerated >= datetime(2026-03-01)`, rows: 3},
		{query: `T | where isempty(RemoteUrl)`, rows: 1},
		{query: `T | where isnotempty(RemoteUrl)`, rows: 3},
		{query: `T | where tolower(DeviceName) == "ws-ada"`, rows: 2},
		{query: "T | project DeviceName, RemoteIP | take 1", rows: 1, cols: 2, first: "ws-ada"},
		{query: "T | project Host = DeviceName", rows: 4, cols: 1, first: "ws-ada"},
		{query: "T | order by RemotePort asc | take 1", rows: 1, first: kqlNow.Add(-2 * time.Hour)},
		{query: "T | sort by TimeGenerated | project DeviceName", rows: 4, first: "ws-ada"},
		{query: "T | order by TimeGenerated asc, DeviceName desc | project DeviceName", rows: 4, first: "ws-grace"},
		{query: "T | summarize count() by RemotePort | order by count_ desc", rows: 3, cols: 2, first: int64(443)},
		{query: "T | summarize n = count()", rows: 1, cols: 1, first: int64(4)},
		{query: "T | where RemotePort == 1 | summarize count()", rows: 1, first: int64(0)},
		{query: "T | summarize arg_max(TimeGenerated, *) by RemotePort | order by RemotePort asc", rows: 3, cols: 7, first: int64(53)},
		{query: "T | count", rows: 1, first: int64(4)},
		{query: "T // comment\n| where RemotePort == 53 // another", rows: 1},
		{query: `T | where DeviceName == 'ws-ada'`, rows: 1},
		{query: `T | where RemoteUrl has_any ("a\"b", 'c\'d', @"e\f")`, rows: 0},
		// Refused.
		{query: "Nope | take 1", err: "semantic"},
		{query: "T | where Nope == 1", err: "semantic"},
		{query: "T | project Nope", err: "semantic"},
		{query: "T | order by Nope", err: "semantic"},
		{query: "T | summarize count() by Nope", err: "semantic"},
		{query: "T | project DeviceName | where RemoteIP == \"x\"", err: "semantic"},
		{query: "T | extend x = 1", err: "syntax"},
		{query: "T | where", err: "syntax"},
		{query: "T | where RemoteIP has_all (\"x\")", err: "syntax"},
		{query: "T | where strlen(RemoteIP) > 1", err: "syntax"},
		{query: "T | where DeviceName == \"unterminated", err: "syntax"},
		{query: "T | take -1", err: "syntax"},
		{query: "T | take x", err: "syntax"},
		{query: "let x = 1; T", err: "syntax"},
		{query: "T | where DeviceName == \"a\" \"b\"", err: "syntax"},
		{query: "T | summarize dcount(DeviceName)", err: "syntax"},
		{query: "T; T", err: "syntax"},
		{query: "", err: "syntax"},
		{query: "T | where ago(1q) > TimeGenerated", err: "syntax"},
		{query: "T | where ago(1d, 2d) > TimeGenerated", err: "semantic"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := parseKQL(tt.query)
			var res *kqlTable
			if err == nil {
				res, _, err = runKQL(q, kqlTestEnv(), time.Time{}, time.Time{})
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
			if tt.cols != 0 && len(res.Cols) != tt.cols {
				t.Fatalf("cols = %v, want %d", res.Cols, tt.cols)
			}
			if tt.first != nil && res.Rows[0][0] != tt.first {
				t.Fatalf("first cell = %v, want %v", res.Rows[0][0], tt.first)
			}
		})
	}
}

func TestKQLTimespanAndTruncation(t *testing.T) {
	q, err := parseKQL("T")
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := runKQL(q, kqlTestEnv(), kqlNow.Add(-150*time.Minute), time.Time{})
	if err != nil || len(res.Rows) != 2 {
		t.Fatalf("timespan: %v rows, %v", res, err)
	}
	defer func(n int) { kqlMaxRecords = n }(kqlMaxRecords)
	kqlMaxRecords = 3
	res, truncated, err := runKQL(q, kqlTestEnv(), time.Time{}, time.Time{})
	if err != nil || !truncated || len(res.Rows) != 3 {
		t.Fatalf("truncation: %d rows, truncated %v, %v", len(res.Rows), truncated, err)
	}
}

func TestLATimespan(t *testing.T) {
	now := kqlNow
	tests := []struct {
		in       string
		from, to time.Time
		bad      bool
	}{
		{in: ""},
		{in: "PT12H", from: now.Add(-12 * time.Hour)},
		{in: "P1D", from: now.Add(-24 * time.Hour)},
		{in: "P1DT12H", from: now.Add(-36 * time.Hour)},
		{in: "PT30M", from: now.Add(-30 * time.Minute)},
		{in: "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z", from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{in: "2026-01-01T00:00:00Z/PT1H", from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)},
		{in: "PT1H/2026-01-01T01:00:00Z", from: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)},
		{in: "P", bad: true},
		{in: "PT", bad: true},
		{in: "P1Y", bad: true},
		{in: "12h", bad: true},
		{in: "x/y", bad: true},
	}
	for _, tt := range tests {
		from, to, err := laTimespan(tt.in, now)
		if (err != nil) != tt.bad || !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("laTimespan(%q) = %v, %v, %v", tt.in, from, to, err)
		}
	}
}

func FuzzKQL(f *testing.F) {
	for _, s := range []string{
		"T", "T | take 2", `T | where RemoteIP in ("a", "b") or RemoteUrl has_any ("x")`,
		"T | summarize arg_max(TimeGenerated, *) by DeviceName", "T | where TimeGenerated > ago(1d) | project a = DeviceName",
		`T | where not(DeviceName =~ @"x\") and RemotePort >= -1`, "T | where TimeGenerated < datetime(2026-01-01)",
		"T | join kind=leftouter (T | take 1) on DeviceName", "T | mv-expand x = RemoteUrl to typeof(string)",
		"T | where hash(DeviceName, 4) == 1 | join (T | summarize arg_max(TimeGenerated, *) by RemoteIP) on RemoteIP",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseKQL(s)
		if err != nil {
			var ke *kqlError
			if !errors.As(err, &ke) {
				t.Fatalf("parse error of type %T", err)
			}
			return
		}
		if _, _, err := runKQL(q, kqlTestEnv(), time.Time{}, time.Time{}); err != nil {
			var ke *kqlError
			if !errors.As(err, &ke) {
				t.Fatalf("run error of type %T", err)
			}
		}
	})
}

func FuzzLATimespan(f *testing.F) {
	for _, s := range []string{"PT12H", "P1D", "P1DT12H", "2026-01-01T00:00:00Z/PT1H", "PT1H/2026-01-01T01:00:00Z", "P", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := laTimespan(s, kqlNow)
		if err != nil && (!from.IsZero() || !to.IsZero()) {
			t.Fatalf("%q: error %v with bounds %v %v", s, err, from, to)
		}
	})
}
