package automation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Builder operators, as Sentinel's automation-rule conditions: each with
// its negation, each taking several values. String comparisons ignore
// case, as Sentinel's do.
const (
	OpEquals        = "equals"
	OpNotEquals     = "not_equals"
	OpContains      = "contains"
	OpNotContains   = "not_contains"
	OpStartsWith    = "starts_with"
	OpNotStartsWith = "not_starts_with"
	OpEndsWith      = "ends_with"
	OpNotEndsWith   = "not_ends_with"
	OpGreater       = "greater_than" // alert_count only
	OpLess          = "less_than"    // alert_count only
)

// Operators lists the string operators in the builder's order.
var Operators = []string{OpEquals, OpNotEquals, OpContains, OpNotContains, OpStartsWith, OpNotStartsWith, OpEndsWith, OpNotEndsWith}

// Property is one property the builder offers.
type Property struct {
	Name  string `json:"name"`  // what a row's property holds
	Label string `json:"label"` // what the UI shows
	List  bool   `json:"list"`
	// Kind is "string", "int" (alert_count) or "bool" (comment_added).
	Kind      string   `json:"kind"`
	Operators []string `json:"operators"`
}

// changedFields are the properties whose change a rule can test, as
// Sentinel's PropertyChanged (changed from / changed to).
var changedFields = []struct{ name, label string }{
	{"severity", "Severity"}, {"state", "State"}, {"assignee", "Owner"}, {"status", "Status at source"},
}

// BuilderProperties lists what the builder offers, vocabulary first, then
// the "changed" properties of update triggers.
func BuilderProperties() []Property {
	var out []Property
	for _, v := range Vocabulary {
		if v.Builder == "" {
			continue
		}
		p := Property{Name: v.Name, Label: v.Builder, List: v.List, Kind: "string", Operators: Operators}
		if v.Type == "int" {
			p.Kind, p.Operators = "int", []string{OpEquals, OpNotEquals, OpGreater, OpLess}
		}
		out = append(out, p)
	}
	for _, c := range changedFields {
		out = append(out,
			Property{Name: "changed." + c.name + ".from", Label: c.label + " changed from", Kind: "string", Operators: Operators},
			Property{Name: "changed." + c.name + ".to", Label: c.label + " changed to", Kind: "string", Operators: Operators})
	}
	out = append(out, Property{Name: "comment_added", Label: "Comment added", Kind: "bool", Operators: []string{OpEquals}})
	return out
}

func propertyByName(name string) (Property, bool) {
	for _, p := range BuilderProperties() {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

func (b *Builder) validate() error {
	switch b.Match {
	case "":
		b.Match = "all"
	case "all", "any":
	default:
		return validation.NewFieldError("builder.match", "must be all or any, not %q", b.Match)
	}
	if len(b.Rows) > MaxRows {
		return validation.NewFieldError("builder.rows", "at most %d rows", MaxRows)
	}
	for i := range b.Rows {
		r := &b.Rows[i]
		field := fmt.Sprintf("builder.rows[%d]", i)
		p, ok := propertyByName(r.Property)
		if !ok {
			return validation.NewFieldError(field+".property", "unknown property %q", r.Property)
		}
		if !slices.Contains(p.Operators, r.Operator) {
			return validation.NewFieldError(field+".operator", "operator %q does not apply to %s (want one of %s)", r.Operator, r.Property, strings.Join(p.Operators, ", "))
		}
		if p.Kind == "bool" {
			if len(r.Values) == 0 {
				r.Values = []string{"true"}
			}
		}
		if len(r.Values) == 0 {
			return validation.NewFieldError(field+".values", "name at least one value")
		}
		if len(r.Values) > MaxValues {
			return validation.NewFieldError(field+".values", "at most %d values", MaxValues)
		}
		for j, v := range r.Values {
			switch p.Kind {
			case "int":
				if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return validation.NewFieldError(fmt.Sprintf("%s.values[%d]", field, j), "%q is not a whole number", v)
				}
			case "bool":
				if v != "true" && v != "false" {
					return validation.NewFieldError(fmt.Sprintf("%s.values[%d]", field, j), "must be true or false")
				}
			}
		}
	}
	return nil
}

// CEL writes the builder's condition as CEL. An empty builder matches
// everything ("true").
func (b *Builder) CEL() (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	if len(b.Rows) == 0 {
		return "true", nil
	}
	parts := make([]string, len(b.Rows))
	for i, r := range b.Rows {
		parts[i] = rowCEL(r)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	join := " && "
	if b.Match == "any" {
		join = " || "
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, join), nil
}

func rowCEL(r BuilderRow) string {
	p, _ := propertyByName(r.Property)
	switch p.Kind {
	case "bool":
		if r.Values[0] == "false" {
			return "!" + r.Property
		}
		return r.Property
	case "int":
		var alts []string
		for _, v := range r.Values {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			op := map[string]string{OpEquals: "==", OpNotEquals: "!=", OpGreater: ">", OpLess: "<"}[r.Operator]
			alts = append(alts, fmt.Sprintf("%s %s %d", r.Property, op, n))
		}
		if r.Operator == OpNotEquals {
			return strings.Join(alts, " && ")
		}
		return strings.Join(alts, " || ")
	}
	negated := strings.HasPrefix(r.Operator, "not_")
	base := strings.TrimPrefix(r.Operator, "not_")
	if f, ok := strings.CutPrefix(r.Property, "changed."); ok {
		field, _, _ := strings.Cut(f, ".")
		pred := stringPred(r.Property, base, r.Values)
		if negated {
			pred = "!(" + pred + ")"
		}
		return "has(changed." + field + ") && " + pred
	}
	if p.List {
		pred := "xs.exists(x, " + stringPred("x", base, r.Values) + ")"
		pred = strings.Replace(pred, "xs", r.Property, 1)
		if negated {
			return "!" + pred
		}
		return pred
	}
	pred := stringPred(r.Property, base, r.Values)
	if negated {
		return "!(" + pred + ")"
	}
	return pred
}

// stringPred is "expr matches any of values" for a base operator.
func stringPred(expr, base string, values []string) string {
	lower := expr + ".lowerAscii()"
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(lowerASCII(v))
	}
	if base == OpEquals {
		if len(quoted) == 1 {
			return lower + " == " + quoted[0]
		}
		return lower + " in [" + strings.Join(quoted, ", ") + "]"
	}
	fn := map[string]string{OpContains: "contains", OpStartsWith: "startsWith", OpEndsWith: "endsWith"}[base]
	alts := make([]string, len(quoted))
	for i, q := range quoted {
		alts[i] = lower + "." + fn + "(" + q + ")"
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " || ") + ")"
}

// lowerASCII lowers ASCII letters only, as CEL's lowerAscii does to the
// property: strings.ToLower would also lower "Ü", and a value typed exactly
// as a non-ASCII title would then never match it.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
