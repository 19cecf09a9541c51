package automation

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// mkRule normalizes d, as the rules service does before storing it, and
// gives it an identity.
func mkRule(t testing.TB, id int64, d Definition) Rule {
	t.Helper()
	d.Enabled = true
	if d.Name == "" {
		d.Name = fmt.Sprintf("rule %d", id)
	}
	if len(d.Triggers) == 0 {
		d.Triggers = []string{string(AlertCreated)}
	}
	if err := d.Normalize(); err != nil {
		t.Fatalf("rule %d: Normalize: %v", id, err)
	}
	return Rule{ID: id, Version: 1, Definition: d}
}

func newSet(t testing.TB, rules ...Rule) *Set {
	t.Helper()
	s := NewSet(rules, Options{Process: workitem.DefaultProcess(), Templates: map[string][]string{
		"phishing": {"Pull the message", "Reset the password"},
	}})
	for id, err := range s.Errors {
		t.Fatalf("rule %d does not compile: %v", id, err)
	}
	return s
}

// newEvent is an alert about to make a New item.
func newEvent(source, title string) *Event {
	return &Event{
		Trigger: AlertCreated,
		Source:  source,
		Alert: &alert.Alert{Source: source, Title: title, Severity: alert.SeverityLow, Status: alert.StatusNew,
			Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"}}},
		Item: workitem.Item{Type: workitem.TypeIssue, Title: title, State: "New", Severity: alert.SeverityLow,
			Tags: []string{"new"}, Source: source, AlertCount: 1},
	}
}

func hitIDs(r *Result) []int64 {
	var ids []int64
	for _, h := range r.Hits {
		ids = append(ids, h.RuleID)
	}
	return ids
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		cond string
		want []string // fragments of the message
	}{
		{`title = "x"`, []string{"1:7"}},
		{`title == "x" &&`, []string{"1:16"}},
		{`colour == "red"`, []string{"undeclared reference", "colour"}},
		{`alert_count == "3"`, []string{"no matching overload"}},
		// Not boolean: a condition must say yes or no.
		{`title`, []string{"boolean", "string"}},
		{`alert_count + 1`, []string{"boolean", "int"}},
		{`tags`, []string{"boolean"}},
	}
	for _, c := range cases {
		_, err := Compile(c.cond)
		var fe *validation.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q) = %v, want a field error", c.cond, err)
			continue
		}
		if fe.Field != "condition" {
			t.Errorf("Compile(%q): field %q, want condition", c.cond, fe.Field)
		}
		for _, w := range c.want {
			if !strings.Contains(fe.Message, w) {
				t.Errorf("Compile(%q) = %q, want it to contain %q", c.cond, fe.Message, w)
			}
		}
	}
	for _, ok := range []string{"", "  ", "true", `has(changed.severity) && changed.severity.to == "high"`, `"pentest" in tags`} {
		if _, err := Compile(ok); err != nil {
			t.Errorf("Compile(%q): %v", ok, err)
		}
	}
}

// A stored rule that no longer compiles is left out of the set and
// reported, and the others still run.
func TestSetKeepsCompileErrors(t *testing.T) {
	good := mkRule(t, 2, Definition{Actions: []ActionSpec{{Type: ActComment, Text: "x"}}})
	bad := good
	bad.ID, bad.Condition = 1, "title ==" // skips Normalize, as a stored rule would
	s := NewSet([]Rule{bad, good}, Options{Process: workitem.DefaultProcess()})
	if s.Len() != 1 || s.Errors[1] == nil {
		t.Fatalf("Len = %d, Errors = %v: want the bad rule reported and the good one kept", s.Len(), s.Errors)
	}
	if got := hitIDs(s.Evaluate(newEvent("sentinel", "x"), now)); !slices.Equal(got, []int64{2}) {
		t.Errorf("hits = %v, want [2]", got)
	}
}

func TestEvaluationErrors(t *testing.T) {
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 10), ",") + "]"
	// Six comprehensions of ten, nested: a million iterations, each
	// costing more than one. The cost limit must stop it.
	nested := "true"
	for i := range 6 {
		nested = fmt.Sprintf("%s.all(v%d, %s)", list, i, nested)
	}
	cases := []struct {
		name, cond string
		want       string // fragment of the error
	}{
		{"missing key", `custom_details.missing == "x"`, "no such key"},
		{"missing label", `labels["team"] == "db"`, "no such key"},
		// custom_details.env is an int below. (== would not do: CEL's
		// equality across types is false, not an error.)
		{"wrong type", `custom_details.env.startsWith("p")`, "no such overload"},
		{"nested comprehensions", nested, "cost"},
		{"string growth", `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, (title + title + title + title).size() > 0))))`, "cost"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			after := mkRule(t, 2, Definition{Order: 2, Actions: []ActionSpec{{Type: ActTags, Add: []string{"after"}}}})
			s := newSet(t, mkRule(t, 1, Definition{Order: 1, Condition: c.cond, Actions: []ActionSpec{{Type: ActSuppress}}}), after)
			ev := newEvent("pagerduty", strings.Repeat("long title ", 1000))
			ev.Alert.Raw = []byte(`{"payload":{"custom_details":{"env":7}}}`)
			start := time.Now()
			res := s.Evaluate(ev, now)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("evaluation took %v", d)
			}
			if len(res.Errors) != 1 || res.Errors[0].RuleID != 1 {
				t.Fatalf("Errors = %+v, want one error from rule 1", res.Errors)
			}
			if !strings.Contains(res.Errors[0].Err, c.want) {
				t.Errorf("error %q, want it to contain %q", res.Errors[0].Err, c.want)
			}
			if !strings.Contains(res.Errors[0].Message(), `rule "rule 1" (v1) could not be evaluated`) {
				t.Errorf("message %q", res.Errors[0].Message())
			}
			// The erroring rule did not act, and the next rule ran.
			if res.Suppressed != nil || !slices.Equal(hitIDs(res), []int64{2}) {
				t.Errorf("hits = %v, suppressed = %v: want only rule 2", hitIDs(res), res.Suppressed)
			}
		})
	}
}

func TestActions(t *testing.T) {
	cases := []struct {
		name    string
		trigger Trigger
		actions []ActionSpec
		check   func(t *testing.T, r *Result)
	}{
		{"assign", AlertCreated, []ActionSpec{{Type: ActAssign, Assignee: " bob "}}, func(t *testing.T, r *Result) {
			if r.Item.Assignee != "bob" {
				t.Errorf("assignee %q", r.Item.Assignee)
			}
		}},
		{"unassign", ItemMoved, []ActionSpec{{Type: ActAssign, Assignee: "bob"}, {Type: ActAssign}}, func(t *testing.T, r *Result) {
			if r.Item.Assignee != "" || r.Hits[0].Actions[1].Summary != "unassigned" {
				t.Errorf("assignee %q, actions %+v", r.Item.Assignee, r.Hits[0].Actions)
			}
		}},
		{"move with reason", AlertCreated, []ActionSpec{{Type: ActMove, State: "Approved", Reason: "known host"}}, func(t *testing.T, r *Result) {
			want := []Move{{From: "New", To: "Approved", Reason: "known host", Rule: "rule:rule 1@v1"}}
			if r.Item.State != "Approved" || !slices.Equal(r.Moves, want) {
				t.Errorf("state %q, moves %+v", r.Item.State, r.Moves)
			}
		}},
		{"move to unknown state", AlertCreated, []ActionSpec{{Type: ActMove, State: "Limbo"}}, func(t *testing.T, r *Result) {
			if r.Item.State != "New" || len(r.Moves) != 0 || !strings.Contains(r.Hits[0].Actions[0].Error, "unknown state") {
				t.Errorf("state %q, moves %+v, actions %+v", r.Item.State, r.Moves, r.Hits[0].Actions)
			}
		}},
		{"severity", AlertCreated, []ActionSpec{{Type: ActSeverity, Severity: "critical"}}, func(t *testing.T, r *Result) {
			if r.Item.Severity != alert.SeverityCritical || r.Hits[0].Actions[0].Summary != "severity low → critical" {
				t.Errorf("severity %q, actions %+v", r.Item.Severity, r.Hits[0].Actions)
			}
		}},
		{"tags", AlertCreated, []ActionSpec{{Type: ActTags, Add: []string{"Pentest", "campaign", "pentest"}, Remove: []string{"NEW", "absent"}}}, func(t *testing.T, r *Result) {
			if want := []string{"campaign", "pentest"}; !slices.Equal(r.Item.Tags, want) {
				t.Errorf("tags %q, want %q", r.Item.Tags, want)
			}
		}},
		{"tasks inline", AlertCreated, []ActionSpec{{Type: ActTasks, Tasks: []string{"Isolate the host", "Collect logs"}}}, func(t *testing.T, r *Result) {
			want := []NewTask{{"Isolate the host", "rule:rule 1@v1"}, {"Collect logs", "rule:rule 1@v1"}}
			if !slices.Equal(r.Tasks, want) {
				t.Errorf("tasks %+v", r.Tasks)
			}
		}},
		{"tasks from template", AlertCreated, []ActionSpec{{Type: ActTasks, Template: "phishing", Tasks: []string{"Tell the user"}}}, func(t *testing.T, r *Result) {
			var got []string
			for _, x := range r.Tasks {
				got = append(got, x.Title)
			}
			if want := []string{"Pull the message", "Reset the password", "Tell the user"}; !slices.Equal(got, want) {
				t.Errorf("tasks %q, want %q", got, want)
			}
			if s := r.Hits[0].Actions[0].Summary; s != "added 3 tasks from checklist phishing" {
				t.Errorf("summary %q", s)
			}
		}},
		{"tasks from a missing template", AlertCreated, []ActionSpec{{Type: ActTasks, Template: "nope"}}, func(t *testing.T, r *Result) {
			if len(r.Tasks) != 0 || !strings.Contains(r.Hits[0].Actions[0].Error, `"nope"`) {
				t.Errorf("tasks %+v, actions %+v", r.Tasks, r.Hits[0].Actions)
			}
		}},
		{"comment", ItemCommented, []ActionSpec{{Type: ActComment, Text: "Known pentest"}}, func(t *testing.T, r *Result) {
			if !slices.Equal(r.Comments, []NewComment{{"Known pentest", "rule:rule 1@v1"}}) {
				t.Errorf("comments %+v", r.Comments)
			}
		}},
		{"suppress", AlertCreated, []ActionSpec{{Type: ActTags, Add: []string{"noise"}}, {Type: ActSuppress}}, func(t *testing.T, r *Result) {
			if r.Suppressed == nil || r.Suppressed.RuleID != 1 || len(r.Suppressed.Actions) != 2 {
				t.Errorf("suppressed %+v", r.Suppressed)
			}
		}},
		{"playbook and page", AlertCreated, []ActionSpec{{Type: ActPlaybook, Name: "isolate"}, {Type: ActPage, Target: "soc-oncall"}}, func(t *testing.T, r *Result) {
			if len(r.Deferred) != 2 || r.Deferred[0].Action.Name != "isolate" || r.Deferred[1].Action.Target != "soc-oncall" ||
				r.Deferred[0].Trigger != AlertCreated || r.Deferred[1].RuleID != 1 {
				t.Errorf("deferred %+v", r.Deferred)
			}
			// Nothing registers these kinds in this package's tests: the
			// hit says so rather than pretending it ran.
			if s := r.Hits[0].Actions[0].Summary; !strings.Contains(s, "nothing is registered") {
				t.Errorf("summary %q", s)
			}
		}},
	}
	// Close and remove, with each classification.
	for _, typ := range []string{ActClose, ActRemove} {
		for _, class := range Classifications {
			to := map[string]string{ActClose: "Closed", ActRemove: "Removed"}[typ]
			cases = append(cases, struct {
				name    string
				trigger Trigger
				actions []ActionSpec
				check   func(t *testing.T, r *Result)
			}{typ + " " + class, AlertCreated, []ActionSpec{{Type: typ, Classification: class, Reason: "pentest week"}}, func(t *testing.T, r *Result) {
				want := []Move{{From: "New", To: to, Reason: ClassificationPhrase(class) + ": pentest week", Classification: class, Rule: "rule:rule 1@v1"}}
				if r.Item.State != to || !slices.Equal(r.Moves, want) {
					t.Errorf("state %q, moves %+v, want %+v", r.Item.State, r.Moves, want)
				}
				if !r.Hits[0].Closed || r.Hits[0].Actions[0].Error != "" {
					t.Errorf("hit %+v", r.Hits[0])
				}
				if s := r.Hits[0].Actions[0].Summary; !strings.Contains(s, ClassificationPhrase(class)) || !strings.Contains(s, "(pentest week)") {
					t.Errorf("summary %q", s)
				}
			}})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSet(t, mkRule(t, 1, Definition{Triggers: []string{string(c.trigger)}, Actions: c.actions}))
			ev := newEvent("sentinel", "Suspicious sign-in")
			ev.Trigger = c.trigger
			res := s.Evaluate(ev, now)
			if len(res.Hits) != 1 {
				t.Fatalf("hits = %+v, want one", res.Hits)
			}
			if got := len(res.Hits[0].Actions); got != len(c.actions) {
				t.Errorf("%d actions applied, want %d", got, len(c.actions))
			}
			if !res.Changed() || res.Hits[0].Message() == "" {
				t.Error("a hit must be reported with a message")
			}
			c.check(t, res)
		})
	}
}

func TestOrder(t *testing.T) {
	tag := func(s string) []ActionSpec { return []ActionSpec{{Type: ActTags, Add: []string{s}}} }
	cases := []struct {
		name           string
		rules          []Rule
		wantHits       []int64
		wantSuppressed bool
		wantStopped    bool
		check          func(t *testing.T, r *Result)
	}{
		{
			name: "by order then id",
			rules: []Rule{
				mkRule(t, 1, Definition{Order: 2, Actions: tag("a")}),
				mkRule(t, 3, Definition{Order: 1, Actions: tag("b")}),
				mkRule(t, 2, Definition{Order: 1, Actions: tag("c")}),
				mkRule(t, 4, Definition{Order: -1, Actions: tag("d")}),
			},
			wantHits: []int64{4, 2, 3, 1},
		},
		{
			// Rule 2 was written against what rule 1 leaves.
			name: "a later rule sees the change",
			rules: []Rule{
				mkRule(t, 2, Definition{Order: 2, Condition: `severity == "high" && "escalated" in tags`, Actions: tag("seen")}),
				mkRule(t, 1, Definition{Order: 1, Actions: []ActionSpec{{Type: ActSeverity, Severity: "high"}, {Type: ActTags, Add: []string{"escalated"}}}}),
				mkRule(t, 3, Definition{Order: 3, Condition: `severity == "low"`, Actions: tag("never")}),
			},
			wantHits: []int64{1, 2},
			check: func(t *testing.T, r *Result) {
				if r.Item.Severity != alert.SeverityHigh || !slices.Equal(r.Item.Tags, []string{"escalated", "new", "seen"}) {
					t.Errorf("item %+v", r.Item)
				}
			},
		},
		{
			name: "a state change is seen",
			rules: []Rule{
				mkRule(t, 1, Definition{Order: 1, Actions: []ActionSpec{{Type: ActClose, Classification: FalsePositive}}}),
				mkRule(t, 2, Definition{Order: 2, Condition: `state == "Closed"`, Actions: tag("closed-by-rule")}),
			},
			wantHits: []int64{1, 2},
		},
		{
			name: "stop",
			rules: []Rule{
				mkRule(t, 1, Definition{Order: 1, Actions: tag("a")}),
				mkRule(t, 2, Definition{Order: 2, Actions: tag("b"), Stop: true}),
				mkRule(t, 3, Definition{Order: 3, Actions: tag("c")}),
			},
			wantHits:    []int64{1, 2},
			wantStopped: true,
		},
		{
			// A stopping rule that does not match stops nothing.
			name: "stop without a hit",
			rules: []Rule{
				mkRule(t, 1, Definition{Order: 1, Condition: `title == "other"`, Actions: tag("a"), Stop: true}),
				mkRule(t, 2, Definition{Order: 2, Actions: tag("b")}),
			},
			wantHits: []int64{2},
		},
		{
			name: "suppression ends the run",
			rules: []Rule{
				mkRule(t, 1, Definition{Order: 1, Actions: []ActionSpec{{Type: ActSuppress}}}),
				mkRule(t, 2, Definition{Order: 2, Actions: []ActionSpec{{Type: ActPage, Target: "oncall"}}}),
			},
			wantHits:       []int64{1},
			wantSuppressed: true,
			check: func(t *testing.T, r *Result) {
				if len(r.Deferred) != 0 {
					t.Errorf("a suppressed alert must not page: %+v", r.Deferred)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := newSet(t, c.rules...).Evaluate(newEvent("sentinel", "Suspicious sign-in"), now)
			if got := hitIDs(res); !slices.Equal(got, c.wantHits) {
				t.Errorf("hits = %v, want %v", got, c.wantHits)
			}
			if (res.Suppressed != nil) != c.wantSuppressed || res.Stopped != c.wantStopped {
				t.Errorf("suppressed %v, stopped %v", res.Suppressed != nil, res.Stopped)
			}
			if len(res.Errors) > 0 {
				t.Errorf("errors %+v", res.Errors)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func TestLoopGuard(t *testing.T) {
	s := newSet(t, mkRule(t, 1, Definition{Triggers: []string{string(ItemMoved)}, Actions: []ActionSpec{{Type: ActComment, Text: "x"}}}))
	cases := []struct {
		actor string
		depth int
		want  int
	}{
		{"alice@contoso.com", 0, 1},
		{"alice@contoso.com", MaxDepth - 1, 1},
		{"rule:Close pentest@v1", 0, 0},
		{"rule:x@v1", 0, 0},
		{"playbook:isolate", MaxDepth, 0},
		{"playbook:isolate", MaxDepth + 5, 0},
	}
	for _, c := range cases {
		ev := newEvent("sentinel", "x")
		ev.Trigger, ev.Actor, ev.Depth = ItemMoved, c.actor, c.depth
		if got := len(s.Evaluate(ev, now).Hits); got != c.want {
			t.Errorf("actor %q depth %d: %d hits, want %d", c.actor, c.depth, got, c.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	expires := now.Add(7 * 24 * time.Hour)
	s := newSet(t, mkRule(t, 1, Definition{ExpiresAt: &expires, Actions: []ActionSpec{{Type: ActSuppress}}}))
	cases := []struct {
		at   time.Time
		want bool
	}{
		{now, true},
		{expires.Add(-time.Nanosecond), true},
		{expires, false},
		{expires.Add(time.Hour), false},
	}
	for _, c := range cases {
		res := s.Evaluate(newEvent("sentinel", "x"), c.at)
		if got := res.Suppressed != nil; got != c.want {
			t.Errorf("at %v: suppressed %v, want %v", c.at, got, c.want)
		}
		if c.want && (res.Suppressed.ExpiresAt == nil || !res.Suppressed.ExpiresAt.Equal(expires) ||
			!strings.Contains(res.Suppressed.Message(), "expires "+expires.Format(time.RFC3339))) {
			t.Errorf("the hit must carry the expiry: %+v", res.Suppressed)
		}
	}
}

func TestIndex(t *testing.T) {
	tag := func(s string) []ActionSpec { return []ActionSpec{{Type: ActTags, Add: []string{s}}} }
	titleIs := func(values ...string) *Builder {
		return &Builder{Rows: []BuilderRow{{Property: "title", Operator: OpEquals, Values: values}}}
	}
	rules := []Rule{
		mkRule(t, 1, Definition{Order: 1, Actions: tag("all")}),
		mkRule(t, 2, Definition{Order: 2, Sources: []string{"Sentinel"}, Actions: tag("sentinel")}),
		mkRule(t, 3, Definition{Order: 3, Builder: titleIs("Pentest Noise", "Scanner"), Actions: tag("titled")}),
		mkRule(t, 4, Definition{Order: 4, Sources: []string{"defender", "graph"}, Builder: titleIs("pentest noise"), Actions: tag("defender titled")}),
		mkRule(t, 5, Definition{Order: 5, Actions: tag("all again")}),
		// Any of two rows: the title does not pin it.
		mkRule(t, 6, Definition{Order: 6, Builder: &Builder{Match: "any", Rows: []BuilderRow{
			{Property: "title", Operator: OpEquals, Values: []string{"elsewhere"}},
			{Property: "hosts", Operator: OpEquals, Values: []string{"vm-web-01"}},
		}}, Actions: tag("any")}),
		// All of two rows, title and host: pinned, and the host must match too.
		mkRule(t, 7, Definition{Order: 0, Builder: &Builder{Rows: []BuilderRow{
			{Property: "hosts", Operator: OpEquals, Values: []string{"db-02"}},
			{Property: "title", Operator: OpEquals, Values: []string{"pentest noise"}},
		}}, Actions: tag("never")}),
		mkRule(t, 8, Definition{Order: 8, Triggers: []string{string(ItemMoved)}, Actions: tag("moved")}),
		// CEL edited by hand after using the builder: the condition, not
		// the builder it started from, decides; the index must not pin
		// the rule to the builder's title.
		mkRule(t, 9, Definition{Order: 9, Builder: titleIs("pentest noise"), Condition: `title.startsWith("Other")`, Actions: tag("edited")}),
	}
	s := newSet(t, rules...)
	cases := []struct {
		source, title string
		trigger       Trigger
		want          []int64
	}{
		{"sentinel", "PENTEST NOISE", AlertCreated, []int64{1, 2, 3, 5, 6}},
		{"sentinel", "Other", AlertCreated, []int64{1, 2, 5, 6, 9}},
		{"defender", "pentest noise", AlertCreated, []int64{1, 3, 4, 5, 6}},
		{"graph", "scanner", AlertCreated, []int64{1, 3, 5, 6}},
		{"alertmanager", "Pentest Noise", AlertCreated, []int64{1, 3, 5, 6}},
		{"alertmanager", "Pentest Noise ", AlertCreated, []int64{1, 5, 6}}, // equals is exact but for case
		{"sentinel", "Pentest Noise", ItemMoved, []int64{8}},
		{"sentinel", "Pentest Noise", IncidentCreated, nil},
	}
	for _, c := range cases {
		ev := newEvent(c.source, c.title)
		ev.Trigger = c.trigger
		res := s.Evaluate(ev, now)
		if got := hitIDs(res); !slices.Equal(got, c.want) {
			t.Errorf("%s %q on %s: hits %v, want %v", c.source, c.title, c.trigger, got, c.want)
		}
	}
}

func TestVocabularyFromRaw(t *testing.T) {
	sentinel := `{"id":"/subscriptions/x/incidents/1","properties":{"title":"Pentest","labels":[{"labelName":"Pentest","labelType":"User"}],
		"additionalData":{"tactics":["InitialAccess"],"techniques":["T1078"],"alertProductNames":["Azure Sentinel"],"providerName":"ASI Scheduled Alerts"},
		"relatedAnalyticRuleIds":["/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/alertRules/abc"]}}`
	alertmanager := `{"status":"firing","labels":{"alertname":"DiskFull","team":"db","severity":"critical"},"annotations":{"summary":"disk"}}`
	pagerduty := `{"event_action":"trigger","payload":{"summary":"db down","custom_details":{"env":"prod","replicas":3}}}`
	graph := `{"id":"da1","category":"Execution","mitreTechniques":["T1059.001"],"evidence":[
		{"@odata.type":"#microsoft.graph.security.processEvidence","processCommandLine":"powershell -enc AAAA","imageFile":{"fileName":"powershell.exe"}},
		{"@odata.type":"#microsoft.graph.security.mailboxEvidence","primaryAddress":"ceo@contoso.com"},
		{"@odata.type":"#microsoft.graph.security.userEvidence","userAccount":{"userPrincipalName":"alice@contoso.com"}},
		{"@odata.type":"#microsoft.graph.security.deviceEvidence","deviceDnsName":"laptop-7.contoso.com"}]}`
	cases := []struct {
		name     string
		incident string // raw of an incident
		alert    string // raw of an alert
		conds    []string
	}{
		{"sentinel incident", sentinel, "", []string{
			`"pentest" in tags`,
			`"new" in tags`, // the item's own tags stay
			`"Pentest" in labels`,
			`tactics == ["InitialAccess"]`,
			`"T1078" in techniques`,
			`product == "Azure Sentinel"`,
			`provider == "ASI Scheduled Alerts"`,
			`analytic_rule_ids.exists(x, x.endsWith("/alertRules/abc"))`,
			`size(analytic_rule_ids) == 1`,
		}},
		{"alertmanager", "", alertmanager, []string{
			`labels.team == "db"`,
			`labels["severity"] == "critical"`,
			`"team" in labels && !("annotations" in labels)`,
		}},
		{"pagerduty", "", pagerduty, []string{
			`custom_details.env == "prod"`,
			`custom_details.replicas == 3`,
			`has(custom_details.env) && !has(custom_details.region)`,
		}},
		{"graph evidence", "", graph, []string{
			`"powershell -enc AAAA" in processes`,
			`processes.exists(p, p.lowerAscii() == "powershell.exe")`,
			`mailboxes == ["ceo@contoso.com"]`,
			`"alice@contoso.com" in accounts`,
			`"laptop-7.contoso.com" in hosts && "vm-web-01" in hosts`,
			`"Execution" in tactics`,
			`"T1059.001" in techniques`,
		}},
		// No payload: every fact is empty, never missing, so a condition
		// on it is false rather than an error.
		{"no payload", "", "", []string{
			`tags == ["new"]`,
			`size(tactics) == 0 && size(processes) == 0 && size(labels) == 0`,
			`product == "" && provider == ""`,
			`!has(custom_details.env)`,
		}},
		{"invalid payload", "", `{"labels":`, []string{`size(labels) == 0`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cond := range c.conds {
				ev := newEvent("sentinel", "Pentest")
				if c.incident != "" {
					ev.Trigger = IncidentCreated
					ev.Incident = &alert.Incident{Source: "sentinel", Title: "Pentest", Raw: []byte(c.incident)}
				}
				ev.Alert.Raw = []byte(c.alert)
				got, err := evalCondition(t, cond, ev)
				if err != nil || !got {
					t.Errorf("%s = %v, %v; want true", cond, got, err)
				}
			}
		})
	}
}

// BenchmarkEvaluate500Rules is the issue's "500 enabled rules" on one
// ingest: 400 "suppress similar" rules (title, key entity and source, as
// the item page proposes them) and 100 hand-written CEL rules, with an
// event that matches none, the common case.
func BenchmarkEvaluate500Rules(b *testing.B) {
	sources := []string{"sentinel", "defender", "graph", "alertmanager", "pagerduty"}
	var rules []Rule
	for i := range 400 {
		rules = append(rules, mkRule(b, int64(i+1), Definition{
			Order:   i,
			Sources: []string{"sentinel"},
			Builder: &Builder{Rows: []BuilderRow{
				{Property: "title", Operator: OpEquals, Values: []string{fmt.Sprintf("Noisy detection %d", i)}},
				{Property: "hosts", Operator: OpEquals, Values: []string{fmt.Sprintf("host-%d", i)}},
			}},
			Actions: []ActionSpec{{Type: ActTags, Add: []string{"noise"}}, {Type: ActSuppress}},
		}))
	}
	for i := range 100 {
		d := Definition{
			Order:     400 + i,
			Condition: fmt.Sprintf(`title.contains("needle %d") && severity in ["high", "critical"]`, i),
			Actions:   []ActionSpec{{Type: ActAssign, Assignee: "tier2"}},
		}
		if i%6 != 5 { // a sixth of them apply to every source
			d.Sources = []string{sources[i%5]}
		}
		rules = append(rules, mkRule(b, int64(401+i), d))
	}
	s := newSet(b, rules...)
	if s.Len() != 500 {
		b.Fatalf("Len = %d", s.Len())
	}
	proto := newEvent("sentinel", "Suspicious sign-in from a new country")
	b.ReportAllocs()
	for b.Loop() {
		ev := *proto
		if res := s.Evaluate(&ev, now); len(res.Hits) > 0 || len(res.Errors) > 0 {
			b.Fatalf("hits %v, errors %+v", hitIDs(res), res.Errors)
		}
	}
}
