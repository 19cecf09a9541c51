package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is a small subset of the Kusto Query Language (KQL), enough
// for the queries vigil sends to the Log Analytics query API (hunts over
// telemetry, reads of SecurityIncident and SecurityAlert). It parses
//
//	Table | where <pred> | project a, b = c | take N | limit N
//	      | order by c [asc|desc], ... | sort by ... | count
//	      | summarize [n =] count() [by a, b] | summarize arg_max(c, *) by a
//	      | mv-expand [n =] c [to typeof(t)]
//	      | join [kind=inner|innerunique|leftouter] (Table | ...) on c
//
// with predicates built from and, or, not(...), parentheses, ==, !=, =~,
// !~, <, <=, >, >=, in, in~, !in, !in~, has, !has, has_any, contains,
// !contains, startswith, !startswith, endswith, and operands that are
// columns, string, number, bool and timespan literals, datetime(...),
// ago(), now(), isempty(), isnotempty(), tolower(), toupper(), tostring(),
// hash(x, mod) and + or - on times and timespans. Anything else is refused with the
// service's syntax error; an unknown table or column gets its semantic
// error. The evaluation follows KQL where the simulator can: == is case
// sensitive, =~ and the string operators are not, has matches whole terms,
// order by defaults to descending.

// kqlMaxRecords is the query API's documented row limit (Azure Monitor
// service limits, "Query API": 500,000 records); beyond it the service
// truncates and answers 200 with a PartialError. A variable so that tests
// can lower it.
var kqlMaxRecords = 500000

// SetKQLMaxRecords lowers the row limit of every simulator in the process,
// for tests of clients that page when an answer is truncated; restore
// puts the documented limit back.
func SetKQLMaxRecords(n int) (restore func()) {
	old := kqlMaxRecords
	kqlMaxRecords = n
	return func() { kqlMaxRecords = old }
}

// kqlError is a query the simulator refuses. Semantic is false for syntax
// errors (the query could not be parsed), true for semantic ones (an
// unknown table or column).
type kqlError struct {
	Semantic bool
	Msg      string
	Token    string
	Pos      int // byte offset, for syntax errors
}

func (e *kqlError) Error() string { return e.Msg }

// kqlColumn is a result column: its name and KQL type (string, datetime,
// long, int, real, bool, dynamic, guid).
type kqlColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// kqlTable is a table or an intermediate result. Values are string,
// int64, float64, bool, time.Time or nil; dynamic columns hold their JSON
// text, as the query API returns them.
type kqlTable struct {
	Cols []kqlColumn
	Rows [][]any
}

func (t *kqlTable) index(name string) int {
	for i, c := range t.Cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// --- tokens -----------------------------------------------------------

type kqlTokKind int

const (
	tkEOF kqlTokKind = iota
	tkIdent
	tkString
	tkNumber
	tkTimespan
	tkDatetime
	tkOp
)

type kqlTok struct {
	kind  kqlTokKind
	text  string // identifier, operator, or the literal as written
	str   string // decoded string literal
	num   float64
	isInt bool
	dur   time.Duration
	tim   time.Time
	pos   int
}

func kqlSyntax(pos int, tok, format string, args ...any) *kqlError {
	return &kqlError{Msg: fmt.Sprintf(format, args...), Token: tok, Pos: pos}
}

var kqlUnits = map[string]time.Duration{
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"ms": time.Millisecond,
}

func kqlIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func kqlIdentPart(c byte) bool { return kqlIdentStart(c) || c >= '0' && c <= '9' }

func kqlTokenize(src string) ([]kqlTok, error) {
	var out []kqlTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"' || (c == '@' && i+1 < len(src) && (src[i+1] == '\'' || src[i+1] == '"')):
			start := i
			verbatim := c == '@'
			if verbatim {
				i++
			}
			q := src[i]
			i++
			var b strings.Builder
			closed := false
			for i < len(src) {
				ch := src[i]
				if ch == q {
					i++
					closed = true
					break
				}
				if ch == '\n' {
					break
				}
				if ch == '\\' && !verbatim {
					if i+1 >= len(src) {
						break
					}
					switch e := src[i+1]; e {
					case '\\', '\'', '"':
						b.WriteByte(e)
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						return nil, kqlSyntax(i, src[i:i+2], "unknown escape sequence %q", src[i:i+2])
					}
					i += 2
					continue
				}
				b.WriteByte(ch)
				i++
			}
			if !closed {
				return nil, kqlSyntax(start, src[start:i], "unterminated string literal")
			}
			out = append(out, kqlTok{kind: tkString, text: src[start:i], str: b.String(), pos: start})
		case c >= '0' && c <= '9':
			start := i
			for i < len(src) && (src[i] >= '0' && src[i] <= '9' || src[i] == '.') {
				i++
			}
			numText := src[start:i]
			n, err := strconv.ParseFloat(numText, 64)
			if err != nil {
				return nil, kqlSyntax(start, numText, "bad number %q", numText)
			}
			us := i
			for i < len(src) && kqlIdentPart(src[i]) {
				i++
			}
			if unit := src[us:i]; unit != "" {
				d, ok := kqlUnits[unit]
				if !ok {
					return nil, kqlSyntax(start, src[start:i], "bad timespan literal %q", src[start:i])
				}
				out = append(out, kqlTok{kind: tkTimespan, text: src[start:i], dur: time.Duration(n * float64(d)), pos: start})
				continue
			}
			out = append(out, kqlTok{kind: tkNumber, text: numText, num: n, isInt: !strings.Contains(numText, "."), pos: start})
		case kqlIdentStart(c) || c == '!' && i+1 < len(src) && kqlIdentStart(src[i+1]):
			start := i
			i++
			for i < len(src) && kqlIdentPart(src[i]) {
				i++
			}
			word := src[start:i]
			// in~, !in~, has_cs-style suffixes: "~" belongs to the operator.
			if (word == "in" || word == "!in") && i < len(src) && src[i] == '~' {
				i++
				word += "~"
			}
			if word == "datetime" {
				j := i
				for j < len(src) && src[j] == ' ' {
					j++
				}
				if j < len(src) && src[j] == '(' {
					end := strings.IndexByte(src[j:], ')')
					if end < 0 {
						return nil, kqlSyntax(start, word, "unterminated datetime literal")
					}
					raw := strings.Trim(strings.TrimSpace(src[j+1:j+end]), `'"`)
					t, ok := kqlParseTime(raw)
					if !ok {
						return nil, kqlSyntax(start, src[start:j+end+1], "bad datetime literal %q", raw)
					}
					i = j + end + 1
					out = append(out, kqlTok{kind: tkDatetime, text: src[start:i], tim: t, pos: start})
					continue
				}
			}
			if word[0] == '!' {
				out = append(out, kqlTok{kind: tkOp, text: word, pos: start})
			} else {
				out = append(out, kqlTok{kind: tkIdent, text: word, pos: start})
			}
		default:
			start := i
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "=~", "!~", "<=", ">=":
				out = append(out, kqlTok{kind: tkOp, text: two, pos: start})
				i += 2
				continue
			}
			switch c {
			case '|', '(', ')', ',', '<', '>', '=', '*', '+', '-':
				out = append(out, kqlTok{kind: tkOp, text: string(c), pos: start})
				i++
			default:
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, kqlSyntax(start, string(r), "unexpected character %q", r)
			}
		}
	}
	out = append(out, kqlTok{kind: tkEOF, pos: len(src)})
	return out, nil
}

// kqlParseTime reads the datetime formats KQL accepts that vigil uses.
func kqlParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// --- syntax tree --------------------------------------------------------

type kqlExpr interface{}

type (
	kqlCol struct {
		name string
		pos  int
	}
	kqlLit  struct{ v any }
	kqlCall struct {
		fn   string
		args []kqlExpr
		pos  int
	}
	kqlBin struct {
		op   string
		l, r kqlExpr
	}
	kqlList struct {
		op   string
		l    kqlExpr
		list []kqlExpr
	}
	kqlNot struct{ e kqlExpr }
)

// kqlStage is one operator after a pipe.
type kqlStage struct {
	op    string // where, project, take, order, summarize, count
	pos   int
	pred  kqlExpr
	proj  []kqlProj
	n     int
	order []kqlOrder
	// summarize
	aggName string // output name of count()
	argMax  string // column of arg_max(c, *); "" for count()
	by      []string
	// mv-expand and join (kql_ops.go)
	expand *kqlExpand
	join   *kqlJoin
}

type kqlProj struct {
	name string
	expr kqlExpr
}

type kqlOrder struct {
	col  string
	desc bool
	pos  int
}

type kqlQuery struct {
	table    string
	tablePos int
	stages   []kqlStage
}

type kqlParser struct {
	toks []kqlTok
	i    int
}

func (p *kqlParser) peek() kqlTok { return p.toks[p.i] }

func (p *kqlParser) next() kqlTok {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *kqlParser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tkOp && t.text == s
}

func (p *kqlParser) isWord(s string) bool {
	t := p.peek()
	return t.kind == tkIdent && t.text == s
}

func (p *kqlParser) unexpected() *kqlError {
	t := p.peek()
	if t.kind == tkEOF {
		return kqlSyntax(t.pos, "<EOF>", "unexpected end of query")
	}
	return kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s'", t.text)
}

func (p *kqlParser) expectOp(s string) error {
	if !p.isOp(s) {
		return p.unexpected()
	}
	p.next()
	return nil
}

func (p *kqlParser) ident() (kqlTok, error) {
	t := p.peek()
	if t.kind != tkIdent {
		return t, p.unexpected()
	}
	return p.next(), nil
}

// parseKQL parses a query of the supported subset.
func parseKQL(src string) (*kqlQuery, error) {
	toks, err := kqlTokenize(src)
	if err != nil {
		return nil, err
	}
	p := &kqlParser{toks: toks}
	t, err := p.ident()
	if err != nil {
		return nil, err
	}
	if t.text == "let" || t.text == "union" || t.text == "search" || t.text == "print" || t.text == "datatable" {
		return nil, kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': the simulator's KQL subset starts with a table name", t.text)
	}
	q, err := p.pipeline(t)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

// pipeline parses the stages after table t, up to the end of the query
// or of a parenthesised subquery.
func (p *kqlParser) pipeline(t kqlTok) (*kqlQuery, error) {
	q := &kqlQuery{table: t.text, tablePos: t.pos}
	for p.isOp("|") {
		p.next()
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		q.stages = append(q.stages, st)
	}
	return q, nil
}

func (p *kqlParser) stage() (kqlStage, error) {
	t, err := p.ident()
	if err != nil {
		return kqlStage{}, err
	}
	st := kqlStage{op: t.text, pos: t.pos}
	switch t.text {
	case "where", "filter":
		st.op = "where"
		st.pred, err = p.or()
	case "project":
		for {
			var name kqlTok
			if name, err = p.ident(); err != nil {
				break
			}
			pr := kqlProj{name: name.text, expr: kqlCol{name: name.text, pos: name.pos}}
			if p.isOp("=") {
				p.next()
				if pr.expr, err = p.additive(); err != nil {
					break
				}
			}
			st.proj = append(st.proj, pr)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	case "take", "limit":
		st.op = "take"
		n := p.next()
		if n.kind != tkNumber || !n.isInt || n.num < 0 {
			return st, kqlSyntax(n.pos, n.text, "Query could not be parsed at '%s': take needs a row count", n.text)
		}
		st.n = int(min(n.num, float64(1<<31)))
	case "order", "sort":
		st.op = "order"
		if !p.isWord("by") {
			return st, p.unexpected()
		}
		p.next()
		for {
			var c kqlTok
			if c, err = p.ident(); err != nil {
				break
			}
			o := kqlOrder{col: c.text, desc: true, pos: c.pos}
			if p.isWord("asc") {
				p.next()
				o.desc = false
			} else if p.isWord("desc") {
				p.next()
			}
			st.order = append(st.order, o)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	case "count":
	case "summarize":
		err = p.summarize(&st)
	case "mv":
		st.op = "mv-expand"
		err = p.mvExpand(&st)
	case "join":
		err = p.join(&st)
	default:
		return st, kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': operator not in the simulator's KQL subset", t.text)
	}
	return st, err
}

func (p *kqlParser) summarize(st *kqlStage) error {
	name := "count_"
	t, err := p.ident()
	if err != nil {
		return err
	}
	if p.isOp("=") {
		p.next()
		name = t.text
		if t, err = p.ident(); err != nil {
			return err
		}
	}
	switch t.text {
	case "count":
		if err := p.expectOp("("); err != nil {
			return err
		}
		if err := p.expectOp(")"); err != nil {
			return err
		}
		st.aggName = name
	case "arg_max":
		if err := p.expectOp("("); err != nil {
			return err
		}
		c, err := p.ident()
		if err != nil {
			return err
		}
		if err := p.expectOp(","); err != nil {
			return err
		}
		if err := p.expectOp("*"); err != nil {
			return err
		}
		if err := p.expectOp(")"); err != nil {
			return err
		}
		st.argMax = c.text
	default:
		return kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': only count() and arg_max(column, *) are supported", t.text)
	}
	if p.isWord("by") {
		p.next()
		for {
			c, err := p.ident()
			if err != nil {
				return err
			}
			st.by = append(st.by, c.text)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	return nil
}

func (p *kqlParser) or() (kqlExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = kqlBin{op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *kqlParser) and() (kqlExpr, error) {
	l, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.comparison()
		if err != nil {
			return nil, err
		}
		l = kqlBin{op: "and", l: l, r: r}
	}
	return l, nil
}

// kqlCompareOps are the binary operators with a single right operand.
var kqlCompareOps = map[string]bool{
	"==": true, "!=": true, "=~": true, "!~": true, "<": true, "<=": true, ">": true, ">=": true,
	"has": true, "!has": true, "contains": true, "!contains": true,
	"startswith": true, "!startswith": true, "endswith": true, "!endswith": true,
}

// kqlListOps take a parenthesised list.
var kqlListOps = map[string]bool{"in": true, "in~": true, "!in": true, "!in~": true, "has_any": true}

func (p *kqlParser) comparison() (kqlExpr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tkOp && t.kind != tkIdent {
		return l, nil
	}
	switch {
	case kqlCompareOps[t.text]:
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		return kqlBin{op: t.text, l: l, r: r}, nil
	case kqlListOps[t.text]:
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var list []kqlExpr
		for !p.isOp(")") {
			e, err := p.additive()
			if err != nil {
				return nil, err
			}
			list = append(list, e)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return kqlList{op: t.text, l: l, list: list}, nil
	case t.kind == tkOp && strings.HasPrefix(t.text, "!"), t.kind == tkIdent && strings.Contains(t.text, "_") && t.text != "and" && t.text != "or":
		// has_all, contains_cs, !has_cs...: valid KQL, not simulated.
		return nil, kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': operator not in the simulator's KQL subset", t.text)
	}
	return l, nil
}

func (p *kqlParser) additive() (kqlExpr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		l = kqlBin{op: op, l: l, r: r}
	}
	return l, nil
}

// kqlFuncs are the scalar functions supported, with their arity.
var kqlFuncs = map[string]int{"hash": 2, "ago": 1, "now": 0, "isempty": 1, "isnotempty": 1, "tolower": 1, "toupper": 1, "tostring": 1}

func (p *kqlParser) primary() (kqlExpr, error) {
	t := p.peek()
	switch t.kind {
	case tkString:
		p.next()
		return kqlLit{v: t.str}, nil
	case tkNumber:
		p.next()
		if t.isInt {
			return kqlLit{v: int64(t.num)}, nil
		}
		return kqlLit{v: t.num}, nil
	case tkTimespan:
		p.next()
		return kqlLit{v: t.dur}, nil
	case tkDatetime:
		p.next()
		return kqlLit{v: t.tim}, nil
	case tkOp:
		if t.text == "(" {
			p.next()
			e, err := p.or()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
		if t.text == "-" {
			p.next()
			n := p.peek()
			if n.kind == tkNumber || n.kind == tkTimespan {
				e, _ := p.primary()
				switch v := e.(kqlLit).v.(type) {
				case int64:
					return kqlLit{v: -v}, nil
				case float64:
					return kqlLit{v: -v}, nil
				case time.Duration:
					return kqlLit{v: -v}, nil
				}
			}
		}
		return nil, p.unexpected()
	case tkIdent:
		p.next()
		switch t.text {
		case "true":
			return kqlLit{v: true}, nil
		case "false":
			return kqlLit{v: false}, nil
		case "not":
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			e, err := p.or()
			if err != nil {
				return nil, err
			}
			return kqlNot{e: e}, p.expectOp(")")
		}
		if !p.isOp("(") {
			return kqlCol{name: t.text, pos: t.pos}, nil
		}
		arity, ok := kqlFuncs[t.text]
		if !ok {
			return nil, kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': function not in the simulator's KQL subset", t.text)
		}
		p.next()
		var args []kqlExpr
		for !p.isOp(")") {
			e, err := p.additive()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if len(args) != arity {
			return nil, &kqlError{Semantic: true, Msg: fmt.Sprintf("function '%s' expects %d argument(s)", t.text, arity)}
		}
		return kqlCall{fn: t.text, args: args, pos: t.pos}, nil
	}
	return nil, p.unexpected()
}
