package automation

import (
	"fmt"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// builderEvent is the event every builder row is evaluated against: an
// alert with two hosts and an account, an item with tags and three alerts,
// and a severity change from low to high (an update).
func builderEvent() *Event {
	return &Event{
		Trigger: AlertUpdated,
		Source:  "sentinel",
		Alert: &alert.Alert{
			Source: "sentinel", Title: "Suspicious PowerShell on VM-Web-01", Severity: alert.SeverityHigh, Status: alert.StatusNew,
			Entities: []alert.Entity{
				{Kind: alert.EntityHost, Value: "vm-web-01"},
				{Kind: alert.EntityHost, Value: "DB-02"},
				{Kind: alert.EntityAccount, Value: "alice@contoso.com"},
			},
		},
		Item: workitem.Item{
			Type: workitem.TypeIssue, Title: "Suspicious PowerShell on VM-Web-01", State: "New", Severity: alert.SeverityHigh,
			Tags: []string{"pentest", "noise-campaign"}, Source: "sentinel", AlertCount: 3,
		},
		Changes: []Change{{Field: "severity", From: "low", To: "high"}},
	}
}

// evalCondition compiles cond and evaluates it on ev, as the engine does.
func evalCondition(t testing.TB, cond string, ev *Event) (bool, error) {
	t.Helper()
	prg, err := Compile(cond)
	if err != nil {
		t.Fatalf("Compile(%q): %v", cond, err)
	}
	out, _, err := prg.Eval(newActivation(ev))
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		t.Fatalf("%q evaluated to %T, not bool", cond, out.Value())
	}
	return b, nil
}

func TestBuilderOperators(t *testing.T) {
	cases := []struct {
		prop, op string
		values   []string
		want     bool
	}{
		// A scalar property. Values differ in case from the title on
		// purpose: Sentinel's operators ignore case.
		{"title", OpEquals, []string{"suspicious powershell on vm-web-01"}, true},
		{"title", OpEquals, []string{"nope", "SUSPICIOUS POWERSHELL ON VM-WEB-01"}, true},
		{"title", OpEquals, []string{"nope", "suspicious"}, false},
		{"title", OpNotEquals, []string{"nope", "other"}, true},
		{"title", OpNotEquals, []string{"nope", "Suspicious powershell on vm-web-01"}, false},
		{"title", OpContains, []string{"POWERSHELL"}, true},
		{"title", OpContains, []string{"bash", "on vm"}, true},
		{"title", OpContains, []string{"bash", "zsh"}, false},
		{"title", OpNotContains, []string{"bash", "zsh"}, true},
		{"title", OpNotContains, []string{"bash", "powershell"}, false},
		{"title", OpStartsWith, []string{"x", "SUSP"}, true},
		{"title", OpStartsWith, []string{"powershell", "vm"}, false},
		{"title", OpNotStartsWith, []string{"powershell", "vm"}, true},
		{"title", OpNotStartsWith, []string{"powershell", "suspicious "}, false},
		{"title", OpEndsWith, []string{"x", "Web-01"}, true},
		{"title", OpEndsWith, []string{"vm-web", "suspicious"}, false},
		{"title", OpNotEndsWith, []string{"vm-web", "suspicious"}, true},
		{"title", OpNotEndsWith, []string{"vm-web", "-01"}, false},
		// Values that CEL would misread if not quoted.
		{"title", OpContains, []string{`"`, `\`, `") || true || ("`}, false},

		// A list of entities: a row matches when any element does; a
		// negated row when no element does.
		{"hosts", OpEquals, []string{"VM-WEB-01"}, true},
		{"hosts", OpEquals, []string{"db-02", "other"}, true},
		{"hosts", OpEquals, []string{"vm-web", "other"}, false},
		{"hosts", OpNotEquals, []string{"other", "vm-web"}, true},
		{"hosts", OpNotEquals, []string{"other", "db-02"}, false},
		{"hosts", OpContains, []string{"WEB"}, true},
		{"hosts", OpContains, []string{"mail", "dc"}, false},
		{"hosts", OpNotContains, []string{"mail", "dc"}, true},
		{"hosts", OpNotContains, []string{"mail", "-02"}, false},
		{"hosts", OpStartsWith, []string{"x", "db-"}, true},
		{"hosts", OpStartsWith, []string{"web", "02"}, false},
		{"hosts", OpNotStartsWith, []string{"web", "02"}, true},
		{"hosts", OpNotStartsWith, []string{"VM-"}, false},
		{"hosts", OpEndsWith, []string{"-02"}, true},
		{"hosts", OpEndsWith, []string{"vm", "db"}, false},
		{"hosts", OpNotEndsWith, []string{"vm", "db"}, true},
		{"hosts", OpNotEndsWith, []string{"vm", "WEB-01"}, false},
		{"accounts", OpEndsWith, []string{"@CONTOSO.COM"}, true},
		{"ips", OpEquals, []string{"10.0.0.1"}, false}, // an empty list matches nothing
		{"ips", OpNotEquals, []string{"10.0.0.1"}, true},

		{"tags", OpEquals, []string{"PenTest"}, true},
		{"tags", OpEquals, []string{"noise"}, false},
		{"tags", OpNotEquals, []string{"noise", "campaign"}, true},
		{"tags", OpNotEquals, []string{"noise", "NOISE-CAMPAIGN"}, false},
		{"tags", OpContains, []string{"campaign"}, true},
		{"tags", OpNotContains, []string{"campaign"}, false},
		{"tags", OpStartsWith, []string{"noise-"}, true},
		{"tags", OpNotStartsWith, []string{"campaign"}, true},
		{"tags", OpEndsWith, []string{"test"}, true},
		{"tags", OpNotEndsWith, []string{"test"}, false},

		// A "changed" property: changed.severity is low → high.
		{"changed.severity.to", OpEquals, []string{"HIGH"}, true},
		{"changed.severity.to", OpEquals, []string{"critical", "medium"}, false},
		{"changed.severity.to", OpNotEquals, []string{"critical", "medium"}, true},
		{"changed.severity.to", OpNotEquals, []string{"critical", "high"}, false},
		{"changed.severity.to", OpContains, []string{"IG"}, true},
		{"changed.severity.to", OpNotContains, []string{"ig"}, false},
		{"changed.severity.to", OpStartsWith, []string{"h"}, true},
		{"changed.severity.to", OpNotStartsWith, []string{"h"}, false},
		{"changed.severity.to", OpEndsWith, []string{"gh"}, true},
		{"changed.severity.to", OpNotEndsWith, []string{"gh"}, false},
		{"changed.severity.from", OpEquals, []string{"Low"}, true},
		// An unchanged field matches neither a row nor its negation: a
		// "changed to" row means the field changed.
		{"changed.state.to", OpEquals, []string{"closed"}, false},
		{"changed.state.to", OpNotEquals, []string{"closed"}, false},

		// alert_count is 3.
		{"alert_count", OpEquals, []string{"3"}, true},
		{"alert_count", OpEquals, []string{"1", " 3 "}, true},
		{"alert_count", OpEquals, []string{"2"}, false},
		{"alert_count", OpNotEquals, []string{"1", "2"}, true},
		{"alert_count", OpNotEquals, []string{"1", "3"}, false},
		{"alert_count", OpGreater, []string{"2"}, true},
		{"alert_count", OpGreater, []string{"3"}, false},
		{"alert_count", OpLess, []string{"4"}, true},
		{"alert_count", OpLess, []string{"3"}, false},

		// comment_added is false on alert.updated.
		{"comment_added", OpEquals, []string{"true"}, false},
		{"comment_added", OpEquals, []string{"false"}, true},
		{"comment_added", OpEquals, nil, false}, // no value means true
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s %s %q", c.prop, c.op, c.values)
		t.Run(name, func(t *testing.T) {
			b := &Builder{Rows: []BuilderRow{{Property: c.prop, Operator: c.op, Values: c.values}}}
			cond, err := b.CEL()
			if err != nil {
				t.Fatalf("CEL: %v", err)
			}
			got, err := evalCondition(t, cond, builderEvent())
			if err != nil {
				t.Fatalf("eval %q: %v", cond, err)
			}
			if got != c.want {
				t.Errorf("%s = %v, want %v", cond, got, c.want)
			}
		})
	}
}

// comment_added is true exactly on item.commented.
func TestBuilderCommentAdded(t *testing.T) {
	for _, c := range []struct {
		trigger Trigger
		value   string
		want    bool
	}{
		{ItemCommented, "true", true},
		{ItemCommented, "false", false},
		{ItemMoved, "true", false},
		{ItemMoved, "false", true},
	} {
		b := &Builder{Rows: []BuilderRow{{Property: "comment_added", Operator: OpEquals, Values: []string{c.value}}}}
		cond, err := b.CEL()
		if err != nil {
			t.Fatalf("CEL: %v", err)
		}
		ev := builderEvent()
		ev.Trigger = c.trigger
		ev.Comment = "looks like the pentest"
		got, err := evalCondition(t, cond, ev)
		if err != nil {
			t.Fatalf("eval %q: %v", cond, err)
		}
		if got != c.want {
			t.Errorf("%s on %s = %v, want %v", cond, c.trigger, got, c.want)
		}
	}
}

// Titles outside ASCII: a value typed exactly as the title must match.
// (CEL's lowerAscii leaves "Ü" alone, so the builder must lower values the
// same way, not with strings.ToLower.)
func TestBuilderNonASCII(t *testing.T) {
	ev := builderEvent()
	ev.Alert.Title = "Überprüfung fehlgeschlagen"
	for _, c := range []struct {
		op    string
		value string
		want  bool
	}{
		{OpEquals, "Überprüfung fehlgeschlagen", true},
		{OpEquals, "Überprüfung FEHLGESCHLAGEN", true},
		{OpStartsWith, "Über", true},
		{OpNotStartsWith, "Über", false},
		// lowerAscii does not fold "Ü" and "ü": non-ASCII letters compare
		// exactly, the rest ignoring case.
		{OpContains, "PRÜFUNG", false},
		{OpContains, "prüfung", true},
	} {
		b := &Builder{Rows: []BuilderRow{{Property: "title", Operator: c.op, Values: []string{c.value}}}}
		cond, err := b.CEL()
		if err != nil {
			t.Fatalf("CEL: %v", err)
		}
		got, err := evalCondition(t, cond, ev)
		if err != nil {
			t.Fatalf("eval %q: %v", cond, err)
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", cond, got, c.want)
		}
	}
}

func TestBuilderMatch(t *testing.T) {
	yes := BuilderRow{Property: "title", Operator: OpContains, Values: []string{"powershell"}}
	no := BuilderRow{Property: "hosts", Operator: OpEquals, Values: []string{"mail-01"}}
	cases := []struct {
		match string
		rows  []BuilderRow
		want  bool
	}{
		{"all", []BuilderRow{yes, yes}, true},
		{"all", []BuilderRow{yes, no}, false},
		{"", []BuilderRow{yes, no}, false}, // all is the default
		{"any", []BuilderRow{yes, no}, true},
		{"any", []BuilderRow{no, no}, false},
		{"any", []BuilderRow{no}, false},
		{"all", nil, true}, // an empty builder matches everything
	}
	for _, c := range cases {
		b := &Builder{Match: c.match, Rows: c.rows}
		cond, err := b.CEL()
		if err != nil {
			t.Fatalf("CEL: %v", err)
		}
		got, err := evalCondition(t, cond, builderEvent())
		if err != nil {
			t.Fatalf("eval %q: %v", cond, err)
		}
		if got != c.want {
			t.Errorf("match %q: %s = %v, want %v", c.match, cond, got, c.want)
		}
	}
}

// Every property the builder offers, with every operator it lists, writes
// CEL that compiles: the UI can offer nothing that the server refuses.
func TestBuilderEveryPropertyCompiles(t *testing.T) {
	for _, p := range BuilderProperties() {
		for _, op := range p.Operators {
			v := "x"
			switch p.Kind {
			case "int":
				v = "2"
			case "bool":
				v = "true"
			}
			b := &Builder{Match: "any", Rows: []BuilderRow{{Property: p.Name, Operator: op, Values: []string{v, v}}}}
			cond, err := b.CEL()
			if err != nil {
				t.Errorf("%s %s: CEL: %v", p.Name, op, err)
				continue
			}
			if _, err := Compile(cond); err != nil {
				t.Errorf("%s %s: %q does not compile: %v", p.Name, op, cond, err)
				continue
			}
			if _, err := evalCondition(t, cond, builderEvent()); err != nil {
				t.Errorf("%s %s: %q fails to evaluate: %v", p.Name, op, cond, err)
			}
		}
	}
}
