package alertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// MatchType is a matcher's operator, spelled as in Alertmanager's syntax.
type MatchType string

// The four operators of Alertmanager's matchers.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// IsRegex reports whether t compares against a regular expression.
func (t MatchType) IsRegex() bool { return t == MatchRegexp || t == MatchNotRegexp }

// IsEqual reports whether t is a positive match (= or =~), the API's isEqual.
func (t MatchType) IsEqual() bool { return t == MatchEqual || t == MatchRegexp }

func (t MatchType) valid() bool {
	switch t {
	case MatchEqual, MatchNotEqual, MatchRegexp, MatchNotRegexp:
		return true
	}
	return false
}

// Matcher is one label matcher. In the API (silences) it travels as
// {name, value, isRegex, isEqual}.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string

	re *regexp.Regexp // compiled, anchored; nil until NewMatcher
}

// NewMatcher returns a matcher with its regex compiled. Alertmanager anchors
// regexes at both ends, so "crit" does not match "critical".
func NewMatcher(t MatchType, name, value string) (Matcher, error) {
	if !t.valid() {
		return Matcher{}, fmt.Errorf("unknown match type %q", string(t))
	}
	m := Matcher{Name: name, Type: t, Value: value}
	if t.IsRegex() {
		re, err := compileAnchored(value)
		if err != nil {
			// Report the user's pattern, not the anchored wrapper.
			if _, rawErr := regexp.Compile(value); rawErr != nil {
				err = rawErr
			}
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %w", value, err)
		}
		m.re = re
	}
	return m, nil
}

func compileAnchored(re string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + re + ")$")
}

// Matches reports whether a label value satisfies m. A missing label is the
// empty string, as in Alertmanager, so {foo!="bar"} matches alerts without
// foo and {foo=""} matches exactly those.
func (m Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp, MatchNotRegexp:
		re := m.re
		if re == nil {
			var err error
			if re, err = compileAnchored(m.Value); err != nil {
				return false // a broken regex silences nothing
			}
		}
		return re.MatchString(v) == (m.Type == MatchRegexp)
	}
	return false
}

// String renders m as Alertmanager does: the name bare unless it holds a
// character the parser reserves, the value always double-quoted. Unlike
// Alertmanager it also quotes an empty name, which would otherwise render
// as `="x"` and not parse back (found by FuzzParseMatchers).
func (m Matcher) String() string {
	if m.Name == "" || strings.ContainsFunc(m.Name, isReserved) {
		return strconv.Quote(m.Name) + string(m.Type) + strconv.Quote(m.Value)
	}
	return m.Name + string(m.Type) + `"` + valueEscaper.Replace(m.Value) + `"`
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// Equal compares the parts that define a matcher. Use it rather than ==
// or reflect.DeepEqual, which also see the compiled regex.
func (m Matcher) Equal(o Matcher) bool {
	return m.Name == o.Name && m.Type == o.Type && m.Value == o.Value
}

// apiMatcher is the API v2 "matcher" definition.
type apiMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// MarshalJSON writes the API v2 matcher object; isEqual is always written
// although the spec defaults it to true, as Alertmanager does.
func (m Matcher) MarshalJSON() ([]byte, error) {
	return json.Marshal(apiMatcher{Name: m.Name, Value: m.Value, IsRegex: m.Type.IsRegex(), IsEqual: m.Type.IsEqual()})
}

// UnmarshalJSON reads the API v2 matcher object; an absent isEqual is true.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	in := apiMatcher{IsEqual: true}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	nm, err := NewMatcher(typeOf(in.IsRegex, in.IsEqual), in.Name, in.Value)
	if err != nil {
		return err
	}
	*m = nm
	return nil
}

func typeOf(isRegex, isEqual bool) MatchType {
	switch {
	case isRegex && isEqual:
		return MatchRegexp
	case isRegex:
		return MatchNotRegexp
	case isEqual:
		return MatchEqual
	}
	return MatchNotEqual
}

// Matchers is a conjunction: all must match.
type Matchers []Matcher

// Matches reports whether every matcher matches labels; a missing label
// reads as "". No matchers match everything.
func (ms Matchers) Matches(labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

// String renders the set in braces, comma-separated without spaces, as
// Alertmanager's Matchers.String does.
func (ms Matchers) String() string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.String())
	}
	b.WriteByte('}')
	return b.String()
}

// Equal reports whether both lists hold equal matchers in the same order.
func (ms Matchers) Equal(o Matchers) bool {
	if len(ms) != len(o) {
		return false
	}
	for i := range ms {
		if !ms[i].Equal(o[i]) {
			return false
		}
	}
	return true
}

// isReserved reports the runes the UTF-8 matcher syntax does not allow in
// an unquoted name or value.
func isReserved(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("{}!=~,\\\"'`", r)
}
