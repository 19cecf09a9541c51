package simulator

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WIQL: a flat query over work items. Supported: SELECT fields FROM
// WorkItems [WHERE ...] [ORDER BY field [ASC|DESC], ...]; comparisons
// = <> != < > <= >=, [NOT] IN (...), [NOT] CONTAINS [WORDS], [NOT] UNDER,
// EVER (as =), AND, OR, NOT, parentheses, and the macros @project, @me and
// @today [+|- n]. Dates compare by day unless timePrecision=true, and a
// time in a date literal is refused without it, as Azure DevOps does.

type adoWiqlEnv struct {
	project       string // "" for an organization-level query
	me            adoIdentity
	today         time.Time
	timePrecision bool
}

type adoOrder struct {
	field adoField
	desc  bool
}

type adoWiql struct {
	columns []adoField
	where   adoCond
	order   []adoOrder
}

type adoCond interface {
	match(e *adoWiqlEnv, it *adoItem) bool
}

type adoAnd []adoCond
type adoOr []adoCond
type adoNot struct{ c adoCond }

func (c adoAnd) match(e *adoWiqlEnv, it *adoItem) bool {
	for _, x := range c {
		if !x.match(e, it) {
			return false
		}
	}
	return true
}

func (c adoOr) match(e *adoWiqlEnv, it *adoItem) bool {
	for _, x := range c {
		if x.match(e, it) {
			return true
		}
	}
	return false
}

func (c adoNot) match(e *adoWiqlEnv, it *adoItem) bool { return !c.c.match(e, it) }

// adoOperand is the right-hand side of a comparison.
type adoOperand struct {
	str    string
	num    float64
	isNum  bool
	date   time.Time
	isDate bool
	me     bool
	field  *adoField
}

type adoCmp struct {
	field adoField
	op    string // = <> < > <= >= in notin contains notcontains under notunder
	vals  []adoOperand
}

func adoFieldValue(it *adoItem, f adoField) any {
	switch f.ref {
	case "System.Id":
		return float64(it.id)
	case "System.Rev":
		return float64(it.rev)
	}
	return it.fields[f.ref]
}

func adoParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02", "1/2/2006 15:04:05", "1/2/2006"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func adoAsTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		return adoParseTime(v)
	}
	return time.Time{}, false
}

// compare compares an item's value with an operand: -1, 0, 1, or ok false
// when they cannot be compared.
func (c adoCmp) compare(e *adoWiqlEnv, it *adoItem, v any, o adoOperand) (int, bool) {
	if o.field != nil {
		other := adoFieldValue(it, *o.field)
		switch ov := other.(type) {
		case float64:
			o = adoOperand{num: ov, isNum: true}
		case time.Time:
			o = adoOperand{date: ov, isDate: true}
		case adoIdentity:
			o = adoOperand{str: ov.Unique}
		default:
			o = adoOperand{str: adoString(ov)}
		}
	}
	switch {
	case c.field.kind == adoKDate || o.isDate:
		t, ok := adoAsTime(v)
		if !ok || !o.isDate {
			return 0, false
		}
		ot := o.date
		if !e.timePrecision {
			t, ot = t.Truncate(24*time.Hour), ot.Truncate(24*time.Hour)
		}
		return t.Compare(ot), true
	case o.me:
		p, ok := v.(adoIdentity)
		if ok && strings.EqualFold(p.Unique, e.me.Unique) {
			return 0, true
		}
		return 1, ok
	}
	if p, ok := v.(adoIdentity); ok {
		if strings.EqualFold(o.str, p.Name) || strings.EqualFold(o.str, p.Unique) || strings.EqualFold(o.str, p.String()) {
			return 0, true
		}
		return strings.Compare(strings.ToLower(p.Name), strings.ToLower(o.str)), true
	}
	if o.isNum {
		n, ok := adoNumber(v)
		if !ok {
			return 0, false
		}
		switch {
		case n < o.num:
			return -1, true
		case n > o.num:
			return 1, true
		}
		return 0, true
	}
	return strings.Compare(strings.ToLower(adoString(v)), strings.ToLower(o.str)), true
}

func (c adoCmp) match(e *adoWiqlEnv, it *adoItem) bool {
	v := adoFieldValue(it, c.field)
	cmp := func(o adoOperand) (int, bool) { return c.compare(e, it, v, o) }
	switch c.op {
	case "=", "<>", "<", ">", "<=", ">=":
		n, ok := cmp(c.vals[0])
		if !ok {
			return c.op == "<>"
		}
		switch c.op {
		case "=":
			return n == 0
		case "<>":
			return n != 0
		case "<":
			return n < 0
		case ">":
			return n > 0
		case "<=":
			return n <= 0
		}
		return n >= 0
	case "in", "notin":
		found := false
		for _, o := range c.vals {
			if n, ok := cmp(o); ok && n == 0 {
				found = true
				break
			}
		}
		return found == (c.op == "in")
	case "contains", "notcontains":
		want := strings.ToLower(c.vals[0].str)
		var found bool
		if c.field.kind == adoKTags {
			for _, t := range adoTags(adoString(v)) {
				if strings.ToLower(t) == want {
					found = true
				}
			}
		} else {
			found = strings.Contains(strings.ToLower(adoString(v)), want)
		}
		return found == (c.op == "contains")
	case "under", "notunder":
		p, want := strings.ToLower(adoString(v)), strings.ToLower(c.vals[0].str)
		found := p == want || strings.HasPrefix(p, want+`\`)
		return found == (c.op == "under")
	}
	return false
}

// run evaluates the query over items: matches in ORDER BY order, by id
// when it is not given or ties.
func (q *adoWiql) run(e *adoWiqlEnv, items map[int]*adoItem) []*adoItem {
	var out []*adoItem
	for _, it := range items {
		if q.where == nil || q.where.match(e, it) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	sort.SliceStable(out, func(i, j int) bool {
		for _, o := range q.order {
			n := adoOrderCompare(adoFieldValue(out[i], o.field), adoFieldValue(out[j], o.field))
			if n != 0 {
				return (n < 0) != o.desc
			}
		}
		return false
	})
	return out
}

func adoOrderCompare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	if ta, ok := a.(time.Time); ok {
		if tb, ok := b.(time.Time); ok {
			return ta.Compare(tb)
		}
	}
	if na, ok := a.(float64); ok {
		if nb, ok := b.(float64); ok {
			switch {
			case na < nb:
				return -1
			case na > nb:
				return 1
			}
			return 0
		}
	}
	sa, sb := adoString(a), adoString(b)
	if pa, ok := a.(adoIdentity); ok {
		sa = pa.Name
	}
	if pb, ok := b.(adoIdentity); ok {
		sb = pb.Name
	}
	return strings.Compare(strings.ToLower(sa), strings.ToLower(sb))
}

type adoTok struct {
	kind byte // 'f' [field], 'w' word, 's' string, 'n' number, 'm' macro, 'p' operator, 0 end
	text string
}

func (t adoTok) String() string {
	switch t.kind {
	case 0:
		return "end of query"
	case 'f':
		return "[" + t.text + "]"
	case 's':
		return "'" + t.text + "'"
	}
	return t.text
}

func adoWiqlSyntax(what string, at adoTok) *adoFailure {
	return adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException", fmt.Sprintf("TF51006: Expecting %s. The error is caused by «%s».", what, at))
}

func adoLexWiql(src string) ([]adoTok, *adoFailure) {
	var toks []adoTok
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '[':
			j := strings.IndexByte(src[i:], ']')
			if j < 0 {
				return nil, adoWiqlSyntax("]", adoTok{'w', src[i:]})
			}
			toks = append(toks, adoTok{'f', strings.TrimSpace(src[i+1 : i+j])})
			i += j + 1
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(src) {
					return nil, adoWiqlSyntax("a closing quote", adoTok{'w', src[i:]})
				}
				if src[j] == c {
					if j+1 < len(src) && src[j+1] == c { // a doubled quote is a quote
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				b.WriteByte(src[j])
			}
			toks = append(toks, adoTok{'s', b.String()})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, adoTok{'n', src[i:j]})
			i = j
		case c == '@':
			j := i + 1
			for j < len(src) && isWord(src[j]) {
				j++
			}
			toks = append(toks, adoTok{'m', strings.ToLower(src[i:j])})
			i = j
		case isWord(c):
			j := i
			for j < len(src) && (isWord(src[j]) || src[j] == '.') {
				j++
			}
			toks = append(toks, adoTok{'w', src[i:j]})
			i = j
		default:
			op := ""
			for _, o := range []string{"<>", "<=", ">=", "!=", "=", "<", ">", "(", ")", ",", "+", "-"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, adoWiqlSyntax("a field, value or operator", adoTok{'w', string(c)})
			}
			toks = append(toks, adoTok{'p', op})
			i += len(op)
		}
	}
	return toks, nil
}

type adoWiqlParser struct {
	toks []adoTok
	pos  int
	env  *adoWiqlEnv
}

func (p *adoWiqlParser) peek() adoTok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return adoTok{}
}

func (p *adoWiqlParser) next() adoTok {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

// keyword consumes the keyword kw if it is next.
func (p *adoWiqlParser) keyword(kw string) bool {
	if t := p.peek(); t.kind == 'w' && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *adoWiqlParser) punct(s string) bool {
	if t := p.peek(); t.kind == 'p' && t.text == s {
		p.pos++
		return true
	}
	return false
}

func (p *adoWiqlParser) field() (adoField, *adoFailure) {
	t := p.next()
	if t.kind != 'f' && t.kind != 'w' {
		return adoField{}, adoWiqlSyntax("a field name", t)
	}
	f, ok := adoResolveField(t.text)
	if !ok {
		return adoField{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
			"TF51005: The query references a field that does not exist. The error is caused by «"+t.text+"».")
	}
	return f, nil
}

func adoParseWiql(src string, env *adoWiqlEnv) (*adoWiql, *adoFailure) {
	toks, f := adoLexWiql(src)
	if f != nil {
		return nil, f
	}
	p := &adoWiqlParser{toks: toks, env: env}
	q := &adoWiql{}
	if !p.keyword("select") {
		return nil, adoWiqlSyntax("SELECT", p.peek())
	}
	for {
		c, f := p.field()
		if f != nil {
			return nil, f
		}
		q.columns = append(q.columns, c)
		if !p.punct(",") {
			break
		}
	}
	if !p.keyword("from") {
		return nil, adoWiqlSyntax("FROM", p.peek())
	}
	if t := p.next(); t.kind != 'w' || !strings.EqualFold(t.text, "workitems") {
		// WorkItemLinks (tree and one-hop queries) is not simulated.
		return nil, adoWiqlSyntax("WorkItems", t)
	}
	if p.keyword("where") {
		c, f := p.or()
		if f != nil {
			return nil, f
		}
		q.where = c
	}
	if p.keyword("order") {
		if !p.keyword("by") {
			return nil, adoWiqlSyntax("BY", p.peek())
		}
		for {
			fld, f := p.field()
			if f != nil {
				return nil, f
			}
			o := adoOrder{field: fld}
			if p.keyword("desc") {
				o.desc = true
			} else {
				p.keyword("asc")
			}
			q.order = append(q.order, o)
			if !p.punct(",") {
				break
			}
		}
	}
	if t := p.peek(); t.kind != 0 {
		return nil, adoWiqlSyntax("end of query", t)
	}
	return q, nil
}

func (p *adoWiqlParser) or() (adoCond, *adoFailure) {
	var terms adoOr
	for {
		c, f := p.and()
		if f != nil {
			return nil, f
		}
		terms = append(terms, c)
		if !p.keyword("or") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *adoWiqlParser) and() (adoCond, *adoFailure) {
	var terms adoAnd
	for {
		c, f := p.unary()
		if f != nil {
			return nil, f
		}
		terms = append(terms, c)
		if !p.keyword("and") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *adoWiqlParser) unary() (adoCond, *adoFailure) {
	if p.keyword("not") {
		c, f := p.unary()
		if f != nil {
			return nil, f
		}
		return adoNot{c}, nil
	}
	if p.punct("(") {
		c, f := p.or()
		if f != nil {
			return nil, f
		}
		if !p.punct(")") {
			return nil, adoWiqlSyntax(")", p.peek())
		}
		return c, nil
	}
	return p.cmp()
}

func (p *adoWiqlParser) cmp() (adoCond, *adoFailure) {
	fld, f := p.field()
	if f != nil {
		return nil, f
	}
	c := adoCmp{field: fld}
	not := p.keyword("not")
	t := p.peek()
	switch {
	case !not && t.kind == 'p' && slices.Contains([]string{"=", "<>", "!=", "<", ">", "<=", ">="}, t.text):
		p.pos++
		c.op = t.text
		if c.op == "!=" {
			c.op = "<>"
		}
	case p.keyword("contains"):
		p.keyword("words")
		c.op = "contains"
	case p.keyword("in"):
		c.op = "in"
	case p.keyword("under"):
		c.op = "under"
	case !not && p.keyword("ever"):
		// EVER asks about any past revision; the simulator answers with
		// the current one.
		c.op = "="
	default:
		return nil, adoWiqlSyntax("comparison operator", t)
	}
	if not {
		c.op = "not" + c.op
	}
	if c.op == "in" || c.op == "notin" {
		if !p.punct("(") {
			return nil, adoWiqlSyntax("(", p.peek())
		}
		for {
			o, f := p.operand(fld, c.op)
			if f != nil {
				return nil, f
			}
			c.vals = append(c.vals, o)
			if !p.punct(",") {
				break
			}
		}
		if !p.punct(")") {
			return nil, adoWiqlSyntax(")", p.peek())
		}
		return c, nil
	}
	o, f := p.operand(fld, c.op)
	if f != nil {
		return nil, f
	}
	c.vals = []adoOperand{o}
	return c, nil
}

func (p *adoWiqlParser) operand(fld adoField, op string) (adoOperand, *adoFailure) {
	t := p.next()
	switch t.kind {
	case 's':
		if fld.kind != adoKDate {
			return adoOperand{str: t.text}, nil
		}
		d, ok := adoParseTime(t.text)
		if !ok {
			return adoOperand{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
				fmt.Sprintf("TF51007: The value '%s' of field %s is not a valid date. The error is caused by «[%s] %s '%s'».", t.text, fld.ref, fld.ref, op, t.text))
		}
		if !p.env.timePrecision && strings.ContainsAny(t.text, "T:") {
			return adoOperand{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
				fmt.Sprintf("You cannot supply a time with the date when running a query using date precision. The error is caused by «[%s] %s '%s'».", fld.ref, op, t.text))
		}
		return adoOperand{date: d, isDate: true}, nil
	case 'n':
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return adoOperand{}, adoWiqlSyntax("a number", t)
		}
		return adoOperand{num: n, isNum: true, str: t.text}, nil
	case 'p':
		if t.text == "-" && p.peek().kind == 'n' {
			o, f := p.operand(fld, op)
			o.num, o.str = -o.num, "-"+o.str
			return o, f
		}
	case 'f', 'w':
		other, ok := adoResolveField(t.text)
		if !ok {
			return adoOperand{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
				"TF51005: The query references a field that does not exist. The error is caused by «"+t.text+"».")
		}
		return adoOperand{field: &other}, nil
	case 'm':
		switch t.text {
		case "@project":
			if p.env.project == "" {
				return adoOperand{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
					"TF51011: The @project macro can only be used in the context of a project. The error is caused by «@project».")
			}
			return adoOperand{str: p.env.project}, nil
		case "@me":
			return adoOperand{me: true}, nil
		case "@today":
			d := p.env.today
			if n := p.peek(); n.kind == 'p' && (n.text == "+" || n.text == "-") {
				p.pos++
				days := p.next()
				k, err := strconv.Atoi(days.text)
				if days.kind != 'n' || err != nil {
					return adoOperand{}, adoWiqlSyntax("a number of days", days)
				}
				if n.text == "-" {
					k = -k
				}
				d = d.AddDate(0, 0, k)
			}
			return adoOperand{date: d, isDate: true}, nil
		}
		return adoOperand{}, adoWITFail(http.StatusBadRequest, "WorkItemTrackingQueryException",
			"TF51011: The macro "+t.text+" is not supported. The error is caused by «"+t.text+"».")
	}
	return adoOperand{}, adoWiqlSyntax("a value", t)
}
