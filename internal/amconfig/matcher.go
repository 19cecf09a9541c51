package amconfig

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MatchType is a matcher's operator, spelt as in Alertmanager.
type MatchType string

// The four operators of Alertmanager's matchers.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher is one label matcher. Regular expressions are anchored at both
// ends, as Alertmanager's are: `=~ "db"` matches "db" only, not "mydb".
type Matcher struct {
	Name  string    `json:"name" yaml:"name"`
	Type  MatchType `json:"type" yaml:"type"`
	Value string    `json:"value" yaml:"value"`
	re    *regexp.Regexp
}

// NewMatcher checks the operator and compiles a regular expression.
func NewMatcher(name string, t MatchType, value string) (Matcher, error) {
	m := Matcher{Name: name, Type: t, Value: value}
	if !utf8.ValidString(name) || !utf8.ValidString(value) {
		// Alertmanager refuses it too, and CEL strings cannot carry it.
		return Matcher{}, fmt.Errorf("matcher %q is not valid UTF-8", name+string(t)+value)
	}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile(anchored(value))
		if err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %w", value, err)
		}
		m.re = re
	default:
		return Matcher{}, fmt.Errorf("unknown match type %q", t)
	}
	return m, nil
}

func anchored(re string) string { return "^(?:" + re + ")$" }

// Matches reports whether the label value v matches; an absent label is
// the empty string, as in Alertmanager.
func (m Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp, MatchNotRegexp:
		re := m.re
		if re == nil { // a Matcher built by hand or decoded
			var err error
			if re, err = regexp.Compile(anchored(m.Value)); err != nil {
				return false
			}
		}
		return re.MatchString(v) == (m.Type == MatchRegexp)
	}
	return false
}

// MatchLabels reports whether every matcher matches the label set.
func MatchLabels(ms []Matcher, labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

// String renders the matcher in Alertmanager's syntax, value quoted.
func (m Matcher) String() string {
	return m.Name + string(m.Type) + strconv.Quote(m.Value)
}

// CEL translates the matcher to a condition over vigil's `labels`
// variable (map(string, string)). vigil's CEL environment has no optional
// types, and indexing an absent key is an error, so an absent label is
// read as "" with a `in` test, which is what Alertmanager does.
func (m Matcher) CEL() string {
	key := celString(m.Name)
	val := "(" + key + " in labels ? labels[" + key + "] : \"\")"
	switch m.Type {
	case MatchEqual:
		if m.Value != "" { // the short form: absent can never equal a non-empty value
			return "(" + key + " in labels && labels[" + key + "] == " + celString(m.Value) + ")"
		}
		return val + " == \"\""
	case MatchNotEqual:
		if m.Value != "" {
			return "!(" + key + " in labels && labels[" + key + "] == " + celString(m.Value) + ")"
		}
		return val + " != \"\""
	case MatchRegexp:
		return val + ".matches(" + celString(anchored(m.Value)) + ")"
	case MatchNotRegexp:
		return "!" + val + ".matches(" + celString(anchored(m.Value)) + ")"
	}
	return "false"
}

// celString quotes s as a CEL string literal. CEL accepts every escape
// strconv.Quote produces (\a \b \f \n \r \t \v \\ \" \xHH \uHHHH
// \UHHHHHHHH); \xHH in a CEL string is a code point, which only differs
// for invalid UTF-8, which YAML cannot carry.
func celString(s string) string { return strconv.Quote(s) }

// Conjunction joins matcher conditions with &&; no matcher is "true".
func Conjunction(ms []Matcher) string {
	if len(ms) == 0 {
		return "true"
	}
	if len(ms) == 1 && ms[0].Type == MatchEqual && ms[0].Value != "" {
		c := ms[0].CEL() // alone, the short form needs no parentheses
		return c[1 : len(c)-1]
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.CEL()
	}
	return strings.Join(parts, " && ")
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseMatchers parses one entry of a `matchers` list in Alertmanager's
// syntax: `name="value"`, several separated by commas, optionally within
// braces. Values may be quoted (with \" \\ \n escapes) or bare; names may
// be quoted too (UTF-8 label names).
func ParseMatchers(s string) ([]Matcher, error) {
	in := strings.TrimSpace(s)
	if strings.HasPrefix(in, "{") {
		if !strings.HasSuffix(in, "}") {
			return nil, fmt.Errorf("missing closing brace in %q", s)
		}
		in = strings.TrimSpace(in[1 : len(in)-1])
	}
	if in == "" {
		return nil, fmt.Errorf("no matcher in %q", s)
	}
	var out []Matcher
	for in != "" {
		m, rest, err := parseOne(in)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, m)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("%q: expected a comma before %q", s, rest)
		}
		in = strings.TrimSpace(rest[1:])
	}
	return out, nil
}

// parseOne reads a matcher at the start of in and returns the rest.
func parseOne(in string) (Matcher, string, error) {
	var name string
	var err error
	if strings.HasPrefix(in, `"`) {
		if name, in, err = quoted(in); err != nil {
			return Matcher{}, "", fmt.Errorf("label name: %w", err)
		}
	} else {
		i := strings.IndexAny(in, "=!~")
		if i < 0 {
			return Matcher{}, "", fmt.Errorf("no operator (=, !=, =~, !~) after %q", in)
		}
		name, in = strings.TrimSpace(in[:i]), in[i:]
		if !labelNameRE.MatchString(name) {
			return Matcher{}, "", fmt.Errorf("invalid label name %q", name)
		}
	}
	if name == "" {
		return Matcher{}, "", fmt.Errorf("empty label name")
	}
	in = strings.TrimLeft(in, " \t")
	var t MatchType
	switch {
	case strings.HasPrefix(in, "=~"):
		t = MatchRegexp
	case strings.HasPrefix(in, "!~"):
		t = MatchNotRegexp
	case strings.HasPrefix(in, "!="):
		t = MatchNotEqual
	case strings.HasPrefix(in, "="):
		t = MatchEqual
	default:
		return Matcher{}, "", fmt.Errorf("no operator (=, !=, =~, !~) after label %q", name)
	}
	in = strings.TrimLeft(in[len(t):], " \t")
	var value string
	if strings.HasPrefix(in, `"`) {
		if value, in, err = quoted(in); err != nil {
			return Matcher{}, "", fmt.Errorf("value of %q: %w", name, err)
		}
	} else {
		// A bare value runs to the next comma; a bare value containing a
		// comma must be quoted, as in Alertmanager.
		i := strings.IndexByte(in, ',')
		if i < 0 {
			i = len(in)
		}
		raw := strings.TrimSpace(in[:i])
		in = in[i:]
		if strings.ContainsAny(raw, `"{}`) {
			return Matcher{}, "", fmt.Errorf("value of %q: %q must be quoted", name, raw)
		}
		var b strings.Builder
		for j := 0; j < len(raw); j++ {
			if raw[j] == '\\' && j+1 < len(raw) {
				j++
				b.WriteString(unescapeOne(raw[j]))
				continue
			}
			b.WriteByte(raw[j])
		}
		value = b.String()
	}
	m, err := NewMatcher(name, t, value)
	return m, in, err
}

// quoted reads a double-quoted string at the start of in.
func quoted(in string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(in); i++ {
		switch c := in[i]; c {
		case '"':
			return b.String(), in[i+1:], nil
		case '\\':
			if i+1 >= len(in) {
				return "", "", fmt.Errorf("unterminated escape")
			}
			i++
			b.WriteString(unescapeOne(in[i]))
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated quoted string")
}

// unescapeOne is Alertmanager's unescaping of `\c`: \n, \" and \\ are
// escapes; any other backslash is literal, so that a regular expression
// such as "db\.example" keeps its backslash.
func unescapeOne(c byte) string {
	switch c {
	case 'n':
		return "\n"
	case '"', '\\':
		return string(c)
	}
	return "\\" + string(c)
}
