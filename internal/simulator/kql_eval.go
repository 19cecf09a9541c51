package simulator

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kqlEnv is what a query runs against: the tables by name (built on
// demand, so that a query reads only what it names) and the clock for
// ago() and now().
type kqlEnv struct {
	table func(name string) (*kqlTable, bool)
	now   time.Time
	// from and to are the request's timespan, which applies to every
	// table a query reads, subqueries included.
	from, to time.Time
	// sub is set while a subquery (a join's right side) runs.
	sub bool
}

// runKQL runs a parsed query. truncated reports that the result was cut at
// kqlMaxRecords.
func runKQL(q *kqlQuery, env kqlEnv, from, to time.Time) (res *kqlTable, truncated bool, err error) {
	env.from, env.to = from, to
	t, ok := env.table(q.table)
	if !ok {
		op := "where"
		if len(q.stages) > 0 {
			op = q.stages[0].op
		}
		return nil, false, &kqlError{Semantic: true, Msg: fmt.Sprintf("'%s' operator: Failed to resolve table or column expression named '%s'", op, q.table)}
	}
	// The timespan parameter applies in addition to the query's filters,
	// on TimeGenerated, before anything else.
	if i := t.index("TimeGenerated"); i >= 0 && (!from.IsZero() || !to.IsZero()) {
		var rows [][]any
		for _, r := range t.Rows {
			ts, ok := r[i].(time.Time)
			if !ok || (!from.IsZero() && ts.Before(from)) || (!to.IsZero() && !ts.Before(to)) {
				continue
			}
			rows = append(rows, r)
		}
		t = &kqlTable{Cols: t.Cols, Rows: rows}
	}
	for _, st := range q.stages {
		if t, err = kqlApply(st, t, env); err != nil {
			return nil, false, err
		}
	}
	if env.sub {
		// The record limit applies to the answer, not to a subquery.
		return t, false, nil
	}
	if len(t.Rows) > kqlMaxRecords {
		t.Rows = t.Rows[:kqlMaxRecords]
		truncated = true
	}
	return t, truncated, nil
}

func kqlSemantic(op, format string, args ...any) *kqlError {
	return &kqlError{Semantic: true, Msg: fmt.Sprintf("'%s' operator: ", op) + fmt.Sprintf(format, args...)}
}

// kqlBind checks that every column e names exists in t.
func kqlBind(op string, e kqlExpr, t *kqlTable) error {
	switch x := e.(type) {
	case kqlCol:
		if t.index(x.name) < 0 {
			return kqlSemantic(op, "Failed to resolve scalar expression named '%s'", x.name)
		}
	case kqlCall:
		for _, a := range x.args {
			if err := kqlBind(op, a, t); err != nil {
				return err
			}
		}
	case kqlBin:
		if err := kqlBind(op, x.l, t); err != nil {
			return err
		}
		return kqlBind(op, x.r, t)
	case kqlList:
		if err := kqlBind(op, x.l, t); err != nil {
			return err
		}
		for _, a := range x.list {
			if err := kqlBind(op, a, t); err != nil {
				return err
			}
		}
	case kqlNot:
		return kqlBind(op, x.e, t)
	}
	return nil
}

func kqlApply(st kqlStage, t *kqlTable, env kqlEnv) (*kqlTable, error) {
	switch st.op {
	case "where":
		if err := kqlBind("where", st.pred, t); err != nil {
			return nil, err
		}
		out := &kqlTable{Cols: t.Cols}
		for _, r := range t.Rows {
			if b, _ := kqlEval(st.pred, t, r, env).(bool); b {
				out.Rows = append(out.Rows, r)
			}
		}
		return out, nil
	case "project":
		out := &kqlTable{}
		for _, p := range st.proj {
			if err := kqlBind("project", p.expr, t); err != nil {
				return nil, err
			}
			typ := "string"
			if c, ok := p.expr.(kqlCol); ok {
				typ = t.Cols[t.index(c.name)].Type
			} else if len(t.Rows) > 0 {
				typ = kqlTypeOf(kqlEval(p.expr, t, t.Rows[0], env))
			}
			out.Cols = append(out.Cols, kqlColumn{Name: p.name, Type: typ})
		}
		for _, r := range t.Rows {
			row := make([]any, len(st.proj))
			for i, p := range st.proj {
				row[i] = kqlEval(p.expr, t, r, env)
			}
			out.Rows = append(out.Rows, row)
		}
		return out, nil
	case "take":
		if st.n < len(t.Rows) {
			return &kqlTable{Cols: t.Cols, Rows: t.Rows[:st.n]}, nil
		}
		return t, nil
	case "order":
		idx := make([]int, len(st.order))
		for i, o := range st.order {
			if idx[i] = t.index(o.col); idx[i] < 0 {
				return nil, kqlSemantic("order", "Failed to resolve scalar expression named '%s'", o.col)
			}
		}
		rows := slices.Clone(t.Rows)
		slices.SortStableFunc(rows, func(a, b []any) int {
			for i, o := range st.order {
				c := kqlOrderCmp(a[idx[i]], b[idx[i]])
				if o.desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		return &kqlTable{Cols: t.Cols, Rows: rows}, nil
	case "count":
		return &kqlTable{Cols: []kqlColumn{{Name: "Count", Type: "long"}}, Rows: [][]any{{int64(len(t.Rows))}}}, nil
	case "summarize":
		return kqlSummarize(st, t)
	case "mv-expand":
		return kqlMvExpand(st.expand, t)
	case "join":
		return kqlRunJoin(st.join, t, env)
	}
	return nil, kqlSemantic(st.op, "not supported")
}

func kqlSummarize(st kqlStage, t *kqlTable) (*kqlTable, error) {
	by := make([]int, len(st.by))
	for i, b := range st.by {
		if by[i] = t.index(b); by[i] < 0 {
			return nil, kqlSemantic("summarize", "Failed to resolve scalar expression named '%s'", b)
		}
	}
	arg := -1
	if st.argMax != "" {
		if arg = t.index(st.argMax); arg < 0 {
			return nil, kqlSemantic("summarize", "Failed to resolve scalar expression named '%s'", st.argMax)
		}
	}
	type group struct {
		key   []any
		count int64
		best  []any
	}
	var groups []*group
	find := map[string]*group{}
	for _, r := range t.Rows {
		key := make([]any, len(by))
		var ks strings.Builder
		for i, c := range by {
			key[i] = r[c]
			fmt.Fprintf(&ks, "%T:%v\x00", r[c], r[c])
		}
		g := find[ks.String()]
		if g == nil {
			g = &group{key: key}
			find[ks.String()] = g
			groups = append(groups, g)
		}
		g.count++
		if arg >= 0 && (g.best == nil || kqlOrderCmp(r[arg], g.best[arg]) > 0) {
			g.best = r
		}
	}
	out := &kqlTable{}
	for i, c := range by {
		out.Cols = append(out.Cols, t.Cols[c])
		_ = i
	}
	var rest []int
	if arg >= 0 {
		for i, c := range t.Cols {
			if !slices.Contains(by, i) {
				out.Cols = append(out.Cols, c)
				rest = append(rest, i)
			}
		}
	} else {
		out.Cols = append(out.Cols, kqlColumn{Name: st.aggName, Type: "long"})
	}
	if len(by) == 0 && len(groups) == 0 && arg < 0 {
		// summarize count() over nothing is one row with 0.
		groups = append(groups, &group{})
	}
	for _, g := range groups {
		row := slices.Clone(g.key)
		if arg >= 0 {
			for _, i := range rest {
				row = append(row, g.best[i])
			}
		} else {
			row = append(row, g.count)
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func kqlTypeOf(v any) string {
	switch v.(type) {
	case int64:
		return "long"
	case float64:
		return "real"
	case bool:
		return "bool"
	case time.Time:
		return "datetime"
	case time.Duration:
		return "timespan"
	}
	return "string"
}

// kqlString is how KQL's string operators see a value.
func kqlString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	}
	return fmt.Sprint(v)
}

// kqlCmp compares two values of comparable types; ok is false otherwise.
func kqlCmp(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y), true
		case float64:
			return cmp.Compare(float64(x), y), true
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, float64(y)), true
		case float64:
			return cmp.Compare(x, y), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	case time.Duration:
		if y, ok := b.(time.Duration); ok {
			return cmp.Compare(x, y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			if x == y {
				return 0, true
			}
			if !x {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, false
}

// kqlOrderCmp orders any two values: nulls first, then by kqlCmp, then by
// their text.
func kqlOrderCmp(a, b any) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	if c, ok := kqlCmp(a, b); ok {
		return c
	}
	return strings.Compare(kqlString(a), kqlString(b))
}

// kqlHas reports whether needle occurs in hay as whole terms: KQL indexes
// alphanumeric runs, and has matches only at their boundaries. Case is
// ignored.
func kqlHas(hay, needle string) bool {
	hay, needle = strings.ToLower(hay), strings.ToLower(needle)
	if needle == "" {
		return true
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80 }
	for off := 0; off <= len(hay)-len(needle); {
		i := strings.Index(hay[off:], needle)
		if i < 0 {
			return false
		}
		s, e := off+i, off+i+len(needle)
		startOK := s == 0 || !alnum(hay[s-1]) || !alnum(needle[0])
		endOK := e == len(hay) || !alnum(hay[e]) || !alnum(needle[len(needle)-1])
		if startOK && endOK {
			return true
		}
		off = s + 1
	}
	return false
}

func kqlEval(e kqlExpr, t *kqlTable, row []any, env kqlEnv) any {
	switch x := e.(type) {
	case kqlLit:
		return x.v
	case kqlCol:
		return row[t.index(x.name)]
	case kqlNot:
		b, _ := kqlEval(x.e, t, row, env).(bool)
		return !b
	case kqlCall:
		var a any
		if len(x.args) > 0 {
			a = kqlEval(x.args[0], t, row, env)
		}
		switch x.fn {
		case "now":
			return env.now
		case "ago":
			if d, ok := a.(time.Duration); ok {
				return env.now.Add(-d)
			}
			return nil
		case "isempty":
			return a == nil || a == ""
		case "isnotempty":
			return !(a == nil || a == "")
		case "tolower":
			return strings.ToLower(kqlString(a))
		case "toupper":
			return strings.ToUpper(kqlString(a))
		case "tostring":
			return kqlString(a)
		case "hash":
			return kqlHash(a, kqlEval(x.args[1], t, row, env))
		}
		return nil
	case kqlBin:
		switch x.op {
		case "and":
			l, _ := kqlEval(x.l, t, row, env).(bool)
			if !l {
				return false
			}
			r, _ := kqlEval(x.r, t, row, env).(bool)
			return r
		case "or":
			if l, _ := kqlEval(x.l, t, row, env).(bool); l {
				return true
			}
			r, _ := kqlEval(x.r, t, row, env).(bool)
			return r
		}
		l, r := kqlEval(x.l, t, row, env), kqlEval(x.r, t, row, env)
		return kqlBinary(x.op, l, r)
	case kqlList:
		l := kqlEval(x.l, t, row, env)
		neg := strings.HasPrefix(x.op, "!")
		for _, it := range x.list {
			v := kqlEval(it, t, row, env)
			var hit bool
			switch x.op {
			case "has_any":
				hit = l != nil && kqlHas(kqlString(l), kqlString(v))
			case "in~", "!in~":
				hit = l != nil && strings.EqualFold(kqlString(l), kqlString(v))
			default:
				c, ok := kqlCmp(l, v)
				hit = ok && c == 0
			}
			if hit {
				return !neg
			}
		}
		return neg
	}
	return nil
}

func kqlBinary(op string, l, r any) any {
	switch op {
	case "+", "-":
		switch x := l.(type) {
		case time.Time:
			if d, ok := r.(time.Duration); ok {
				if op == "-" {
					d = -d
				}
				return x.Add(d)
			}
			if y, ok := r.(time.Time); ok && op == "-" {
				return x.Sub(y)
			}
		case time.Duration:
			if d, ok := r.(time.Duration); ok {
				if op == "-" {
					d = -d
				}
				return x + d
			}
		case int64:
			if y, ok := r.(int64); ok {
				if op == "-" {
					return x - y
				}
				return x + y
			}
		}
		return nil
	case "==", "!=":
		c, ok := kqlCmp(l, r)
		eq := ok && c == 0
		if op == "!=" {
			// A null is neither equal nor unequal to anything.
			return ok && !eq
		}
		return eq
	case "=~", "!~":
		if l == nil || r == nil {
			return false
		}
		eq := strings.EqualFold(kqlString(l), kqlString(r))
		return eq == (op == "=~")
	case "<", "<=", ">", ">=":
		c, ok := kqlCmp(l, r)
		if !ok {
			return false
		}
		switch op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	}
	if l == nil {
		return strings.HasPrefix(op, "!")
	}
	ls, rs := strings.ToLower(kqlString(l)), strings.ToLower(kqlString(r))
	var res bool
	switch strings.TrimPrefix(op, "!") {
	case "has":
		res = kqlHas(ls, rs)
	case "contains":
		res = strings.Contains(ls, rs)
	case "startswith":
		res = strings.HasPrefix(ls, rs)
	case "endswith":
		res = strings.HasSuffix(ls, rs)
	}
	if strings.HasPrefix(op, "!") {
		return !res
	}
	return res
}
