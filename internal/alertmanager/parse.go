package alertmanager

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseError is a matcher expression that could not be parsed. A handler
// answers it with WriteError(w, 400, err.Error()), Alertmanager's shape.
type ParseError struct {
	Input string // the expression (one filter element for ParseFilter)
	Msg   string // what was wrong, with the 1-based column range when known
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("bad matcher %q: %s", e.Input, e.Msg)
}

// ParseMatchers parses amtool's and Alertmanager's matcher list syntax:
// `{alertname="X",severity=~"crit.*"}`, the same without braces, unquoted
// values (`alertname=X`), quoted names and values with Go escapes, and
// UTF-8 label names. Empty input and `{}` give no matchers.
func ParseMatchers(s string) (Matchers, error) {
	if !utf8.ValidString(s) {
		return nil, &ParseError{Input: s, Msg: "not valid UTF-8"}
	}
	n, nErr := parseUTF8(s)
	c, cErr := parseClassicList(s)
	return pickFallback(s, n, nErr, c, cErr)
}

// ParseFilter parses the repeated `filter` query parameter of GET
// /api/v2/alerts, /alerts/groups and /silences. Each element is exactly one
// matcher, without braces, as Alertmanager's API demands.
func ParseFilter(filters []string) (Matchers, error) {
	out := make(Matchers, 0, len(filters))
	for _, f := range filters {
		m, err := parseOneMatcher(f)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func parseOneMatcher(s string) (Matcher, error) {
	if !utf8.ValidString(s) {
		return Matcher{}, &ParseError{Input: s, Msg: "not valid UTF-8"}
	}
	if strings.HasPrefix(s, "{") || strings.HasSuffix(s, "}") {
		return Matcher{}, &ParseError{Input: s, Msg: "unexpected open or close brace"}
	}
	n, nErr := parseUTF8(s)
	if nErr == nil && len(n) != 1 {
		if len(n) == 0 {
			nErr = &ParseError{Input: s, Msg: "no matchers"}
		} else {
			nErr = &ParseError{Input: s, Msg: fmt.Sprintf("expected 1 matcher, found %d", len(n))}
		}
	}
	var c Matchers
	cm, cErr := parseClassic(s)
	if cErr == nil {
		c = Matchers{cm}
	}
	ms, err := pickFallback(s, n, nErr, c, cErr)
	if err != nil {
		return Matcher{}, err
	}
	return ms[0], nil
}

// pickFallback is Alertmanager's fallback mode: the UTF-8 result, the
// classic one when only it parses or when the two disagree.
func pickFallback(s string, n Matchers, nErr error, c Matchers, cErr error) (Matchers, error) {
	if nErr != nil {
		if cErr != nil {
			return nil, nErr
		}
		return c, nil
	}
	if cErr == nil && !n.Equal(c) {
		return c, nil
	}
	return n, nil
}

// --- The UTF-8 syntax (Alertmanager's matcher/parse) ---

type tokKind int

const (
	tokEOF tokKind = iota
	tokOpen
	tokClose
	tokComma
	tokOp
	tokQuoted
	tokUnquoted
)

type tok struct {
	kind       tokKind
	text       string
	start, end int // rune columns, 0-based start, exclusive end
}

// lexUTF8 splits the whole input into tokens up front; inputs are short.
func lexUTF8(s string) ([]tok, error) {
	var toks []tok
	rs := []rune(s)
	perr := func(start, end int, msg string) error {
		return &ParseError{Input: s, Msg: fmt.Sprintf("%d:%d: %s", start+1, end, msg)}
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '{':
			toks = append(toks, tok{tokOpen, "{", i, i + 1})
			i++
		case r == '}':
			toks = append(toks, tok{tokClose, "}", i, i + 1})
			i++
		case r == ',':
			toks = append(toks, tok{tokComma, ",", i, i + 1})
			i++
		case r == '=' || r == '!':
			j := i + 1
			next := rune(-1)
			if j < len(rs) {
				next = rs[j]
			}
			switch {
			case r == '=' && next == '~', r == '!' && (next == '=' || next == '~'):
				j++
			case r == '!':
				return nil, perr(i, j, "'!' must be followed by '=' or '~'")
			}
			toks = append(toks, tok{tokOp, string(rs[i:j]), i, j})
			i = j
		case r == '"':
			j := i + 1
			escaped := false
			for ; j < len(rs); j++ {
				if escaped {
					escaped = false
				} else if rs[j] == '\\' {
					escaped = true
				} else if rs[j] == '"' {
					break
				}
			}
			if j >= len(rs) {
				return nil, perr(i, len(rs), "missing closing '\"'")
			}
			raw := string(rs[i : j+1])
			v, err := strconv.Unquote(raw)
			if err != nil || !utf8.ValidString(v) {
				return nil, perr(i, j+1, raw+": invalid quoted string")
			}
			toks = append(toks, tok{tokQuoted, v, i, j + 1})
			i = j + 1
		case !isReserved(r):
			j := i
			for j < len(rs) && !isReserved(rs[j]) {
				j++
			}
			toks = append(toks, tok{tokUnquoted, string(rs[i:j]), i, j})
			i = j
		default:
			return nil, perr(i, i+1, fmt.Sprintf("%c: invalid input", r))
		}
	}
	return toks, nil
}

// parseUTF8 parses: ['{'] [matcher {',' matcher} [',']] ['}' iff '{'].
func parseUTF8(s string) (Matchers, error) {
	toks, err := lexUTF8(s)
	if err != nil {
		return nil, err
	}
	p := 0
	peek := func() tok {
		if p < len(toks) {
			return toks[p]
		}
		n := len([]rune(s))
		return tok{kind: tokEOF, start: n, end: n}
	}
	fail := func(t tok, expected string) error {
		if t.kind == tokEOF {
			return &ParseError{Input: s, Msg: fmt.Sprintf("%d:%d: unexpected end of input, %s", t.start+1, t.end, expected)}
		}
		return &ParseError{Input: s, Msg: fmt.Sprintf("%d:%d: unexpected %s, %s", t.start+1, t.end, tokText(t), expected)}
	}
	braced := peek().kind == tokOpen
	if braced {
		p++
	}
	ms := Matchers{}
	for {
		t := peek()
		if t.kind == tokEOF || t.kind == tokClose {
			break
		}
		if t.kind != tokQuoted && t.kind != tokUnquoted {
			return nil, fail(t, "expected label name")
		}
		name := t.text
		p++
		op := peek()
		if op.kind != tokOp {
			return nil, fail(op, "expected an operator such as '=', '!=', '=~' or '!~'")
		}
		p++
		v := peek()
		if v.kind != tokQuoted && v.kind != tokUnquoted {
			return nil, fail(v, "expected label value")
		}
		p++
		m, err := NewMatcher(MatchType(op.text), name, v.text)
		if err != nil {
			return nil, &ParseError{Input: s, Msg: fmt.Sprintf("%d:%d: %s", t.start+1, v.end, err)}
		}
		ms = append(ms, m)
		switch end := peek(); end.kind {
		case tokComma:
			p++
		case tokEOF, tokClose:
		default:
			return nil, fail(end, "expected a comma or close brace")
		}
	}
	t := peek()
	switch {
	case braced && t.kind != tokClose:
		return nil, fail(t, "expected close brace")
	case !braced && t.kind == tokClose:
		return nil, fail(t, "expected opening brace before it")
	case t.kind == tokClose:
		p++
	}
	if t := peek(); t.kind != tokEOF {
		return nil, fail(t, "expected end of input")
	}
	return ms, nil
}

func tokText(t tok) string {
	if t.kind == tokQuoted {
		return strconv.Quote(t.text)
	}
	return t.text
}

// --- The classic syntax (Alertmanager's pkg/labels), the fallback ---

var classicRe = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$`)

// parseClassicList trims one brace at each end and splits at commas
// outside double quotes.
func parseClassicList(s string) (Matchers, error) {
	s = strings.TrimPrefix(s, "{")
	s = strings.TrimSuffix(s, "}")
	var (
		parts             []string
		cur               strings.Builder
		inQuotes, escaped bool
	)
	for _, r := range s {
		switch r {
		case ',':
			if !inQuotes {
				parts = append(parts, cur.String())
				cur.Reset()
				continue
			}
		case '"':
			if escaped {
				escaped = false
			} else {
				inQuotes = !inQuotes
			}
		case '\\':
			escaped = !escaped
		default:
			escaped = false
		}
		cur.WriteRune(r)
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		parts = append(parts, rest)
	}
	ms := Matchers{}
	for _, part := range parts {
		m, err := parseClassic(part)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseClassic reads name, operator and a value that may be quoted; in the
// value \n, \" and \\ are escapes and any other backslash is literal, which
// is what lets old regexes like foo=~bar\d through.
func parseClassic(s string) (Matcher, error) {
	sub := classicRe.FindStringSubmatch(s)
	if sub == nil {
		return Matcher{}, &ParseError{Input: s, Msg: "bad matcher format"}
	}
	raw := sub[3]
	quoted := strings.HasPrefix(raw, `"`)
	if quoted {
		raw = raw[1:]
	}
	var (
		v       strings.Builder
		escaped bool
	)
	for i, r := range raw {
		if escaped {
			escaped = false
			switch r {
			case 'n':
				v.WriteByte('\n')
			case '"', '\\':
				v.WriteRune(r)
			default:
				v.WriteByte('\\')
				v.WriteRune(r)
			}
			continue
		}
		switch r {
		case '\\':
			if i < len(raw)-1 {
				escaped = true
				continue
			}
			v.WriteByte('\\')
		case '"':
			if !quoted || i < len(raw)-1 {
				return Matcher{}, &ParseError{Input: s, Msg: "value contains an unescaped double quote"}
			}
			quoted = false
		default:
			v.WriteRune(r)
		}
	}
	if quoted {
		return Matcher{}, &ParseError{Input: s, Msg: "value lacks its closing double quote"}
	}
	m, err := NewMatcher(MatchType(sub[2]), sub[1], v.String())
	if err != nil {
		return Matcher{}, &ParseError{Input: s, Msg: err.Error()}
	}
	return m, nil
}

// AsParseError returns err's *ParseError, if it has one.
func AsParseError(err error) (*ParseError, bool) {
	var pe *ParseError
	ok := errors.As(err, &pe)
	return pe, ok
}
