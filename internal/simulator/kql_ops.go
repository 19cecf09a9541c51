package simulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
)

// mv-expand, join and hash(): what vigil's fast Sentinel resync sends
// (internal/connector/sentinel/kql.go), with the semantics of
// https://learn.microsoft.com/kusto/query/mv-expand-operator,
// https://learn.microsoft.com/kusto/query/join-operator and
// https://learn.microsoft.com/kusto/query/hash-function.

// kqlExpand is `mv-expand [name =] column [to typeof(type)]`.
type kqlExpand struct {
	name, col string
	typ       string // "" for dynamic
	pos       int
}

// kqlJoin is `join [kind=k] (subquery) on column`.
type kqlJoin struct {
	kind  string // inner, innerunique (the default), leftouter
	right *kqlQuery
	on    string
	pos   int
}

// kqlTypeNames are the scalar types `to typeof()` takes.
var kqlTypeNames = map[string]string{"string": "string", "long": "long", "int": "long", "real": "real", "double": "real",
	"bool": "bool", "boolean": "bool", "dynamic": "dynamic"}

func (p *kqlParser) mvExpand(st *kqlStage) error {
	if err := p.expectOp("-"); err != nil {
		return err
	}
	if !p.isWord("expand") {
		return p.unexpected()
	}
	p.next()
	if p.isWord("kind") || p.isWord("with_itemindex") || p.isWord("bagexpansion") {
		t := p.peek()
		return kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': mv-expand option not in the simulator's KQL subset", t.text)
	}
	c, err := p.ident()
	if err != nil {
		return err
	}
	e := &kqlExpand{name: c.text, col: c.text, pos: c.pos}
	if p.isOp("=") {
		p.next()
		if c, err = p.ident(); err != nil {
			return err
		}
		e.col = c.text
	}
	if p.isWord("to") {
		p.next()
		if !p.isWord("typeof") {
			return p.unexpected()
		}
		p.next()
		if err := p.expectOp("("); err != nil {
			return err
		}
		tn, err := p.ident()
		if err != nil {
			return err
		}
		typ, ok := kqlTypeNames[tn.text]
		if !ok {
			return kqlSyntax(tn.pos, tn.text, "Query could not be parsed at '%s': unknown type", tn.text)
		}
		e.typ = typ
		if err := p.expectOp(")"); err != nil {
			return err
		}
	}
	if p.isOp(",") || p.isWord("limit") {
		t := p.peek()
		return kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': mv-expand of several columns is not in the simulator's KQL subset", t.text)
	}
	st.expand = e
	return nil
}

func (p *kqlParser) join(st *kqlStage) error {
	j := &kqlJoin{kind: "innerunique", pos: st.pos}
	if p.isWord("kind") {
		p.next()
		if err := p.expectOp("="); err != nil {
			return err
		}
		k, err := p.ident()
		if err != nil {
			return err
		}
		switch k.text {
		case "inner", "innerunique", "leftouter":
			j.kind = k.text
		default:
			return kqlSyntax(k.pos, k.text, "Query could not be parsed at '%s': join kind not in the simulator's KQL subset", k.text)
		}
	}
	if err := p.expectOp("("); err != nil {
		return err
	}
	t, err := p.ident()
	if err != nil {
		return err
	}
	if j.right, err = p.pipeline(t); err != nil {
		return err
	}
	if err := p.expectOp(")"); err != nil {
		return err
	}
	if !p.isWord("on") {
		return p.unexpected()
	}
	p.next()
	c, err := p.ident()
	if err != nil {
		return err
	}
	j.on = c.text
	if p.isOp(",") || p.isOp("==") {
		t := p.peek()
		return kqlSyntax(t.pos, t.text, "Query could not be parsed at '%s': join on several or differently named columns is not in the simulator's KQL subset", t.text)
	}
	st.join = j
	return nil
}

// kqlMvExpand makes a row per element of a dynamic array. A null makes
// one row with null; an empty array makes none; a property bag or a
// scalar is one element. Elements that are not of the `to typeof()` type
// become null.
func kqlMvExpand(e *kqlExpand, t *kqlTable) (*kqlTable, error) {
	src := t.index(e.col)
	if src < 0 {
		return nil, kqlSemantic("mv-expand", "Failed to resolve scalar expression named '%s'", e.col)
	}
	typ := e.typ
	if typ == "" {
		typ = "dynamic"
	}
	out := &kqlTable{Cols: append([]kqlColumn(nil), t.Cols...)}
	dst := t.index(e.name)
	if dst < 0 {
		dst = len(out.Cols)
		out.Cols = append(out.Cols, kqlColumn{Name: e.name, Type: typ})
	} else {
		out.Cols[dst].Type = typ
	}
	for _, r := range t.Rows {
		var elems []any
		switch v := r[src].(type) {
		case nil:
			elems = []any{nil}
		case string:
			var d any
			if json.Unmarshal([]byte(v), &d) != nil {
				d = v
			}
			if arr, ok := d.([]any); ok {
				elems = arr
			} else {
				elems = []any{d}
			}
		default:
			elems = []any{v}
		}
		for _, el := range elems {
			row := make([]any, len(out.Cols))
			copy(row, r)
			row[dst] = kqlCast(el, typ)
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// kqlCast converts an element of a JSON array to the column type; a
// mismatch is null.
func kqlCast(v any, typ string) any {
	if v == nil {
		return nil
	}
	switch typ {
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil
		}
		return s
	case "long":
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			return int64(f)
		}
		return nil
	case "real":
		if f, ok := v.(float64); ok {
			return f
		}
		return nil
	case "bool":
		if b, ok := v.(bool); ok {
			return b
		}
		return nil
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// kqlRunJoin joins t (left) with the subquery's result on a column both
// have. The output has the left columns, then the right ones, a right
// column whose name the left has getting a "1" suffix, as Kusto does.
func kqlRunJoin(j *kqlJoin, left *kqlTable, env kqlEnv) (*kqlTable, error) {
	sub := env
	sub.sub = true
	right, _, err := runKQL(j.right, sub, env.from, env.to)
	if err != nil {
		return nil, err
	}
	li, ri := left.index(j.on), right.index(j.on)
	if li < 0 || ri < 0 {
		return nil, kqlSemantic("join", "Failed to resolve column named '%s' on both sides", j.on)
	}
	out := &kqlTable{Cols: append([]kqlColumn(nil), left.Cols...)}
	for _, c := range right.Cols {
		name := c.Name
		for n := 1; out.index(name) >= 0; n++ {
			name = fmt.Sprintf("%s%d", c.Name, n)
		}
		out.Cols = append(out.Cols, kqlColumn{Name: name, Type: c.Type})
	}
	key := func(v any) (string, bool) {
		if v == nil {
			return "", false // null keys match nothing
		}
		return fmt.Sprintf("%T:%v", v, kqlString(v)), true
	}
	byKey := map[string][][]any{}
	for _, r := range right.Rows {
		if k, ok := key(r[ri]); ok {
			byKey[k] = append(byKey[k], r)
		}
	}
	seen := map[string]bool{}
	for _, l := range left.Rows {
		k, ok := key(l[li])
		if j.kind == "innerunique" {
			// innerunique keeps one left row per key.
			if !ok || seen[k] {
				continue
			}
			seen[k] = true
		}
		matches := byKey[k]
		if !ok {
			matches = nil
		}
		if len(matches) == 0 && j.kind == "leftouter" {
			row := make([]any, len(out.Cols))
			copy(row, l)
			out.Rows = append(out.Rows, row)
			continue
		}
		for _, m := range matches {
			row := make([]any, 0, len(out.Cols))
			row = append(append(row, l...), m...)
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// kqlHash is hash(x, mod): a deterministic hash of the value's text,
// modulo mod. Kusto uses xxhash64; a client only needs each value to land
// in the same partition every time, which this gives.
func kqlHash(v, mod any) any {
	h := fnv.New64a()
	h.Write([]byte(kqlString(v)))
	sum := int64(h.Sum64() & (1<<63 - 1))
	if m, ok := mod.(int64); ok {
		if m <= 0 {
			return nil
		}
		return sum % m
	}
	return sum
}
