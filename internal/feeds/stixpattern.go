package feeds

import (
	"errors"
	"fmt"
	"strings"
)

// PatternValue is one value a STIX pattern tests for equality.
type PatternValue struct {
	Type  string // an Indicator type
	Value string
}

// ErrUnsupportedPattern is returned for STIX patterns outside the subset a
// matcher can use: anything but equality comparisons of the supported
// object paths joined by OR.
var ErrUnsupportedPattern = errors.New("unsupported STIX pattern")

// ParseSTIXPattern extracts the values of a STIX 2.1 pattern made of simple
// equality comparisons, e.g. "[ipv4-addr:value = '198.51.100.1']" or
// "[url:value = 'http://x/'] OR [domain-name:value = 'x' OR
// domain-name:value = 'y']". AND, other operators, other object paths,
// NOT, and observation qualifiers (WITHIN, REPEATS, START/STOP,
// FOLLOWEDBY) are unsupported: a pattern that holds any of them yields
// ErrUnsupportedPattern as a whole, because a part of a conjunction or a
// sequence is not by itself an indicator.
func ParseSTIXPattern(pattern string) ([]PatternValue, error) {
	p := patternLexer{s: pattern}
	var out []PatternValue
	for {
		p.space()
		if !p.eat("[") {
			return nil, p.fail("want '['")
		}
		for {
			pv, err := p.comparison()
			if err != nil {
				return nil, err
			}
			out = append(out, pv)
			p.space()
			if p.eat("]") {
				break
			}
			if !p.keyword("OR") {
				return nil, p.fail("want OR or ']'")
			}
		}
		p.space()
		if p.i == len(p.s) {
			return out, nil
		}
		if !p.keyword("OR") {
			return nil, p.fail("want OR between observations")
		}
	}
}

type patternLexer struct {
	s string
	i int
}

func (p *patternLexer) fail(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrUnsupportedPattern, msg, p.i)
}

func (p *patternLexer) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *patternLexer) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// keyword eats an upper-case keyword followed by a space or a bracket.
func (p *patternLexer) keyword(kw string) bool {
	rest := p.s[p.i:]
	if !strings.HasPrefix(rest, kw) || len(rest) == len(kw) || strings.IndexByte(" \t\r\n[", rest[len(kw)]) < 0 {
		return false
	}
	p.i += len(kw)
	return true
}

// path reads an object path up to '=' or a space: "ipv4-addr:value",
// "file:hashes.'SHA-256'".
func (p *patternLexer) path() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\'' { // quoted path component
			end := strings.IndexByte(p.s[p.i+1:], '\'')
			if end < 0 {
				p.i = len(p.s)
				break
			}
			p.i += end + 2
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=' || c == '!' || c == '>' || c == '<' || c == ']' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// stixPaths maps the supported object paths to indicator types.
var stixPaths = map[string]string{
	"ipv4-addr:value":   TypeIP,
	"ipv6-addr:value":   TypeIP,
	"domain-name:value": TypeDomain,
	"url:value":         TypeURL,
	"email-addr:value":  TypeEmail,
}

var stixHashes = map[string]string{
	"md5": TypeMD5, "sha-1": TypeSHA1, "sha1": TypeSHA1, "sha-256": TypeSHA256, "sha256": TypeSHA256,
}

func pathType(path string) (string, bool) {
	if t, ok := stixPaths[path]; ok {
		return t, true
	}
	if h, ok := strings.CutPrefix(path, "file:hashes."); ok {
		h = strings.ToLower(strings.Trim(h, "'"))
		t, ok := stixHashes[h]
		return t, ok
	}
	return "", false
}

func (p *patternLexer) comparison() (PatternValue, error) {
	p.space()
	path := p.path()
	typ, ok := pathType(path)
	if !ok {
		return PatternValue{}, p.fail(fmt.Sprintf("object path %q", path))
	}
	p.space()
	if !p.eat("=") {
		return PatternValue{}, p.fail("want '='")
	}
	p.space()
	v, err := p.str()
	if err != nil {
		return PatternValue{}, err
	}
	return PatternValue{Type: typ, Value: v}, nil
}

// str reads a single-quoted string literal with \' and \\ escapes.
func (p *patternLexer) str() (string, error) {
	if !p.eat("'") {
		return "", p.fail("want a string literal")
	}
	// Fast path: no escapes, the value is a substring.
	if end := strings.IndexAny(p.s[p.i:], `'\\`); end >= 0 && p.s[p.i+end] == '\'' {
		v := p.s[p.i : p.i+end]
		p.i += end + 1
		return v, nil
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '\\':
			if p.i+1 >= len(p.s) || (p.s[p.i+1] != '\'' && p.s[p.i+1] != '\\') {
				return "", p.fail("bad escape")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case '\'':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.fail("unterminated string")
}
