package enrich

import "testing"

func TestVerdict(t *testing.T) {
	tax := func(levels ...string) []Taxonomy {
		var out []Taxonomy
		for _, l := range levels {
			out = append(out, Taxonomy{Level: l})
		}
		return out
	}
	for _, tc := range []struct {
		levels []string
		want   string
	}{
		{nil, LevelInfo},
		{[]string{LevelInfo}, LevelInfo},
		{[]string{LevelInfo, LevelSafe}, LevelSafe},
		{[]string{LevelSafe, LevelSuspicious, LevelInfo}, LevelSuspicious},
		{[]string{LevelMalicious, LevelSuspicious}, LevelMalicious},
		{[]string{LevelSafe, LevelMalicious}, LevelMalicious},
		{[]string{"critical"}, LevelInfo}, // unknown levels never raise an alarm
		{[]string{"critical", LevelSafe}, LevelSafe},
	} {
		if got := (Report{Taxonomies: tax(tc.levels...)}).Verdict(); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.levels, got, tc.want)
		}
	}
}
