package automation

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// FuzzFromSentinel: any ARM answer converts or is refused with an error;
// every converted rule normalizes and compiles, since import-sentinel
// saves them as they are.
func FuzzFromSentinel(f *testing.F) {
	f.Add([]byte(`{"value":[` + armRule("a", `{"displayName":"x","order":1,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
		"conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentTitle","operator":"Contains","propertyValues":["pentest"]}}]},
		"actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"status":"Closed","classification":"FalsePositive","classificationReason":"InaccurateData"}}]}`) + `]}`))
	f.Add([]byte(`{"value":[` + armRule("b", `{"displayName":"y","order":2,"triggeringLogic":{"isEnabled":false,"expirationTimeUtc":"2026-12-31T00:00:00Z","triggersOn":"Alerts","triggersWhen":"Created",
		"conditions":[{"conditionType":"Boolean","conditionProperties":{"operator":"Or","innerConditions":[{"conditionType":"PropertyChanged","conditionProperties":{"propertyName":"IncidentSeverity","changeType":"ChangedTo","operator":"Equals","propertyValues":["High"]}}]}}]},
		"actions":[{"order":1,"actionType":"RunPlaybook","actionConfiguration":{"logicAppResourceId":"/x","tenantId":"t"}}]}`) + `]}`))
	f.Add([]byte(`{"value":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := FromSentinel(raw)
		if err != nil {
			return
		}
		for _, d := range res.Rules {
			if err := d.Normalize(); err != nil {
				t.Fatalf("converted rule %q does not normalize: %v", d.Name, err)
			}
			if _, err := Compile(d.Condition); err != nil {
				t.Fatalf("converted rule %q does not compile: %v\n%s", d.Name, err, d.Condition)
			}
		}
	})
}

// FuzzDefinition: a definition as the API and rules apply decode it,
// then evaluated on an alert with an arbitrary payload: a bad definition
// is an error, never a panic, and evaluation never panics either (an
// evaluation error is the rule's, on its timeline).
func FuzzDefinition(f *testing.F) {
	f.Add(`{"name":"a","enabled":true,"triggers":["alert.created"],"condition":"title.contains(\"x\") && severity == \"high\"","actions":[{"type":"close","classification":"false_positive","reason":"r"}]}`,
		`{"properties":{"tactics":["Execution"],"customDetails":{"k":["v"]}}}`)
	f.Add(`{"name":"b","enabled":true,"triggers":["alert.created"],"builder":{"match":"any","rows":[{"property":"hosts","operator":"not_ends_with","values":["-dev","-test"]}]},"actions":[{"type":"tags","add":["x"]},{"type":"suppress"}]}`,
		`{"entities":[{"kind":"host","hostName":"vm-dev"}]}`)
	f.Add(`{"name":"c","enabled":true,"triggers":["alert.created"],"condition":"custom_details[\"k\"][0] == \"v\" || labels[\"team\"] == \"x\"","actions":[{"type":"severity","severity":"low"}]}`, `[]`)
	f.Fuzz(func(t *testing.T, def, payload string) {
		var d Definition
		if json.Unmarshal([]byte(def), &d) != nil || d.Normalize() != nil {
			return
		}
		s := NewSet([]Rule{{ID: 1, Version: 1, Definition: d}}, Options{Process: workitem.DefaultProcess()})
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		a := &alert.Alert{Source: "sentinel", SourceID: "1", Title: "x", Severity: "high", Raw: json.RawMessage(payload),
			Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-dev"}}}
		for _, tr := range d.Triggers {
			ev := &Event{Trigger: Trigger(tr), Source: "sentinel", Alert: a,
				Item: workitem.Item{Title: "x", Severity: "high", Source: "sentinel", State: "New", AlertCount: 1}}
			_ = s.Evaluate(ev, now)
		}
	})
}
