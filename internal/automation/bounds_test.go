package automation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// TestBoundedConditions: the conditions people write, and the builder's,
// have a worst case under CostLimit and run untracked; a condition over
// custom details (whose values nest) or one that multiplies lists is
// tracked, and the cost limit still stops the pathological one.
func TestBoundedConditions(t *testing.T) {
	e, err := theEnv()
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{Match: "all", Rows: []BuilderRow{
		{Property: "title", Operator: OpEquals, Values: []string{"a", "b"}},
		{Property: "hosts", Operator: OpNotEndsWith, Values: []string{"-dev", "-test", "-qa"}},
		{Property: "tactics", Operator: OpContains, Values: []string{"Execution"}},
		{Property: "description", Operator: OpContains, Values: []string{"mimikatz"}},
	}}
	built, err := b.CEL()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cond    string
		bounded bool
	}{
		{`title.contains("campaign 4") || ips.exists(ip, ip == "198.51.100.4")`, true},
		{`severity in ["high", "critical"] && source == "sentinel" && alert_count > 3`, true},
		{`labels["team"] == "payments" && entities.exists(e, e.kind == "host" && e.value.startsWith("vm-"))`, true},
		{`has(changed.severity) && changed.severity.to == "high"`, true},
		{built, true},
		{`custom_details["Account"] == "x"`, true},
		{`custom_details["Accounts"].exists(a, a == "x")`, false},
		{`hosts.all(h, ips.all(i, urls.all(u, processes.all(p, (h + i + u + p).size() > 0))))`, false},
	}
	for _, tc := range tests {
		ast, iss := e.Compile(tc.cond)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", tc.cond, iss.Err())
		}
		if got := Bounded(e, ast); got != tc.bounded {
			est, _ := e.EstimateCost(ast, sizes{})
			t.Errorf("Bounded(%s) = %v, want %v (estimate %d..%d)", tc.cond, got, tc.bounded, est.Min, est.Max)
		}
	}
}

// TestOversizeValuesRunTracked: an event whose values pass the bounds
// runs the tracked program and gets the same answer; values are never
// cut.
func TestOversizeValuesRunTracked(t *testing.T) {
	cond := `hosts.exists(h, h.endsWith("-tail"))`
	p, err := compileCached(cond)
	if err != nil || p.fast == nil {
		t.Fatalf("compile: %v; fast program: %v", err, p != nil && p.fast != nil)
	}
	for _, tc := range []struct {
		name  string
		hosts []string
		fits  bool
	}{
		{"small", []string{"vm-tail"}, true},
		{"long value", []string{strings.Repeat("é", MaxValueLen) + "-tail"}, false},
		{"many values", append(make([]string, MaxListValues), "vm-tail"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEvent("sentinel", "x")
			for _, h := range tc.hosts {
				ev.Alert.Entities = append(ev.Alert.Entities, alert.Entity{Kind: alert.EntityHost, Value: h})
			}
			act := newActivation(ev)
			if got := act.fits(p.vars); got != tc.fits {
				t.Errorf("fits = %v, want %v", got, tc.fits)
			}
			s := newSet(t, mkRule(t, 1, Definition{Condition: cond, Actions: []ActionSpec{{Type: ActTags, Add: []string{"tail"}}}}))
			if res := s.Evaluate(ev, time.Now()); len(res.Hits) != 1 {
				t.Errorf("hits = %d, errors %v; want the rule to match", len(res.Hits), res.Errors)
			}
		})
	}
}

// TestReads: the variables a condition reads come from the checked
// expression, not from its text: a name inside a string literal does not
// count, nor does an iteration variable (one that shadows a vocabulary
// name counts that name too: a harmless superset).
func TestReads(t *testing.T) {
	for _, tc := range []struct {
		cond string
		want string
	}{
		{`"Impact" in tactics && title == "labels"`, "[title tactics]"},
		{`hosts.exists(h, h == "ips")`, "[hosts]"},
		{`hosts.exists(title, title == "x")`, "[title hosts]"},
		{``, "[]"},
	} {
		got, err := Reads(tc.cond)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("Reads(%s) = %s, want %s", tc.cond, s, tc.want)
		}
	}
}
