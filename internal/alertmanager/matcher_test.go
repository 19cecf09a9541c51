package alertmanager

import (
	"encoding/json"
	"testing"
)

func mustMatcher(t *testing.T, ty MatchType, name, value string) Matcher {
	t.Helper()
	m, err := NewMatcher(ty, name, value)
	if err != nil {
		t.Fatalf("NewMatcher(%s, %q, %q): %v", ty, name, value, err)
	}
	return m
}

func TestMatcherMatches(t *testing.T) {
	tests := []struct {
		name  string
		ty    MatchType
		value string
		in    string
		want  bool
	}{
		{"equal", MatchEqual, "crit", "crit", true},
		{"equal other", MatchEqual, "crit", "critical", false},
		{"equal empty vs missing", MatchEqual, "", "", true},
		{"not equal", MatchNotEqual, "crit", "warn", true},
		{"not equal same", MatchNotEqual, "crit", "crit", false},
		{"not equal missing label", MatchNotEqual, "crit", "", true},
		{"regex full", MatchRegexp, "crit.*", "critical", true},
		{"regex anchored start", MatchRegexp, "rit", "crit", false},
		{"regex anchored end", MatchRegexp, "cri", "crit", false},
		{"regex alternation anchored", MatchRegexp, "a|b", "ab", false},
		{"regex alternation", MatchRegexp, "a|b", "b", true},
		{"regex missing label", MatchRegexp, ".*", "", true},
		{"regex missing label plus", MatchRegexp, ".+", "", false},
		{"not regex", MatchNotRegexp, "crit.*", "warning", true},
		{"not regex matching", MatchNotRegexp, "crit.*", "critical", false},
		{"not regex anchored", MatchNotRegexp, "rit", "crit", true},
		{"unicode", MatchEqual, "über", "über", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMatcher(t, tt.ty, "l", tt.value)
			if got := m.Matches(tt.in); got != tt.want {
				t.Errorf("%s.Matches(%q) = %v, want %v", m, tt.in, got, tt.want)
			}
			// A struct literal (no compiled regex) must agree.
			lit := Matcher{Name: "l", Type: tt.ty, Value: tt.value}
			if got := lit.Matches(tt.in); got != tt.want {
				t.Errorf("literal %s.Matches(%q) = %v, want %v", lit, tt.in, got, tt.want)
			}
		})
	}
}

func TestMatcherBrokenRegexMatchesNothing(t *testing.T) {
	for _, ty := range []MatchType{MatchRegexp, MatchNotRegexp} {
		m := Matcher{Name: "a", Type: ty, Value: "("}
		if m.Matches("") || m.Matches("(") {
			t.Errorf("%s with a broken regex matched", ty)
		}
	}
	if _, err := NewMatcher(MatchRegexp, "a", "("); err == nil {
		t.Error("NewMatcher accepted a broken regex")
	}
	if _, err := NewMatcher("==", "a", "b"); err == nil {
		t.Error("NewMatcher accepted an unknown type")
	}
}

func TestMatchersMatches(t *testing.T) {
	labels := map[string]string{"alertname": "HighCPU", "severity": "critical", "env": "prod"}
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{`{alertname="HighCPU"}`, true},
		{`{alertname="HighCPU",severity=~"crit.*"}`, true},
		{`{alertname="HighCPU",severity="warning"}`, false},
		{`{team=""}`, true},
		{`{team!=""}`, false},
		{`{team!="x"}`, true},
		{`{env!~"prod|staging"}`, false},
	}
	for _, tt := range tests {
		ms, err := ParseMatchers(tt.in)
		if err != nil {
			t.Fatalf("ParseMatchers(%q): %v", tt.in, err)
		}
		if got := ms.Matches(labels); got != tt.want {
			t.Errorf("%s.Matches = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMatcherString(t *testing.T) {
	tests := []struct {
		m    Matcher
		want string
	}{
		{Matcher{Name: "alertname", Type: MatchEqual, Value: "X"}, `alertname="X"`},
		{Matcher{Name: "a", Type: MatchNotEqual, Value: `q"b\c` + "\n"}, `a!="q\"b\\c\n"`},
		{Matcher{Name: "a", Type: MatchRegexp, Value: `.*`}, `a=~".*"`},
		{Matcher{Name: "a", Type: MatchNotRegexp, Value: `x`}, `a!~"x"`},
		{Matcher{Name: "service name", Type: MatchEqual, Value: "x"}, `"service name"="x"`},
		{Matcher{Name: "föö", Type: MatchEqual, Value: "x"}, `föö="x"`},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
		// What String renders parses back to the same matcher.
		back, err := ParseMatchers(tt.m.String())
		if err != nil || len(back) != 1 || !back[0].Equal(tt.m) {
			t.Errorf("ParseMatchers(%s) = %v, %v; want the matcher back", tt.m, back, err)
		}
	}
	ms := Matchers{{Name: "a", Type: MatchEqual, Value: "1"}, {Name: "b", Type: MatchRegexp, Value: "2"}}
	if got, want := ms.String(), `{a="1",b=~"2"}`; got != want {
		t.Errorf("Matchers.String() = %s, want %s", got, want)
	}
}

func TestMatcherJSON(t *testing.T) {
	tests := []struct {
		json string
		want MatchType
	}{
		{`{"name":"a","value":"b","isRegex":false}`, MatchEqual},
		{`{"name":"a","value":"b","isRegex":false,"isEqual":true}`, MatchEqual},
		{`{"name":"a","value":"b","isRegex":false,"isEqual":false}`, MatchNotEqual},
		{`{"name":"a","value":"b","isRegex":true}`, MatchRegexp},
		{`{"name":"a","value":"b","isRegex":true,"isEqual":false}`, MatchNotRegexp},
	}
	for _, tt := range tests {
		var m Matcher
		if err := json.Unmarshal([]byte(tt.json), &m); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tt.json, err)
		}
		if m.Type != tt.want {
			t.Errorf("Unmarshal(%s).Type = %s, want %s", tt.json, m.Type, tt.want)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Matcher
		if err := json.Unmarshal(out, &back); err != nil || !back.Equal(m) {
			t.Errorf("round trip of %s gave %s (%v)", tt.json, out, err)
		}
	}
	var m Matcher
	if err := json.Unmarshal([]byte(`{"name":"a","value":"(","isRegex":true}`), &m); err == nil {
		t.Error("Unmarshal accepted a broken regex")
	}
}
