package alertmanager

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		in   string
		want Matchers
	}{
		{``, Matchers{}},
		{`{}`, Matchers{}},
		{`  {  }  `, Matchers{}},
		{`alertname=X`, Matchers{{Name: "alertname", Type: MatchEqual, Value: "X"}}},
		{`{alertname="X",severity=~"crit.*"}`, Matchers{
			{Name: "alertname", Type: MatchEqual, Value: "X"},
			{Name: "severity", Type: MatchRegexp, Value: "crit.*"}}},
		{`{ a != "b" , c !~ "d" , }`, Matchers{
			{Name: "a", Type: MatchNotEqual, Value: "b"},
			{Name: "c", Type: MatchNotRegexp, Value: "d"}}},
		{`a="b",c="d"`, Matchers{{Name: "a", Type: MatchEqual, Value: "b"}, {Name: "c", Type: MatchEqual, Value: "d"}}},
		{`a="quote \" backslash \\ newline \n"`, Matchers{{Name: "a", Type: MatchEqual, Value: "quote \" backslash \\ newline \n"}}},
		{`a="comma, and } brace"`, Matchers{{Name: "a", Type: MatchEqual, Value: "comma, and } brace"}}},
		{`a=""`, Matchers{{Name: "a", Type: MatchEqual, Value: ""}}},
		{`"service name"="x"`, Matchers{{Name: "service name", Type: MatchEqual, Value: "x"}}},
		{`föö=bär`, Matchers{{Name: "föö", Type: MatchEqual, Value: "bär"}}},
		{`{foo.bar="🙂"}`, Matchers{{Name: "foo.bar", Type: MatchEqual, Value: "🙂"}}},
		{`a=~[a-z]+`, Matchers{{Name: "a", Type: MatchRegexp, Value: "[a-z]+"}}},
		// Classic fallback: an unquoted backslash the UTF-8 parser refuses.
		{`a=~foo\d+`, Matchers{{Name: "a", Type: MatchRegexp, Value: `foo\d+`}}},
		{`{a=~"foo\\d+"}`, Matchers{{Name: "a", Type: MatchRegexp, Value: `foo\d+`}}},
		// Classic fallback: an unquoted value with a space.
		{`a=b c`, Matchers{{Name: "a", Type: MatchEqual, Value: "b c"}}},
		// The classic parser trims each brace on its own and accepts an
		// empty unquoted value and unknown escapes; Alertmanager's fallback
		// mode accepts these, so vigil does too.
		{`{a="b"`, Matchers{{Name: "a", Type: MatchEqual, Value: "b"}}},
		{`a="b"}`, Matchers{{Name: "a", Type: MatchEqual, Value: "b"}}},
		{`{a=}`, Matchers{{Name: "a", Type: MatchEqual, Value: ""}}},
		{`{a="\q"}`, Matchers{{Name: "a", Type: MatchEqual, Value: `\q`}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMatchers(tt.in)
			if err != nil {
				t.Fatalf("ParseMatchers(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseMatchers(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMatchersBad(t *testing.T) {
	tests := []struct {
		in, wantMsg string
	}{
		{`{a}`, "operator"},
		{`{="b"}`, "label name"},
		{`{a="b" c="d"}`, "comma"},
		{`{a="b}`, `closing '"'`},
		{`{a=~"("}`, "invalid regular expression"},
		{`a=~"("`, "invalid regular expression"},
		{`{a!b}`, "'!'"},
		{`{a="b",,}`, "label name"},
		{`{a="b"}}`, "end of input"},
		{"a=\"\xff\"", "UTF-8"},
		{`{a="b"}x`, "end of input"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseMatchers(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseMatchers(%q) err = %v, want a *ParseError", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ParseMatchers(%q) err = %q, want it to mention %q", tt.in, err, tt.wantMsg)
			}
			if pe.Input != tt.in {
				t.Errorf("ParseError.Input = %q, want %q", pe.Input, tt.in)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	got, err := ParseFilter([]string{`alertname="X"`, `severity=~crit.*`, `env!=prod`, `a=b,c=d`})
	if err != nil {
		t.Fatal(err)
	}
	want := Matchers{
		{Name: "alertname", Type: MatchEqual, Value: "X"},
		{Name: "severity", Type: MatchRegexp, Value: "crit.*"},
		{Name: "env", Type: MatchNotEqual, Value: "prod"},
		// Alertmanager's classic fallback reads a single matcher's value
		// to the end, commas included.
		{Name: "a", Type: MatchEqual, Value: "b,c=d"},
	}
	if !got.Equal(want) {
		t.Errorf("ParseFilter = %s, want %s", got, want)
	}
	if got, err := ParseFilter(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseFilter(nil) = %v, %v", got, err)
	}

	bad := []struct{ in, wantMsg string }{
		{`{a="b"}`, "brace"},
		{``, "bad matcher"},
		{`a=~"("`, "invalid regular expression"},
		{`=b`, "label name"},
		{`a="b" c`, "comma"},
	}
	for _, tt := range bad {
		_, err := ParseFilter([]string{`ok="1"`, tt.in})
		if _, ok := AsParseError(err); !ok || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("ParseFilter(%q) err = %v, want a ParseError mentioning %q", tt.in, err, tt.wantMsg)
		}
	}
}
