package automation

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
)

// Bounds on the vocabulary's values, for speed. CEL's runtime cost
// tracking doubles the time a condition takes, yet most conditions cannot
// be expensive on the values senders send. So a condition is compiled
// twice: with the tracking, and, when its worst case over values within
// these bounds is under CostLimit, without. An event whose values the
// condition reads are all within the bounds runs the fast program; one
// with a longer list or value runs the tracked one. Nothing is cut: the
// bounds choose the program, never the answer.
const (
	// MaxListValues bounds a list variable's length, the labels' and
	// the entities'.
	MaxListValues = 200
	// MaxValueLen bounds each value of a list, map or entity, in bytes.
	MaxValueLen = 1024
	// maxShort bounds the enumerations and names: severity, state,
	// source, assignee, product...
	maxShort = 256
	// maxTitle and maxText bound the title and the long texts
	// (description, comment).
	maxTitle = 512
	maxText  = 32 << 10
)

// stringBound is the bound of each string variable.
var stringBound = map[string]int{
	"title": maxTitle, "description": maxText, "comment": maxText,
	"severity": maxShort, "status": maxShort, "source": maxShort, "product": maxShort, "provider": maxShort,
	"alert_type": maxShort, "type": maxShort, "state": maxShort, "assignee": maxShort, "trigger": maxShort,
}

// within reports whether a resolved value is within its variable's
// bounds. Bytes bound CEL's size, which counts characters.
func within(name string, v any) bool {
	switch x := v.(type) {
	case string:
		n, ok := stringBound[name]
		return ok && len(x) <= n
	case []string:
		if len(x) > MaxListValues {
			return false
		}
		for _, s := range x {
			if len(s) > MaxValueLen {
				return false
			}
		}
		return true
	case []map[string]string: // entities: kind and value
		if len(x) > MaxListValues {
			return false
		}
		for _, m := range x {
			if len(m["value"]) > MaxValueLen || len(m["kind"]) > MaxValueLen {
				return false
			}
		}
		return true
	case map[string]string: // labels
		if len(x) > MaxListValues {
			return false
		}
		for k, s := range x {
			if len(k) > MaxValueLen || len(s) > MaxValueLen {
				return false
			}
		}
		return true
	case map[string]map[string]string: // changed: from and to of a few fields
		if len(x) > 8 {
			return false
		}
		for _, m := range x {
			if len(m["from"]) > maxShort || len(m["to"]) > maxShort {
				return false
			}
		}
		return true
	case int64, bool:
		return true
	}
	// custom_details: its values nest, and the estimate knows no bound
	// for them, so a condition that walks them is never fast; one that
	// only indexes them is cheap whatever they hold.
	return name == "custom_details"
}

// varMask is a set of vocabulary variables, one bit per variable in
// Vocabulary's order, so that checking a rule's variables against the
// bounds is a bit test once each variable has been checked.
type varMask uint64

func init() {
	if len(Vocabulary) > 64 {
		panic("automation: the vocabulary outgrew varMask")
	}
}

// fits reports whether the values of the variables in m are within the
// bounds, resolving those not checked yet (they are cached for the
// evaluation that follows).
func (a *activation) fits(m varMask) bool {
	if unchecked := m &^ a.checked; unchecked != 0 {
		for i, v := range Vocabulary {
			if unchecked&(1<<i) == 0 {
				continue
			}
			if val, found := a.ResolveName(v.Name); !found || !within(v.Name, val) {
				a.over |= 1 << i
			}
		}
		a.checked |= unchecked
	}
	return m&a.over == 0
}

// Bounded reports whether a checked condition's worst case, over values
// within the bounds, stays under CostLimit.
func Bounded(e *cel.Env, ast *cel.Ast) bool {
	est, err := e.EstimateCost(ast, sizes{})
	return err == nil && est.Max <= CostLimit
}

// referenced is the set of vocabulary variables a checked condition
// reads.
func referenced(ast *cel.Ast) varMask {
	var m varMask
	for _, ref := range ast.NativeRep().ReferenceMap() {
		for i, v := range Vocabulary {
			if v.Name == ref.Name {
				m |= 1 << i
			}
		}
	}
	return m
}

// sizes tells CEL's cost estimator the bounds above.
type sizes struct{}

func (sizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func (sizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 || p[0] == "custom_details" {
		return nil
	}
	upTo := func(n int) *cost.SizeEstimate { return &cost.SizeEstimate{Min: 0, Max: uint64(n)} }
	name := p[0]
	if len(p) == 1 {
		if b, ok := stringBound[name]; ok {
			return upTo(b)
		}
		if name == "changed" {
			return upTo(8)
		}
		return upTo(MaxListValues) // a list, the entities or the labels
	}
	switch {
	case name == "changed" && len(p) == 2, name == "entities" && len(p) == 2:
		return upTo(2) // from and to; kind and value
	case name == "changed":
		return upTo(maxShort)
	}
	return upTo(MaxValueLen) // a list's value, a label's key or value, an entity's field
}
