package automation

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// armRule wraps a rule's properties as ARM lists it.
func armRule(name, props string) string {
	return `{"id":"/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/automationRules/` +
		name + `","name":"` + name + `","type":"Microsoft.SecurityInsights/automationRules","etag":"\"0300bf09-0000-0000-0000-5c37296e0000\"","properties":` + props + `}`
}

func TestFromSentinel(t *testing.T) {
	expiry := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		props string
		// want is the converted definition (Description and Condition are
		// checked apart); nil means the rule must be skipped.
		want *Definition
		// skip is a fragment the skip reason must contain.
		skip string
		// cond is a fragment the compiled condition must contain.
		cond string
	}{
		{
			// Microsoft's AutomationRules_CreateOrUpdate example.
			name: "labels any item, add task",
			props: `{"displayName":"Suspicious user sign-in events","order":1,
				"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[{"conditionType":"PropertyArray","conditionProperties":{"arrayType":"IncidentLabels","arrayConditionType":"AnyItem",
						"itemConditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentLabel","operator":"Equals","propertyValues":["myLabel"]}}]}}]},
				"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"Reset user passwords","description":"Reset passwords for compromised users."}}],
				"createdTimeUtc":"2019-01-01T13:00:00Z","lastModifiedTimeUtc":"2019-01-01T13:00:30Z"}`,
			want: &Definition{Name: "Suspicious user sign-in events", Enabled: true, Order: 1, Triggers: []string{"incident.created"},
				Builder: &Builder{Match: "all", Rows: []BuilderRow{{Property: "tags", Operator: OpEquals, Values: []string{"myLabel"}}}},
				Actions: []ActionSpec{{Type: ActTasks, Tasks: []string{"Reset user passwords"}}}},
			cond: `tags.exists(x, x.lowerAscii() == "mylabel")`,
		},
		{
			// The tactic-and-owner example of Microsoft's Bicep samples.
			name: "tactics contains, assign owner",
			props: `{"displayName":"Assign persistence","order":2,
				"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentTactics","operator":"Contains","propertyValues":["Persistence"]}}]},
				"actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"severity":null,"status":null,"classification":null,
					"owner":{"objectId":"b18ef471-be11-439d-9279-5ce4e18b976e","email":"SampleEmail1@Contoso.com","assignedTo":null,"userPrincipalName":"SampleUser@Contoso.com"},"labels":null}}]}`,
			want: &Definition{Name: "Assign persistence", Enabled: true, Order: 2, Triggers: []string{"incident.created"},
				Builder: &Builder{Match: "all", Rows: []BuilderRow{{Property: "tactics", Operator: OpContains, Values: []string{"Persistence"}}}},
				Actions: []ActionSpec{{Type: ActAssign, Assignee: "SampleEmail1@Contoso.com"}}},
		},
		{
			// The issue's own case: close a test campaign's noise for a while.
			name: "close false positives until expiry",
			props: `{"displayName":"Pentest week","order":3,
				"triggeringLogic":{"isEnabled":false,"expirationTimeUtc":"2026-12-31T00:00:00.0000000Z","triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[
						{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentTitle","operator":"StartsWith","propertyValues":["Pentest","Red team"]}},
						{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentSeverity","operator":"NotEquals","propertyValues":["High"]}},
						{"conditionType":"Property","conditionProperties":{"propertyName":"AccountUPNSuffix","operator":"Equals","propertyValues":["contoso.com"]}}]},
				"actions":[
					{"order":2,"actionType":"ModifyProperties","actionConfiguration":{"status":"Closed","classification":"BenignPositive","classificationReason":"SuspiciousButExpected","classificationComment":"pentest 2026-W52"}},
					{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"labels":[{"labelName":"Pentest"}],"severity":"Low"}}]}`,
			want: &Definition{Name: "Pentest week", Enabled: false, Order: 3, Triggers: []string{"incident.created"}, ExpiresAt: &expiry,
				Builder: &Builder{Match: "all", Rows: []BuilderRow{
					{Property: "title", Operator: OpStartsWith, Values: []string{"Pentest", "Red team"}},
					{Property: "severity", Operator: OpNotEquals, Values: []string{"high"}},
					{Property: "accounts", Operator: OpEndsWith, Values: []string{"@contoso.com"}}}},
				Actions: []ActionSpec{
					{Type: ActSeverity, Severity: "low"},
					{Type: ActTags, Add: []string{"pentest"}},
					{Type: ActClose, Classification: BenignPositive, Reason: "pentest 2026-W52"}}},
		},
		{
			name: "changed status, move active, playbook",
			props: `{"displayName":"Reopened","order":4,
				"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Updated",
					"conditions":[
						{"conditionType":"PropertyChanged","conditionProperties":{"propertyName":"IncidentStatus","changeType":"ChangedFrom","operator":"Equals","propertyValues":["Closed"]}},
						{"conditionType":"PropertyChanged","conditionProperties":{"propertyName":"IncidentOwner","changeType":"ChangedTo","operator":"NotEquals","propertyValues":["bob@contoso.com"]}}]},
				"actions":[
					{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"status":"Active"}},
					{"order":2,"actionType":"RunPlaybook","actionConfiguration":{"logicAppResourceId":"/subscriptions/d0cf/resourceGroups/myRg/providers/Microsoft.Logic/workflows/Reset-AADPassword","tenantId":"ee48efaf-50c6-411b-9345-b2bdc3eb4abc"}}]}`,
			want: &Definition{Name: "Reopened", Enabled: true, Order: 4, Triggers: []string{"incident.updated"},
				Builder: &Builder{Match: "all", Rows: []BuilderRow{
					{Property: "changed.status.from", Operator: OpEquals, Values: []string{"resolved"}},
					{Property: "changed.assignee.to", Operator: OpNotEquals, Values: []string{"bob@contoso.com"}}}},
				Actions: []ActionSpec{{Type: ActMove, State: "Active"}, {Type: ActPlaybook, Name: "Reset-AADPassword"}}},
			cond: `has(changed.status) && changed.status.from.lowerAscii() == "resolved"`,
		},
		{
			name: "alert created, lone OR becomes any",
			props: `{"displayName":"Noisy hosts","order":5,
				"triggeringLogic":{"isEnabled":true,"triggersOn":"Alerts","triggersWhen":"Created",
					"conditions":[{"conditionType":"Boolean","conditionProperties":{"operator":"Or","innerConditions":[
						{"conditionType":"Property","conditionProperties":{"propertyName":"HostName","operator":"Equals","propertyValues":["build01"]}},
						{"conditionType":"Property","conditionProperties":{"propertyName":"IPAddress","operator":"StartsWith","propertyValues":["10.9."]}}]}}]},
				"actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"status":"Closed","classification":"FalsePositive","classificationReason":"IncorrectAlertLogic"}}]}`,
			want: &Definition{Name: "Noisy hosts", Enabled: true, Order: 5, Triggers: []string{"alert.created"},
				Builder: &Builder{Match: "any", Rows: []BuilderRow{
					{Property: "hosts", Operator: OpEquals, Values: []string{"build01"}},
					{Property: "ips", Operator: OpStartsWith, Values: []string{"10.9."}}}},
				Actions: []ActionSpec{{Type: ActClose, Classification: FalsePositive}}},
		},
		{
			name: "AND of an OR becomes CEL",
			props: `{"displayName":"Mixed","order":6,
				"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[
						{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentProviderName","operator":"Equals","propertyValues":["Azure Security Center"]}},
						{"conditionType":"Boolean","conditionProperties":{"operator":"Or","innerConditions":[
							{"conditionType":"Property","conditionProperties":{"propertyName":"Url","operator":"Contains","propertyValues":["evil"]}},
							{"conditionType":"Property","conditionProperties":{"propertyName":"FileHashValue","operator":"Equals","propertyValues":["abc"]}}]}}]},
				"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"Block the URL"}}]}`,
			want: &Definition{Name: "Mixed", Enabled: true, Order: 6, Triggers: []string{"incident.created"},
				Actions: []ActionSpec{{Type: ActTasks, Tasks: []string{"Block the URL"}}}},
			cond: `(provider.lowerAscii() == "azure security center") && ((urls.exists(x, x.lowerAscii().contains("evil"))) || (file_hashes.exists(x, x.lowerAscii() == "abc")))`,
		},
		{
			name: "unknown property skips",
			props: `{"displayName":"Registry","order":7,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"RegistryKey","operator":"Contains","propertyValues":["Run"]}}]},
				"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"x"}}]}`,
			skip: `"RegistryKey"`,
		},
		{
			name: "array changed skips",
			props: `{"displayName":"Alert added","order":8,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Updated",
					"conditions":[{"conditionType":"PropertyArrayChanged","conditionProperties":{"arrayType":"Alerts","changeType":"Added"}}]},
				"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"x"}}]}`,
			skip: "array change condition (Alerts Added)",
		},
		{
			name: "owner without address skips",
			props: `{"displayName":"Object id owner","order":9,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created","conditions":[]},
				"actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"owner":{"objectId":"b18ef471-be11-439d-9279-5ce4e18b976e"}}}]}`,
			skip: "without an email or userPrincipalName",
		},
		{
			name: "unknown action skips",
			props: `{"displayName":"Future action","order":10,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created"},
				"actions":[{"order":1,"actionType":"SendTeamsMessage","actionConfiguration":{"channel":"x"}}]}`,
			skip: `action type "SendTeamsMessage"`,
		},
		{
			name: "unknown status value skips",
			props: `{"displayName":"Odd status","order":11,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
					"conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentStatus","operator":"Equals","propertyValues":["Snoozed"]}}]},
				"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"x"}}]}`,
			skip: `status "Snoozed"`,
		},
		{
			// Normalize refuses what vigil cannot store: a label with a comma.
			name: "invalid tag skips through Normalize",
			props: `{"displayName":"Comma label","order":12,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created"},
				"actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"labels":[{"labelName":"a,b"}]}}]}`,
			skip: "actions[0].add[0]",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"value":[` + armRule("73e01a99-5cd7-4139-a149-9f2736ff2ab5", tc.props) + `]}`
			res, err := FromSentinel([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(res.Rules) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, tc.skip) {
					t.Fatalf("got rules %+v, skipped %+v; want one skipped with %q", res.Rules, res.Skipped, tc.skip)
				}
				return
			}
			if len(res.Rules) != 1 || len(res.Skipped) != 0 {
				t.Fatalf("got rules %+v, skipped %+v; want one rule", res.Rules, res.Skipped)
			}
			got := res.Rules[0]
			if !strings.Contains(got.Description, "73e01a99-5cd7-4139-a149-9f2736ff2ab5") {
				t.Errorf("description %q does not name the Sentinel rule", got.Description)
			}
			if tc.cond != "" && !strings.Contains(got.Condition, tc.cond) {
				t.Errorf("condition %s\nwant it to contain %s", got.Condition, tc.cond)
			}
			if _, err := Compile(got.Condition); err != nil {
				t.Errorf("condition %s does not compile: %v", got.Condition, err)
			}
			got.Description, got.Condition = "", ""
			if !reflect.DeepEqual(&got, tc.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(tc.want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestFromSentinelList(t *testing.T) {
	// Several rules: each converted or skipped on its own, in list order.
	ok := `{"displayName":"A","order":1,"triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created"},
		"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"t"}}]}`
	bad := `{"displayName":"B","order":2,"triggeringLogic":{"isEnabled":true,"triggersOn":"Bookmarks","triggersWhen":"Created"},
		"actions":[{"order":1,"actionType":"AddIncidentTask","actionConfiguration":{"title":"t"}}]}`
	raw := `{"value":[` + armRule("a", ok) + `,` + armRule("b", bad) + `,"not a rule"]}`
	res, err := FromSentinel([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rules) != 1 || res.Rules[0].Name != "A" || res.Rules[0].Condition != "" {
		t.Fatalf("rules %+v", res.Rules)
	}
	want := []Skipped{{Name: "B", Reason: "trigger Bookmarks Created is not supported"}}
	if len(res.Skipped) != 2 || res.Skipped[0] != want[0] || res.Skipped[1].Name != "value[2]" {
		t.Fatalf("skipped %+v", res.Skipped)
	}

	for _, body := range []string{``, `[]`, `{"value":{}}`} {
		if _, err := FromSentinel([]byte(body)); err == nil {
			t.Errorf("FromSentinel(%q) = nil error, want one", body)
		}
	}
	// An empty workspace is not an error.
	if res, err := FromSentinel([]byte(`{"value":[]}`)); err != nil || len(res.Rules)+len(res.Skipped) != 0 {
		t.Fatalf("empty list: %+v, %v", res, err)
	}
}
