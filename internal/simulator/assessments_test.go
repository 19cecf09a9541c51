package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// asmShapeOpts: the strictest comparison, except for the status dates,
// which the 2021-06-01 schema has (AssessmentStatusResponse) and the
// examples leave out, and the e-mail settings the list example leaves out
// but the get and put examples show.
var asmShapeOpts = shapeOpts{AllowKeys: []string{"firstEvaluationDate", "statusChangeDate"},
	AllowPaths: []string{"value[].properties.governanceEmailNotification"}}

func asmRaise(t *testing.T, srv *simulator.Server, a map[string]any) map[string]any {
	t.Helper()
	resp, m := sendJSON(t, srv, "POST", "/sim/v1/defender/assessments", "", a)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raise assessment: %d %v", resp.StatusCode, m)
	}
	return m
}

func asmCompare(t *testing.T, want json.RawMessage, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, got)
	}
	for _, d := range shapeDiff(w, g, asmShapeOpts) {
		t.Error(d)
	}
}

// TestAssessmentFixtures sends each of Microsoft's example requests for
// assessments (2021-06-01) and compares the answer with the example's.
func TestAssessmentFixtures(t *testing.T) {
	// The resources and statuses of the examples.
	const sub = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
	const key = "21300918-b2e3-0346-785f-c77ff57d243b"
	vmss := func(n string) string {
		return "/subscriptions/" + sub + "/resourceGroups/myRg/providers/Microsoft.Compute/virtualMachineScaleSets/" + n
	}
	ws := "/subscriptions/" + sub + "/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myLaWorkspace"
	srv := start(t, simulator.Options{SubscriptionID: sub})
	tok := accessToken(t, srv, armScope)
	const name = "Install endpoint protection solution on virtual machine scale sets"
	asmRaise(t, srv, map[string]any{"name": key, "displayName": name, "resourceId": vmss("vmss1"), "status": "Healthy"})
	asmRaise(t, srv, map[string]any{"name": key, "displayName": name, "resourceId": vmss("vmss2"), "status": "NotApplicable",
		"cause": "OffByPolicy", "statusDescription": "The effective policy for the assessment was evaluated to off",
		"additionalData": map[string]string{"linkedWorkspaceId": ws}})

	for _, f := range []string{"assessments_list.json", "assessment_get.json", "assessment_get_expand.json"} {
		t.Run(f, func(t *testing.T) {
			fx := fixture[dfcFixture](t, "defender/recommendations", f)
			p := fx.Parameters
			path := "/" + p["scope"] + "/providers/Microsoft.Security/assessments"
			if p["resourceId"] != "" {
				path = "/" + p["resourceId"] + "/providers/Microsoft.Security/assessments/" + p["assessmentName"]
			}
			q := url.Values{"api-version": {p["api-version"]}}
			if p["$expand"] != "" {
				q.Set("$expand", p["$expand"])
			}
			resp, b := send(t, srv, "GET", path+"?"+q.Encode(), tok, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
			}
			asmCompare(t, fx.Responses["200"].Body, b)
		})
	}
}

// TestGovernanceFixtures puts, gets, lists and deletes governance
// assignments as Microsoft's examples (2022-01-01-preview) do.
func TestGovernanceFixtures(t *testing.T) {
	put := fixture[struct {
		Parameters struct {
			APIVersion string          `json:"api-version"`
			Scope      string          `json:"scope"`
			Assessment string          `json:"assessmentName"`
			Key        string          `json:"assignmentKey"`
			Body       json.RawMessage `json:"governanceAssignment"`
		} `json:"parameters"`
		Responses map[string]struct {
			Body json.RawMessage `json:"body"`
		} `json:"responses"`
	}](t, "defender/recommendations", "governance_put.json")
	p := put.Parameters
	sub := strings.Split(p.Scope, "/")[1]
	srv := start(t, simulator.Options{SubscriptionID: sub, ResourceGroup: "compute_servers"})
	tok := accessToken(t, srv, armScope)
	other := strings.Replace(p.Scope, "win2012", "win2011", 1)
	for _, r := range []string{p.Scope, other} {
		asmRaise(t, srv, map[string]any{"name": p.Assessment, "displayName": "Machines should have a vulnerability assessment solution", "resourceId": r})
	}
	path := func(scope, key string) string {
		u := "/" + scope + "/providers/Microsoft.Security/assessments/" + p.Assessment + "/governanceAssignments"
		if key != "" {
			u += "/" + key
		}
		return u + "?api-version=" + p.APIVersion
	}

	// The first put creates (201), the same again replaces (200).
	for _, code := range []string{"201", "200"} {
		resp, b := send(t, srv, "PUT", path(p.Scope, p.Key), tok, []byte(p.Body))
		if fmt.Sprint(resp.StatusCode) != code {
			t.Fatalf("put: %d, want %s: %s", resp.StatusCode, code, b)
		}
		asmCompare(t, put.Responses[code].Body, b)
	}
	resp, b := send(t, srv, "PUT", path(other, "41fb92a5-43dc-4c00-a969-469c16cef7a7"), tok, []byte(p.Body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put the second: %d %s", resp.StatusCode, b)
	}

	get := fixture[dfcFixture](t, "defender/recommendations", "governance_get.json")
	resp, b = send(t, srv, "GET", path(get.Parameters["scope"], get.Parameters["assignmentKey"]), tok, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", resp.StatusCode, b)
	}
	asmCompare(t, get.Responses["200"].Body, b)
	var one map[string]any
	json.Unmarshal(b, &one)
	if props := one["properties"].(map[string]any); props["owner"] != "user@contoso.com" || props["remediationDueDate"] != "2022-01-07T13:00:00.0000000Z" {
		t.Errorf("get: %v, want the owner and due date put", props)
	}

	list := fixture[dfcFixture](t, "defender/recommendations", "governance_list.json")
	resp, b = send(t, srv, "GET", path(list.Parameters["scope"], ""), tok, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	asmCompare(t, list.Responses["200"].Body, b)
	var l struct{ Value []any }
	json.Unmarshal(b, &l)
	if len(l.Value) != 2 {
		t.Errorf("list at the subscription: %d assignments, want 2", len(l.Value))
	}

	del := fixture[dfcFixture](t, "defender/recommendations", "governance_delete.json")
	for _, code := range []int{http.StatusOK, http.StatusNoContent} {
		resp, b = send(t, srv, "DELETE", path(del.Parameters["scope"], del.Parameters["assignmentKey"]), tok, nil)
		if resp.StatusCode != code {
			t.Fatalf("delete: %d, want %d: %s", resp.StatusCode, code, b)
		}
	}
	if resp, _ = send(t, srv, "GET", path(p.Scope, p.Key), tok, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get after delete: %d, want 404", resp.StatusCode)
	}
}

func TestAssessmentHealthAndErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	tok := accessToken(t, srv, armScope)
	sub := srv.Info.SubscriptionID
	listPath := "/subscriptions/" + sub + "/providers/Microsoft.Security/assessments?api-version=2021-06-01"
	var ids []string
	for i := range 53 {
		m := asmRaise(t, srv, map[string]any{"name": "k1", "displayName": "Disk encryption should be applied",
			"resourceId": fmt.Sprintf("/subscriptions/%s/resourceGroups/soc-rg/providers/Microsoft.Compute/virtualMachines/vm%02d", sub, i)})
		ids = append(ids, m["resourceId"].(string))
	}
	// Paging by nextLink reaches every assessment once.
	seen := map[string]bool{}
	next := listPath
	for next != "" {
		resp, b := send(t, srv, "GET", next, tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		var page struct {
			Value []struct {
				ID         string
				Properties struct{ Status struct{ Code string } }
			}
			NextLink string
		}
		json.Unmarshal(b, &page)
		for _, v := range page.Value {
			if seen[v.ID] || v.Properties.Status.Code != "Unhealthy" {
				t.Fatalf("%s seen twice or not Unhealthy (%s)", v.ID, v.Properties.Status.Code)
			}
			seen[v.ID] = true
		}
		next = page.NextLink
	}
	if len(seen) != 53 {
		t.Fatalf("paged through %d assessments, want 53", len(seen))
	}

	// One resource is remediated: only its assessment turns Healthy.
	resp, m := sendJSON(t, srv, "POST", "/sim/v1/defender/assessments/k1/health", "", map[string]string{"status": "Healthy", "resourceId": ids[3]})
	if resp.StatusCode != 200 || m["changed"] != float64(1) {
		t.Fatalf("health: %d %v", resp.StatusCode, m)
	}
	resp, b := send(t, srv, "GET", ids[3]+"/providers/Microsoft.Security/assessments/k1?api-version=2021-06-01&$expand=metadata", tok, nil)
	var one struct {
		Properties struct {
			Status   struct{ Code, StatusChangeDate string }
			Metadata struct{ DisplayName, Severity string }
		}
	}
	json.Unmarshal(b, &one)
	if resp.StatusCode != 200 || one.Properties.Status.Code != "Healthy" || one.Properties.Metadata.Severity != "Medium" || one.Properties.Status.StatusChangeDate == "" {
		t.Fatalf("get after health: %d %s", resp.StatusCode, b)
	}
	resp, b = send(t, srv, "GET", ids[4]+"/providers/Microsoft.Security/assessments/k1?api-version=2021-06-01", tok, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"Unhealthy"`) {
		t.Fatalf("another resource: %d %s", resp.StatusCode, b)
	}

	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"no token", "GET", listPath, "", nil, 401},
		{"bad api-version", "GET", strings.Replace(listPath, "2021-06-01", "2019-01-01", 1), tok, nil, 400},
		{"other subscription", "GET", strings.Replace(listPath, sub, "00000000-0000-0000-0000-000000000000", 1), tok, nil, 404},
		{"unknown assessment", "GET", ids[0] + "/providers/Microsoft.Security/assessments/nope?api-version=2021-06-01", tok, nil, 404},
		{"bad expand", "GET", ids[0] + "/providers/Microsoft.Security/assessments/k1?api-version=2021-06-01&$expand=x", tok, nil, 400},
		{"governance without owner", "PUT", ids[0] + "/providers/Microsoft.Security/assessments/k1/governanceAssignments/g1?api-version=2022-01-01-preview", tok,
			map[string]any{"properties": map[string]any{"remediationDueDate": "2030-01-01T00:00:00Z"}}, 400},
		{"governance bad date", "PUT", ids[0] + "/providers/Microsoft.Security/assessments/k1/governanceAssignments/g1?api-version=2022-01-01-preview", tok,
			map[string]any{"properties": map[string]any{"owner": "a@b.c", "remediationDueDate": "soon"}}, 400},
		{"governance of no assessment", "PUT", ids[0] + "/providers/Microsoft.Security/assessments/k9/governanceAssignments/g1?api-version=2022-01-01-preview", tok,
			map[string]any{"properties": map[string]any{"owner": "a@b.c", "remediationDueDate": "2030-01-01T00:00:00Z"}}, 404},
		{"health of no assessment", "POST", "/sim/v1/defender/assessments/k9/health", "", map[string]string{"status": "Healthy"}, 404},
		{"bad health", "POST", "/sim/v1/defender/assessments/k1/health", "", map[string]string{"status": "Fine"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := send(t, srv, tc.method, tc.path, tc.token, tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.want, b)
			}
		})
	}

	// Remediating everything turns the rest Healthy.
	resp, m = sendJSON(t, srv, "POST", "/sim/v1/defender/assessments/k1/health", "", map[string]string{"status": "Healthy"})
	if resp.StatusCode != 200 || m["changed"] != float64(52) {
		t.Fatalf("health of all: %d %v", resp.StatusCode, m)
	}
}
