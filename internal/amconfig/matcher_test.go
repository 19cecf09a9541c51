package amconfig

import (
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/automation"
)

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		in      string
		want    []Matcher
		wantErr string
	}{
		{in: `severity="critical"`, want: []Matcher{{Name: "severity", Type: MatchEqual, Value: "critical"}}},
		{in: `severity = critical`, want: []Matcher{{Name: "severity", Type: MatchEqual, Value: "critical"}}},
		{in: `{a="1", b!="2",c=~"x|y", d!~"z.*"}`, want: []Matcher{
			{Name: "a", Type: MatchEqual, Value: "1"}, {Name: "b", Type: MatchNotEqual, Value: "2"},
			{Name: "c", Type: MatchRegexp, Value: "x|y"}, {Name: "d", Type: MatchNotRegexp, Value: "z.*"}}},
		{in: `q="say \"hi\""`, want: []Matcher{{Name: "q", Type: MatchEqual, Value: `say "hi"`}}},
		{in: `p=~"C:\\\\temp\\.*"`, want: []Matcher{{Name: "p", Type: MatchRegexp, Value: `C:\\temp\.*`}}},
		// A spurious escape keeps its backslash, as in Alertmanager.
		{in: `host=~"db\.example"`, want: []Matcher{{Name: "host", Type: MatchRegexp, Value: `db\.example`}}},
		{in: `empty=""`, want: []Matcher{{Name: "empty", Type: MatchEqual, Value: ""}}},
		{in: `"utf8 name"="v"`, want: []Matcher{{Name: "utf8 name", Type: MatchEqual, Value: "v"}}},
		{in: `v="a,b"`, want: []Matcher{{Name: "v", Type: MatchEqual, Value: "a,b"}}},
		{in: ``, wantErr: "no matcher"},
		{in: `{a="1"`, wantErr: "closing brace"},
		{in: `severity`, wantErr: "no operator"},
		{in: `1bad="x"`, wantErr: "invalid label name"},
		{in: `a=~"("`, wantErr: "invalid regular expression"},
		{in: `a="unterminated`, wantErr: "unterminated"},
		{in: `a="1" b="2"`, wantErr: "expected a comma"},
		{in: `a=x"y`, wantErr: "must be quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMatchers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || got[i].Type != tt.want[i].Type || got[i].Value != tt.want[i].Value {
					t.Errorf("[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestMatcherMatches(t *testing.T) {
	tests := []struct {
		m    Matcher
		v    string
		want bool
	}{
		{Matcher{Name: "a", Type: MatchEqual, Value: "db"}, "db", true},
		{Matcher{Name: "a", Type: MatchEqual, Value: "db"}, "mydb", false},
		{Matcher{Name: "a", Type: MatchNotEqual, Value: "db"}, "", true},
		{Matcher{Name: "a", Type: MatchRegexp, Value: "db"}, "mydb", false}, // anchored
		{Matcher{Name: "a", Type: MatchRegexp, Value: "a|b"}, "b", true},
		{Matcher{Name: "a", Type: MatchRegexp, Value: ".*"}, "", true},
		{Matcher{Name: "a", Type: MatchNotRegexp, Value: ".+"}, "", true},
		{Matcher{Name: "a", Type: MatchNotRegexp, Value: "x.*"}, "xy", false},
		{Matcher{Name: "a", Type: MatchRegexp, Value: "("}, "(", false}, // invalid, built by hand
	}
	for _, tt := range tests {
		if got := tt.m.Matches(tt.v); got != tt.want {
			t.Errorf("%s.Matches(%q) = %v, want %v", tt.m, tt.v, got, tt.want)
		}
	}
}

// evalCEL runs a condition in vigil's automation environment.
func evalCEL(t testing.TB, cond string, labels map[string]string) bool {
	t.Helper()
	prg, err := automation.Compile(cond)
	if err != nil {
		t.Fatalf("%s does not compile: %v", cond, err)
	}
	out, _, err := prg.Eval(map[string]any{"labels": labels})
	if err != nil {
		t.Fatalf("%s: %v", cond, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		t.Fatalf("%s is not boolean: %v", cond, out)
	}
	return b
}

func TestMatcherCEL(t *testing.T) {
	label := func(v string) map[string]string { return map[string]string{"k": v, "other": "x"} }
	absent := map[string]string{"other": "x"}
	tests := []struct {
		m    Matcher
		want string
	}{
		{Matcher{Name: "k", Type: MatchEqual, Value: "db"}, `("k" in labels && labels["k"] == "db")`},
		{Matcher{Name: "k", Type: MatchEqual, Value: ""}, `("k" in labels ? labels["k"] : "") == ""`},
		{Matcher{Name: "k", Type: MatchNotEqual, Value: "db"}, `!("k" in labels && labels["k"] == "db")`},
		{Matcher{Name: "k", Type: MatchNotEqual, Value: ""}, `("k" in labels ? labels["k"] : "") != ""`},
		{Matcher{Name: "k", Type: MatchRegexp, Value: "a|b"}, `("k" in labels ? labels["k"] : "").matches("^(?:a|b)$")`},
		{Matcher{Name: "k", Type: MatchNotRegexp, Value: ".+"}, `!("k" in labels ? labels["k"] : "").matches("^(?:.+)$")`},
		{Matcher{Name: "k", Type: MatchEqual, Value: `say "hi" \ now`}, `("k" in labels && labels["k"] == "say \"hi\" \\ now")`},
		{Matcher{Name: "k", Type: MatchRegexp, Value: `C:\\temp\.*`}, `("k" in labels ? labels["k"] : "").matches("^(?:C:\\\\temp\\.*)$")`},
		{Matcher{Name: "k", Type: MatchEqual, Value: "line\nbreak\ttab"}, `("k" in labels && labels["k"] == "line\nbreak\ttab")`},
		{Matcher{Name: "k", Type: MatchEqual, Value: "ünïcödé ✓"}, `("k" in labels && labels["k"] == "ünïcödé ✓")`},
	}
	values := []string{"", "db", "a", "b", "ab", `say "hi" \ now`, `C:\temp.x`, `C:\\temp`, "line\nbreak\ttab", "ünïcödé ✓"}
	for _, tt := range tests {
		t.Run(tt.m.String(), func(t *testing.T) {
			if got := tt.m.CEL(); got != tt.want {
				t.Errorf("CEL() = %s\nwant     %s", got, tt.want)
			}
			m, err := NewMatcher(tt.m.Name, tt.m.Type, tt.m.Value)
			if err != nil {
				t.Fatal(err)
			}
			// The translation must agree with the matcher on every value,
			// and on the label being absent.
			if got, want := evalCEL(t, m.CEL(), absent), m.Matches(""); got != want {
				t.Errorf("absent label: CEL %v, matcher %v", got, want)
			}
			for _, v := range values {
				if got, want := evalCEL(t, m.CEL(), label(v)), m.Matches(v); got != want {
					t.Errorf("%q: CEL %v, matcher %v", v, got, want)
				}
			}
		})
	}
}

func TestConjunction(t *testing.T) {
	ms := []Matcher{{Name: "a", Type: MatchEqual, Value: "1"}, {Name: "b", Type: MatchNotRegexp, Value: "x"}}
	tests := []struct {
		ms   []Matcher
		want string
	}{
		{nil, "true"},
		{ms[:1], `"a" in labels && labels["a"] == "1"`},
		{ms, `("a" in labels && labels["a"] == "1") && !("b" in labels ? labels["b"] : "").matches("^(?:x)$")`},
	}
	for _, tt := range tests {
		if got := Conjunction(tt.ms); got != tt.want {
			t.Errorf("Conjunction = %s, want %s", got, tt.want)
		}
		if _, err := automation.Compile(tt.want); err != nil {
			t.Errorf("%s: %v", tt.want, err)
		}
	}
	if !evalCEL(t, Conjunction(ms), map[string]string{"a": "1", "b": "y"}) || evalCEL(t, Conjunction(ms), map[string]string{"a": "1", "b": "x"}) {
		t.Error("conjunction evaluates wrongly")
	}
}
