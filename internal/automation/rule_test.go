package automation

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// validDef is a definition that normalizes; each case breaks one thing.
func validDef() Definition {
	return Definition{
		Name:     "Close pentest",
		Enabled:  true,
		Triggers: []string{string(AlertCreated)},
		Actions:  []ActionSpec{{Type: ActComment, Text: "seen"}, {Type: ActClose, Classification: BenignPositive}},
	}
}

func TestNormalizeErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d *Definition)
		field  string // the field the error must name
	}{
		{"empty name", func(d *Definition) { d.Name = "  " }, "name"},
		{"long name", func(d *Definition) { d.Name = strings.Repeat("n", MaxName+1) }, "name"},
		{"long description", func(d *Definition) { d.Description = strings.Repeat("d", MaxText+1) }, "description"},
		{"no trigger", func(d *Definition) { d.Triggers = nil }, "triggers"},
		{"unknown trigger", func(d *Definition) { d.Triggers = []string{"alert.created", "alert.deleted"} }, "triggers[1]"},
		{"first trigger unknown", func(d *Definition) { d.Triggers = []string{"Alert.Created"} }, "triggers[0]"},
		{"empty source", func(d *Definition) { d.Sources = []string{"sentinel", " "} }, "sources[1]"},
		{"builder match", func(d *Definition) { d.Builder = &Builder{Match: "some"} }, "builder.match"},
		{"builder property", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{{Property: "colour", Operator: OpEquals, Values: []string{"x"}}}}
		}, "builder.rows[0].property"},
		{"builder operator", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{{Property: "title", Operator: OpGreater, Values: []string{"x"}}}}
		}, "builder.rows[0].operator"},
		{"builder operator on int", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{{Property: "alert_count", Operator: OpContains, Values: []string{"1"}}}}
		}, "builder.rows[0].operator"},
		{"builder values", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{
				{Property: "title", Operator: OpEquals, Values: []string{"x"}},
				{Property: "hosts", Operator: OpEquals},
			}}
		}, "builder.rows[1].values"},
		{"builder int value", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{{Property: "alert_count", Operator: OpGreater, Values: []string{"2", "many"}}}}
		}, "builder.rows[0].values[1]"},
		{"builder bool value", func(d *Definition) {
			d.Builder = &Builder{Rows: []BuilderRow{{Property: "comment_added", Operator: OpEquals, Values: []string{"yes"}}}}
		}, "builder.rows[0].values[0]"},
		{"long condition", func(d *Definition) { d.Condition = `title == "` + strings.Repeat("x", MaxCondition) + `"` }, "condition"},
		{"no action", func(d *Definition) { d.Actions = nil }, "actions"},
		{"move without state", func(d *Definition) { d.Actions[1] = ActionSpec{Type: ActMove, Reason: "why"} }, "actions[1].state"},
		{"unknown severity", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActSeverity, Severity: "urgent"} }, "actions[0].severity"},
		{"tags with nothing", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActTags} }, "actions[0].add"},
		{"tag with comma", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActTags, Add: []string{"ok", "a,b"}} }, "actions[0].add[1]"},
		{"tasks with nothing", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActTasks} }, "actions[0].tasks"},
		{"empty task", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActTasks, Tasks: []string{"a", " "}} }, "actions[0].tasks[1]"},
		{"comment without text", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActComment} }, "actions[0].text"},
		{"long comment", func(d *Definition) {
			d.Actions[0] = ActionSpec{Type: ActComment, Text: strings.Repeat("c", MaxText+1)}
		}, "actions[0].text"},
		{"unknown classification", func(d *Definition) { d.Actions[1].Classification = "maybe" }, "actions[1].classification"},
		{"remove classification", func(d *Definition) { d.Actions[1] = ActionSpec{Type: ActRemove, Classification: "False Positive"} }, "actions[1].classification"},
		{"playbook without name", func(d *Definition) { d.Actions[0] = ActionSpec{Type: ActPlaybook} }, "actions[0].name"},
		{"page without target", func(d *Definition) { d.Actions[1] = ActionSpec{Type: ActPage} }, "actions[1].target"},
		{"no type", func(d *Definition) { d.Actions[1] = ActionSpec{} }, "actions[1].type"},
		{"unknown type", func(d *Definition) { d.Actions[0] = ActionSpec{Type: "explode"} }, "actions[0].type"},
		// Suppression decides whether an item is made: it has no meaning
		// once the item exists.
		{"suppress on update", func(d *Definition) {
			d.Triggers = []string{string(ItemMoved)}
			d.Actions = []ActionSpec{{Type: ActSuppress}}
		}, "actions[0].type"},
		{"suppress on creation and update", func(d *Definition) {
			d.Triggers = []string{string(AlertCreated), string(AlertUpdated)}
			d.Actions = []ActionSpec{{Type: ActTags, Add: []string{"x"}}, {Type: ActSuppress}}
		}, "actions[1].type"},
		{"too many actions", func(d *Definition) {
			d.Actions = slices.Repeat([]ActionSpec{{Type: ActComment, Text: "x"}}, MaxActions+1)
		}, "actions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := validDef()
			c.mutate(&d)
			err := d.Normalize()
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Normalize = %v, want a field error on %s", err, c.field)
			}
			if fe.Field != c.field {
				t.Errorf("field = %q (%v), want %q", fe.Field, err, c.field)
			}
		})
	}
}

func TestNormalizeFills(t *testing.T) {
	expiry := time.Date(2026, 12, 31, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	d := Definition{
		Name:     "  Pentest week ",
		Triggers: []string{string(ItemCreated), string(AlertCreated), string(AlertCreated)},
		Sources:  []string{" Sentinel", "sentinel", "GRAPH"},
		Builder:  &Builder{Rows: []BuilderRow{{Property: "title", Operator: OpEquals, Values: []string{"Pentest"}}}},
		Actions: []ActionSpec{
			{Type: " Close "},
			{Type: ActTags, Add: []string{" Pentest "}, Remove: []string{"New "}},
			{Type: ActSuppress}, // both triggers are creations
		},
		ExpiresAt: &expiry,
	}
	if err := d.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", d.Name, "Pentest week"},
		{"triggers sorted and unique", d.Triggers, []string{"alert.created", "item.created"}},
		{"sources lowered and unique", d.Sources, []string{"graph", "sentinel"}},
		{"builder match", d.Builder.Match, "all"},
		{"condition from builder", d.Condition, `title.lowerAscii() == "pentest"`},
		{"action type", d.Actions[0].Type, ActClose},
		{"default classification", d.Actions[0].Classification, Undetermined},
		{"tags lowered", d.Actions[1].Add, []string{"pentest"}},
		{"untags lowered", d.Actions[1].Remove, []string{"new"}},
		{"expiry in UTC", d.ExpiresAt.Location(), time.UTC},
		{"expiry instant", d.ExpiresAt.Equal(expiry), true},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}

	// A condition written by hand wins over the builder (the UI keeps the
	// builder to show, and CEL "can be edited directly for the rest").
	d2 := validDef()
	d2.Condition = ` severity == "high" `
	d2.Builder = &Builder{Rows: []BuilderRow{{Property: "title", Operator: OpEquals, Values: []string{"x"}}}}
	if err := d2.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	if d2.Condition != `severity == "high"` {
		t.Errorf("condition = %q, want the hand-written one, trimmed", d2.Condition)
	}
}

func equalAny(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

func TestExpiredAndRef(t *testing.T) {
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		expires *time.Time
		now     time.Time
		want    bool
	}{
		{nil, at, false},
		{&at, at.Add(-time.Second), false},
		{&at, at, true}, // the expiry instant is already expired
		{&at, at.Add(time.Second), true},
	}
	for _, c := range cases {
		r := Rule{Definition: Definition{ExpiresAt: c.expires}}
		if got := r.Expired(c.now); got != c.want {
			t.Errorf("Expired(%v) with expiry %v = %v, want %v", c.now, c.expires, got, c.want)
		}
	}
	r := Rule{Version: 3, Definition: Definition{Name: "Close pentest"}}
	if got := r.Ref(); got != "rule:Close pentest@v3" {
		t.Errorf("Ref = %q", got)
	}
	if !IsRuleActor(r.Ref()) || IsRuleActor("alice@contoso.com") {
		t.Error("IsRuleActor does not tell a rule from a person")
	}
}
