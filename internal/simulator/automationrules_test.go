package simulator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

const autoAPI = "?api-version=2025-07-01-preview"

// TestSentinelAutomationRules PUTs two rules through Microsoft's own SDK,
// one vigil can express and one it cannot, lists them back as ARM answers,
// and imports them with automation.FromSentinel.
func TestSentinelAutomationRules(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	srv := start(t, simulator.Options{Clock: clk})
	cred := credential(t, srv, srv.Info.ClientSecret)
	c, err := armsecurityinsights.NewAutomationRulesClient(srv.Info.SubscriptionID, cred, armOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rg, ws := srv.Info.ResourceGroup, srv.Info.Workspace
	expiry := t0.Add(7 * 24 * time.Hour)

	// Nothing is seeded.
	tok := accessToken(t, srv, armScope)
	list := senPath(srv, "/automationRules")
	if resp, body := sendJSON(t, srv, "GET", list+autoAPI, tok, nil); resp.StatusCode != 200 || len(body["value"].([]any)) != 0 {
		t.Fatalf("empty list: %d %v", resp.StatusCode, body)
	}

	closeNoise := armsecurityinsights.AutomationRule{Properties: &armsecurityinsights.AutomationRuleProperties{
		DisplayName: to.Ptr("Close pentest noise"),
		Order:       to.Ptr[int32](2),
		TriggeringLogic: &armsecurityinsights.AutomationRuleTriggeringLogic{
			IsEnabled: to.Ptr(true), ExpirationTimeUTC: &expiry,
			TriggersOn: to.Ptr(armsecurityinsights.TriggersOnIncidents), TriggersWhen: to.Ptr(armsecurityinsights.TriggersWhenCreated),
			Conditions: []armsecurityinsights.AutomationRuleConditionClassification{
				&armsecurityinsights.PropertyConditionProperties{
					ConditionType: to.Ptr(armsecurityinsights.ConditionTypeProperty),
					ConditionProperties: &armsecurityinsights.AutomationRulePropertyValuesCondition{
						PropertyName:   to.Ptr(armsecurityinsights.AutomationRulePropertyConditionSupportedPropertyIncidentTitle),
						Operator:       to.Ptr(armsecurityinsights.AutomationRulePropertyConditionSupportedOperatorContains),
						PropertyValues: []*string{to.Ptr("pentest")},
					},
				},
			},
		},
		Actions: []armsecurityinsights.AutomationRuleActionClassification{
			&armsecurityinsights.AutomationRuleModifyPropertiesAction{
				ActionType: to.Ptr(armsecurityinsights.ActionTypeModifyProperties), Order: to.Ptr[int32](1),
				ActionConfiguration: &armsecurityinsights.IncidentPropertiesAction{
					Status:                to.Ptr(armsecurityinsights.IncidentStatusClosed),
					Classification:        to.Ptr(armsecurityinsights.IncidentClassificationBenignPositive),
					ClassificationReason:  to.Ptr(armsecurityinsights.IncidentClassificationReasonSuspiciousButExpected),
					ClassificationComment: to.Ptr("red team exercise"),
				},
			},
		},
	}}
	registry := armsecurityinsights.AutomationRule{Properties: &armsecurityinsights.AutomationRuleProperties{
		DisplayName: to.Ptr("Registry persistence"),
		Order:       to.Ptr[int32](1),
		TriggeringLogic: &armsecurityinsights.AutomationRuleTriggeringLogic{
			IsEnabled:  to.Ptr(true),
			TriggersOn: to.Ptr(armsecurityinsights.TriggersOnIncidents), TriggersWhen: to.Ptr(armsecurityinsights.TriggersWhenCreated),
			Conditions: []armsecurityinsights.AutomationRuleConditionClassification{
				&armsecurityinsights.PropertyConditionProperties{
					ConditionType: to.Ptr(armsecurityinsights.ConditionTypeProperty),
					ConditionProperties: &armsecurityinsights.AutomationRulePropertyValuesCondition{
						PropertyName:   to.Ptr(armsecurityinsights.AutomationRulePropertyConditionSupportedPropertyRegistryKey),
						Operator:       to.Ptr(armsecurityinsights.AutomationRulePropertyConditionSupportedOperatorContains),
						PropertyValues: []*string{to.Ptr(`CurrentVersion\Run`)},
					},
				},
			},
		},
		Actions: []armsecurityinsights.AutomationRuleActionClassification{
			&armsecurityinsights.AutomationRuleAddIncidentTaskAction{
				ActionType: to.Ptr(armsecurityinsights.ActionTypeAddIncidentTask), Order: to.Ptr[int32](1),
				ActionConfiguration: &armsecurityinsights.AddIncidentTaskActionProperties{Title: to.Ptr("Check the Run key")},
			},
		},
	}}

	created, err := c.CreateOrUpdate(ctx, rg, ws, "rule-close", closeNoise, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	p := created.Properties
	if *created.Name != "rule-close" || *created.Type != "Microsoft.SecurityInsights/automationRules" || created.Etag == nil ||
		!strings.HasSuffix(*created.ID, "/providers/Microsoft.SecurityInsights/automationRules/rule-close") ||
		!p.CreatedTimeUTC.Equal(t0) || p.CreatedBy == nil || !p.TriggeringLogic.ExpirationTimeUTC.Equal(expiry) || len(p.Actions) != 1 {
		t.Fatalf("created %+v", created.AutomationRule)
	}
	if a, ok := p.Actions[0].(*armsecurityinsights.AutomationRuleModifyPropertiesAction); !ok || *a.ActionConfiguration.Classification != "BenignPositive" {
		t.Fatalf("action came back as %T %+v", p.Actions[0], p.Actions[0])
	}
	if _, err := c.CreateOrUpdate(ctx, rg, ws, "rule-registry", registry, nil); err != nil {
		t.Fatalf("create: %v", err)
	}

	// An update keeps the creation and moves the modification; a stale etag
	// is a conflict.
	clk.Advance(time.Minute)
	closeNoise.Etag = created.Etag
	closeNoise.Properties.Order = to.Ptr[int32](3)
	updated, err := c.CreateOrUpdate(ctx, rg, ws, "rule-close", closeNoise, nil)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if !updated.Properties.CreatedTimeUTC.Equal(t0) || !updated.Properties.LastModifiedTimeUTC.Equal(t0.Add(time.Minute)) || *updated.Etag == *created.Etag {
		t.Fatalf("updated %+v", updated.Properties)
	}
	if _, err := c.CreateOrUpdate(ctx, rg, ws, "rule-close", closeNoise, nil); err == nil {
		t.Fatal("a stale etag was accepted")
	} else {
		expectRespErr(t, err, http.StatusConflict, "Conflict")
	}

	// The SDK reads the list back, in execution order.
	var names []string
	for pg := c.NewListPager(rg, ws, nil); pg.More(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Value {
			names = append(names, *r.Name)
		}
	}
	if strings.Join(names, ",") != "rule-registry,rule-close" {
		t.Fatalf("list order %v", names)
	}

	// What `vigil rules import-sentinel` does: GET the list, convert.
	resp, raw := send(t, srv, "GET", list+autoAPI, tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, raw)
	}
	res, err := automation.FromSentinel(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rules) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("import: rules %+v, skipped %+v", res.Rules, res.Skipped)
	}
	d := res.Rules[0]
	if d.Name != "Close pentest noise" || !d.Enabled || d.Order != 3 || d.ExpiresAt == nil || !d.ExpiresAt.Equal(expiry) ||
		len(d.Actions) != 1 || d.Actions[0].Type != automation.ActClose || d.Actions[0].Classification != automation.BenignPositive ||
		d.Actions[0].Reason != "red team exercise" || !strings.Contains(d.Condition, `title.lowerAscii().contains("pentest")`) {
		t.Fatalf("imported %+v", d)
	}
	if s := res.Skipped[0]; s.Name != "Registry persistence" || !strings.Contains(s.Reason, "RegistryKey") {
		t.Fatalf("skipped %+v", s)
	}

	// Get, delete, and get again.
	if g, err := c.Get(ctx, rg, ws, "rule-registry", nil); err != nil || *g.Properties.DisplayName != "Registry persistence" {
		t.Fatalf("get: %v %+v", err, g)
	}
	if _, err := c.Delete(ctx, rg, ws, "rule-registry", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.Get(ctx, rg, ws, "rule-registry", nil); err == nil {
		t.Fatal("deleted rule still there")
	} else {
		expectRespErr(t, err, http.StatusNotFound, "NotFound")
	}
	if resp, _ := send(t, srv, "DELETE", senPath(srv, "/automationRules/rule-registry")+autoAPI, tok, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("second delete: %d, want 204", resp.StatusCode)
	}
}

// TestSentinelAutomationRuleErrors checks the service's refusals.
func TestSentinelAutomationRuleErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	tok := accessToken(t, srv, armScope)
	one := senPath(srv, "/automationRules/r1")
	valid := func() map[string]any {
		return map[string]any{"properties": map[string]any{
			"displayName": "r", "order": 1,
			"triggeringLogic": map[string]any{"isEnabled": true, "triggersOn": "Incidents", "triggersWhen": "Created"},
			"actions":         []any{map[string]any{"order": 1, "actionType": "AddIncidentTask", "actionConfiguration": map[string]any{"title": "t"}}},
		}}
	}
	props := func(b map[string]any) map[string]any { return b["properties"].(map[string]any) }
	cases := []struct {
		name   string
		target string
		token  string
		body   func() map[string]any
		status int
		code   string
		msg    string
	}{
		{"no token", one + autoAPI, "", valid, 401, "", ""},
		{"no api-version", one, tok, valid, 400, "MissingApiVersionParameter", ""},
		{"other workspace", strings.Replace(one, srv.Info.Workspace, "elsewhere", 1) + autoAPI, tok, valid, 404, "ResourceNotFound", ""},
		{"no display name", one + autoAPI, tok, func() map[string]any { b := valid(); delete(props(b), "displayName"); return b }, 400, "BadRequest", "DisplayName"},
		{"order out of range", one + autoAPI, tok, func() map[string]any { b := valid(); props(b)["order"] = 1001; return b }, 400, "BadRequest", "Order"},
		{"no actions", one + autoAPI, tok, func() map[string]any { b := valid(); props(b)["actions"] = []any{}; return b }, 400, "BadRequest", "actions"},
		{"unknown action", one + autoAPI, tok, func() map[string]any {
			b := valid()
			props(b)["actions"] = []any{map[string]any{"order": 1, "actionType": "Page", "actionConfiguration": map[string]any{}}}
			return b
		}, 400, "BadRequest", "actionType"},
		{"alerts updated", one + autoAPI, tok, func() map[string]any {
			b := valid()
			props(b)["triggeringLogic"].(map[string]any)["triggersOn"] = "Alerts"
			props(b)["triggeringLogic"].(map[string]any)["triggersWhen"] = "Updated"
			return b
		}, 400, "BadRequest", "TriggersWhen"},
		{"unknown condition type", one + autoAPI, tok, func() map[string]any {
			b := valid()
			props(b)["triggeringLogic"].(map[string]any)["conditions"] = []any{map[string]any{"conditionType": "Kql", "conditionProperties": map[string]any{}}}
			return b
		}, 400, "BadRequest", "conditionType"},
		{"etag for a new rule", one + autoAPI, tok, func() map[string]any { b := valid(); b["etag"] = `"x"`; return b }, 404, "NotFound", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := sendJSON(t, srv, "PUT", tc.target, tc.token, tc.body())
			if resp.StatusCode != tc.status || (tc.code != "" && senErrCode(body) != tc.code) {
				t.Fatalf("%d %v, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.msg != "" {
				msg, _ := body["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, tc.msg) {
					t.Fatalf("message %q does not name %s", msg, tc.msg)
				}
			}
		})
	}
	// Nothing above was stored.
	if resp, body := sendJSON(t, srv, "GET", senPath(srv, "/automationRules")+autoAPI, tok, nil); resp.StatusCode != 200 || len(body["value"].([]any)) != 0 {
		t.Fatalf("list after refusals: %d %v", resp.StatusCode, body)
	}
}
