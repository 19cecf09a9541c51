package simulator_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

const (
	adoScope   = "499b84ac-1321-427f-aa17-267ca6975798/.default"
	adoPatchCT = "application/json-patch+json"
	adoV       = "api-version=7.1"
)

// adoEnv is a simulator with a token for Azure DevOps.
type adoEnv struct {
	t     *testing.T
	srv   *simulator.Server
	token string
}

func adoStart(t *testing.T, o simulator.Options) *adoEnv {
	t.Helper()
	srv := start(t, o)
	e := &adoEnv{t: t, srv: srv}
	e.token = e.tokenFor(adoScope)
	return e
}

// tokenFor gets a client-credentials token for scope.
func (e *adoEnv) tokenFor(scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {e.srv.Info.ClientID},
		"client_secret": {e.srv.Info.ClientSecret}, "scope": {scope}}
	resp, err := e.srv.Client().PostForm(e.srv.Info.Authority+e.srv.Info.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token for %s: %d %v", scope, resp.StatusCode, err)
	}
	return tok.AccessToken
}

// proj is the project's path under devops_url.
func (e *adoEnv) proj() string { return "/" + e.srv.Info.DevOpsOrg + "/" + e.srv.Info.DevOpsProject }

type adoResp struct {
	code int
	hdr  http.Header
	raw  []byte
}

func (r adoResp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.raw)
	}
	return m
}

// typeKey is the typeKey of an Azure DevOps error body.
func (r adoResp) typeKey() string {
	var m struct{ TypeKey string }
	json.Unmarshal(r.raw, &m)
	return m.TypeKey
}

// call sends a request to path under devops_url. auth is "" for the
// bearer token, "-" for none, or an Authorization header value.
func (e *adoEnv) call(method, path, ctype string, body any, auth string, hdr ...string) adoResp {
	e.t.Helper()
	if s, ok := body.(string); ok {
		body = []byte(s)
	}
	var h []string
	if ctype != "" {
		h = append(h, "Content-Type", ctype)
	}
	switch auth {
	case "":
		h = append(h, "Authorization", "Bearer "+e.token)
	case "-":
	default:
		h = append(h, "Authorization", auth)
	}
	resp, raw := send(e.t, e.srv, method, e.srv.Info.DevOpsURL+path, "", body, append(h, hdr...)...)
	return adoResp{resp.StatusCode, resp.Header, raw}
}

// sim calls the control API.
func (e *adoEnv) sim(method, path string, body any) adoResp {
	e.t.Helper()
	j, _ := json.Marshal(body)
	resp, raw := send(e.t, e.srv, method, path, "", j)
	return adoResp{resp.StatusCode, resp.Header, raw}
}

func adoAdd(field string, v any) map[string]any {
	return map[string]any{"op": "add", "path": "/fields/" + field, "value": v}
}

func adoTestRev(rev int) map[string]any {
	return map[string]any{"op": "test", "path": "/rev", "value": rev}
}

func adoLink(rel, u, comment string) map[string]any {
	v := map[string]any{"rel": rel, "url": u}
	if comment != "" {
		v["attributes"] = map[string]any{"comment": comment}
	}
	return map[string]any{"op": "add", "path": "/relations/-", "value": v}
}

// create makes a work item of type typ and returns it.
func (e *adoEnv) create(typ string, ops ...map[string]any) map[string]any {
	e.t.Helper()
	r := e.call("POST", e.proj()+"/_apis/wit/workitems/$"+typ+"?"+adoV, adoPatchCT, ops, "")
	if r.code != http.StatusOK {
		e.t.Fatalf("create %s: %d %s", typ, r.code, r.raw)
	}
	return r.obj(e.t)
}

func (e *adoEnv) patch(id int, ops ...map[string]any) adoResp {
	e.t.Helper()
	return e.call("PATCH", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s", e.proj(), id, adoV), adoPatchCT, ops, "")
}

func (e *adoEnv) getItem(id int) map[string]any {
	e.t.Helper()
	r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s", e.proj(), id, adoV), "", nil, "")
	if r.code != http.StatusOK {
		e.t.Fatalf("get %d: %d %s", id, r.code, r.raw)
	}
	return r.obj(e.t)
}

func adoItemID(item map[string]any) int { n, _ := item["id"].(float64); return int(n) }
func adoRev(item map[string]any) int    { n, _ := item["rev"].(float64); return int(n) }
func adoFieldsOf(item map[string]any) map[string]any {
	f, _ := item["fields"].(map[string]any)
	return f
}

// adoExpectError checks an Azure DevOps error answer.
func adoExpectError(t *testing.T, label string, r adoResp, code int, typeKey, msgPart string) {
	t.Helper()
	if r.code != code || r.typeKey() != typeKey {
		t.Errorf("%s: %d %s, want %d %s", label, r.code, r.raw, code, typeKey)
		return
	}
	var m struct{ Message string }
	json.Unmarshal(r.raw, &m)
	if !strings.Contains(m.Message, msgPart) {
		t.Errorf("%s: message %q, want it to contain %q", label, m.Message, msgPart)
	}
}

func TestDevOpsCreateWorkItem(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	item := e.create("Issue",
		adoAdd("System.Title", "Suspicious PowerShell command line"),
		adoAdd("System.Tags", "dfc; Sev:High; dfc"),
		adoAdd("System.AssignedTo", "alice@contoso.com"),
		adoLink("Hyperlink", "https://portal.azure.com/#blade/alert/1", ""),
	)
	f := adoFieldsOf(item)
	if adoItemID(item) != 1 || adoRev(item) != 1 {
		t.Errorf("id, rev = %v, %v, want 1, 1", item["id"], item["rev"])
	}
	for k, want := range map[string]any{
		"System.State": "New", "System.Reason": "New", "System.WorkItemType": "Issue", "System.TeamProject": "SecOps",
		"System.AreaPath": "SecOps", "System.IterationPath": "SecOps", "System.Tags": "dfc; Sev:High",
		"Microsoft.VSTS.Common.Priority": float64(2),
	} {
		if f[k] != want {
			t.Errorf("fields[%s] = %v, want %v", k, f[k], want)
		}
	}
	by, _ := f["System.CreatedBy"].(map[string]any)
	if by["displayName"] != "vigil" || by["uniqueName"] != e.srv.Info.ClientID {
		t.Errorf("CreatedBy = %v, want the service principal", by)
	}
	if to, _ := f["System.AssignedTo"].(map[string]any); to["uniqueName"] != "alice@contoso.com" {
		t.Errorf("AssignedTo = %v", f["System.AssignedTo"])
	}
	rels, _ := item["relations"].([]any)
	if len(rels) != 1 {
		t.Fatalf("relations = %v", item["relations"])
	}
	if attrs := rels[0].(map[string]any)["attributes"].(map[string]any); attrs["revisedDate"] != "9999-01-01T00:00:00Z" || attrs["id"] == nil {
		t.Errorf("hyperlink attributes = %v", attrs)
	}
	links, _ := item["_links"].(map[string]any)
	for _, k := range []string{"self", "workItemUpdates", "workItemRevisions", "workItemHistory", "html", "workItemType", "fields"} {
		if links[k] == nil {
			t.Errorf("_links.%s missing", k)
		}
	}
	if u, _ := item["url"].(string); !strings.HasPrefix(u, e.srv.Info.DevOpsURL+"/contoso/") || !strings.HasSuffix(u, "/_apis/wit/workItems/1") {
		t.Errorf("url = %s", u)
	}

	// Paths ignore case, as Azure DevOps' do.
	if r := e.call("POST", e.proj()+"/_apis/wit/workItems/$task?"+adoV, adoPatchCT, []any{adoAdd("System.Title", "t")}, ""); r.code != 200 || adoFieldsOf(r.obj(t))["System.WorkItemType"] != "Task" {
		t.Errorf("POST workItems/$task: %d %s", r.code, r.raw)
	}

	title := []any{adoAdd("System.Title", "x")}
	adoExpectError(t, "application/json", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, "application/json", title, ""),
		415, "VssRequestContentTypeNotSupportedException", "application/json-patch+json")
	adoExpectError(t, "not a patch", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, map[string]any{"title": "x"}, ""),
		400, "VssPropertyValidationException", "valid patch document")
	adoExpectError(t, "unknown type", e.call("POST", e.proj()+"/_apis/wit/workitems/$Incident?"+adoV, adoPatchCT, title, ""),
		404, "WorkItemTypeNotFoundException", "VS402323")
	adoExpectError(t, "no title", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, []any{adoAdd("System.Description", "d")}, ""),
		400, "RuleValidationException", "TF401320: Rule Error for field Title")
	adoExpectError(t, "unknown field", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, []any{adoAdd("System.Title", "x"), adoAdd("Vigil.Severity", "x")}, ""),
		400, "WorkItemTrackingFieldDefinitionNotFoundException", "TF51535")
	adoExpectError(t, "read-only field", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, []any{adoAdd("System.Title", "x"), adoAdd("System.CreatedDate", "2020-01-01")}, ""),
		400, "RuleValidationException", "ReadOnly")
	adoExpectError(t, "area outside the project", e.call("POST", e.proj()+"/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, []any{adoAdd("System.Title", "x"), adoAdd("System.AreaPath", `Other\Team`)}, ""),
		400, "WorkItemFieldInvalidTreeNameException", "TF401347")
	adoExpectError(t, "unknown project", e.call("POST", "/contoso/Nope/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, title, ""),
		404, "ProjectDoesNotExistWithNameException", "TF200016")
	if r := e.call("PUT", e.proj()+"/_apis/wit/workitems/1?"+adoV, adoPatchCT, title, ""); r.code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d %s, want 405", r.code, r.raw)
	}
	if r := e.call("GET", e.proj()+"/_apis/wit/nothing?"+adoV, "", nil, ""); r.code != http.StatusNotFound {
		t.Errorf("unknown route: %d %s, want 404", r.code, r.raw)
	}
}

func TestDevOpsUpdateRevisionTest(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	id := adoItemID(e.create("Task", adoAdd("System.Title", "first")))

	r := e.patch(id, adoTestRev(1), adoAdd("System.Title", "second"), adoAdd("System.History", "Renamed by vigil"))
	if r.code != 200 {
		t.Fatalf("PATCH with the current rev: %d %s", r.code, r.raw)
	}
	item := r.obj(t)
	if adoRev(item) != 2 || adoFieldsOf(item)["System.Title"] != "second" || adoFieldsOf(item)["System.History"] != "Renamed by vigil" {
		t.Errorf("after update: rev %v, fields %v", item["rev"], item["fields"])
	}

	// A stale revision is refused and nothing is applied.
	r = e.patch(id, adoTestRev(1), adoAdd("System.Title", "stale write"))
	adoExpectError(t, "stale rev", r, http.StatusPreconditionFailed, "TestPatchOperationFailedException",
		"VS403351: Test Operation for path /rev failed, value 2 was not equal to test value 1.")
	got := e.getItem(id)
	if adoRev(got) != 2 || adoFieldsOf(got)["System.Title"] != "second" {
		t.Errorf("after a refused update: rev %v title %v, want 2 second", got["rev"], adoFieldsOf(got)["System.Title"])
	}

	// A patch that changes nothing makes no revision.
	if r := e.patch(id, adoTestRev(2), adoAdd("System.Title", "second")); r.code != 200 || adoRev(r.obj(t)) != 2 {
		t.Errorf("no-op patch: %d %s, want rev 2", r.code, r.raw)
	}
	// History belongs to one revision.
	if r := e.patch(id, adoAdd("System.Title", "third")); adoFieldsOf(r.obj(t))["System.History"] != nil {
		t.Errorf("history carried into the next revision: %s", r.raw)
	}
	// A failed test of a field is refused the same way.
	adoExpectError(t, "field test", e.patch(id, map[string]any{"op": "test", "path": "/fields/System.Title", "value": "second"}),
		http.StatusPreconditionFailed, "TestPatchOperationFailedException", "/fields/System.Title")
	// remove and replace.
	r = e.patch(id, map[string]any{"op": "replace", "path": "/fields/System.Tags", "value": "a; b"})
	r = e.patch(id, map[string]any{"op": "add", "path": "/fields/System.Tags", "value": "c"})
	if f := adoFieldsOf(r.obj(t)); f["System.Tags"] != "a; b; c" {
		t.Errorf("add a tag: tags %v, want a; b; c", f["System.Tags"])
	}
	r = e.patch(id, map[string]any{"op": "remove", "path": "/fields/System.Tags"})
	if f := adoFieldsOf(r.obj(t)); f["System.Tags"] != nil {
		t.Errorf("remove tags: tags %v", f["System.Tags"])
	}
	adoExpectError(t, "missing item", e.patch(999, adoAdd("System.Title", "x")), 404, "WorkItemUnauthorizedAccessException",
		"TF401232: Work item 999 does not exist, or you do not have permissions to read it.")
}

func TestDevOpsPortalEditFault(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	id := adoItemID(e.create("Problem", adoAdd("System.Title", "Crypto miner")))
	e.srv.Sim.Inject(simulator.Fault{Endpoint: "devops.workitems.update", Kind: simulator.FaultPortalEdit, Times: 1})

	adoExpectError(t, "write racing a portal edit", e.patch(id, adoTestRev(1), adoAdd("System.State", "Approved")),
		http.StatusPreconditionFailed, "TestPatchOperationFailedException", "value 2 was not equal to test value 1")
	item := e.getItem(id)
	f := adoFieldsOf(item)
	by, _ := f["System.ChangedBy"].(map[string]any)
	if adoRev(item) != 2 || f["System.State"] != "New" || f["System.History"] == nil || by["displayName"] != "Portal User" {
		t.Errorf("after the portal edit: rev %v state %v history %v changedBy %v", item["rev"], f["System.State"], f["System.History"], by["displayName"])
	}
	if r := e.patch(id, adoTestRev(2), adoAdd("System.State", "Approved")); r.code != 200 || adoRev(r.obj(t)) != 3 {
		t.Errorf("retry with the new rev: %d %s", r.code, r.raw)
	}

	// Status faults use Azure DevOps' error shape.
	e.srv.Sim.Inject(simulator.Fault{Endpoint: "devops.", Kind: simulator.FaultStatus, Status: 503, RetryAfter: 2, Times: 1})
	r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s", e.proj(), id, adoV), "", nil, "")
	if r.code != 503 || r.hdr.Get("Retry-After") != "2" || r.typeKey() == "" {
		t.Errorf("503 fault: %d %v %s", r.code, r.hdr, r.raw)
	}
}

func TestDevOpsReads(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	a := adoItemID(e.create("Issue", adoAdd("System.Title", "a")))
	b := adoItemID(e.create("Problem", adoAdd("System.Title", "b"), adoLink("System.LinkTypes.Related", e.srv.Info.DevOpsURL+"/contoso/_apis/wit/workItems/1", "same host")))
	c := adoItemID(e.create("Task", adoAdd("System.Title", "c")))
	get := func(q string) adoResp {
		return e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s&%s", e.proj(), b, adoV, q), "", nil, "")
	}

	if m := get("").obj(t); m["relations"] != nil || m["_links"] == nil {
		t.Errorf("GET: relations %v, _links %v; want none and some", m["relations"], m["_links"])
	}
	if m := get("$expand=Relations").obj(t); len(m["relations"].([]any)) != 1 {
		t.Errorf("$expand=relations: %v", m["relations"])
	}
	if m := get("$expand=all").obj(t); m["relations"] == nil || m["_links"] == nil {
		t.Errorf("$expand=all: %v", m)
	}
	if f := adoFieldsOf(get("fields=System.Title,System.State").obj(t)); len(f) != 2 || f["System.Title"] != "b" || f["System.State"] != "New" {
		t.Errorf("fields=: %v", f)
	}
	adoExpectError(t, "fields with $expand", get("fields=System.Title&$expand=relations"), 400, "ConflictingParametersException", "expand")

	list := e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems?ids=%d,%d,%d&fields=System.Id,System.Title&%s", e.proj(), c, a, b, adoV), "", nil, "").obj(t)
	vals, _ := list["value"].([]any)
	if list["count"] != float64(3) || len(vals) != 3 {
		t.Fatalf("list: %v", list)
	}
	for i, want := range []int{c, a, b} {
		it := vals[i].(map[string]any)
		if adoItemID(it) != want || len(adoFieldsOf(it)) != 2 || adoFieldsOf(it)["System.Id"] != float64(want) || it["_links"] != nil {
			t.Errorf("list[%d] = %v", i, it)
		}
	}
	adoExpectError(t, "list with a missing id", e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems?ids=%d,77&%s", e.proj(), a, adoV), "", nil, ""),
		404, "WorkItemUnauthorizedAccessException", "TF401232: Work item 77")
	omit := e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems?ids=%d,77&errorPolicy=omit&%s", e.proj(), a, adoV), "", nil, "").obj(t)
	if v := omit["value"].([]any); len(v) != 2 || v[1] != nil {
		t.Errorf("errorPolicy=omit: %v", omit)
	}
	adoExpectError(t, "list without ids", e.call("GET", e.proj()+"/_apis/wit/workitems?"+adoV, "", nil, ""), 400, "ArgumentNullException", "ids")

	batch := e.call("POST", "/contoso/_apis/wit/workitemsbatch?"+adoV, "application/json",
		map[string]any{"ids": []int{c, a}, "fields": []string{"System.Id", "System.WorkItemType"}}, "").obj(t)
	bv, _ := batch["value"].([]any)
	if len(bv) != 2 || adoItemID(bv[0].(map[string]any)) != c || adoFieldsOf(bv[1].(map[string]any))["System.WorkItemType"] != "Issue" {
		t.Errorf("batch: %v", batch)
	}
	if r := e.call("POST", e.proj()+"/_apis/wit/workItemsBatch?"+adoV, "application/json", map[string]any{"ids": []int{a}}, ""); r.code != 200 {
		t.Errorf("project-level workItemsBatch: %d %s", r.code, r.raw)
	}

	// Organization-level routes and a GET without api-version, which the
	// service serves at its latest released version.
	if r := e.call("GET", fmt.Sprintf("/contoso/_apis/wit/workItems/%d", a), "", nil, ""); r.code != 200 {
		t.Errorf("org-level GET without api-version: %d %s", r.code, r.raw)
	}
}

func TestDevOpsWIQL(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))
	e := adoStart(t, simulator.Options{Clock: clk, TokenLifetime: 1000 * time.Hour})
	one := adoItemID(e.create("Issue", adoAdd("System.Title", "alpha"), adoAdd("System.Tags", "sev:high; dfc")))
	clk.Advance(26 * time.Hour) // 2025-03-11 11:00
	two := adoItemID(e.create("Problem", adoAdd("System.Title", "beta")))
	e.patch(two, adoAdd("System.State", "Active"))
	clk.Advance(26 * time.Hour) // 2025-03-12 13:00
	three := adoItemID(e.create("Task", adoAdd("System.Title", "gamma"), adoAdd("System.Tags", "dfc")))
	e.patch(one, adoAdd("System.State", "Closed"))

	query := func(path, q string) adoResp {
		return e.call("POST", path, "application/json", map[string]string{"query": q}, "")
	}
	ids := func(r adoResp) []int {
		t.Helper()
		if r.code != 200 {
			t.Fatalf("WIQL: %d %s", r.code, r.raw)
		}
		var out []int
		for _, w := range r.obj(t)["workItems"].([]any) {
			out = append(out, adoItemID(w.(map[string]any)))
		}
		return out
	}
	wiql := e.proj() + "/_apis/wit/wiql?" + adoV
	sel := "SELECT [System.Id] FROM WorkItems WHERE "
	for _, tc := range []struct {
		name, path, where string
		want              []int
	}{
		{"open by changed date", wiql, "[System.TeamProject] = @project AND [System.State] <> 'Closed' ORDER BY [System.ChangedDate] DESC", []int{three, two}},
		{"type ignores case", wiql, "[System.WorkItemType] = 'problem'", []int{two}},
		{"tags contain a whole tag", wiql, "[System.Tags] CONTAINS 'dfc' ORDER BY [System.Id] DESC", []int{three, one}},
		{"no partial tag", wiql, "[System.Tags] CONTAINS 'df'", nil},
		{"title contains", wiql, "[System.Title] CONTAINS 'amm'", []int{three}},
		{"date precision >", wiql, "[System.ChangedDate] > '2025-03-11'", []int{one, three}},
		{"date precision >=", wiql, "[System.ChangedDate] >= '2025-03-11'", []int{one, two, three}},
		{"time precision", e.proj() + "/_apis/wit/wiql?timePrecision=true&" + adoV, "[System.ChangedDate] > '2025-03-11T12:00:00Z'", []int{one, three}},
		{"or and parentheses", wiql, "([System.State] = 'Active' OR [State] = 'Closed') AND [System.WorkItemType] <> 'Task'", []int{one, two}},
		{"in", wiql, "[System.State] IN ('New', 'Active')", []int{two, three}},
		{"not in", wiql, "[System.State] NOT IN ('New', 'Active')", []int{one}},
		{"today", wiql, "[System.CreatedDate] >= @today - 1", []int{two, three}},
		{"me", wiql, "[System.CreatedBy] = @me AND [System.ChangedBy] = @me", []int{one, two, three}},
		{"not", wiql, "NOT [System.State] = 'New'", []int{one, two}},
		{"org level", "/contoso/_apis/wit/wiql?" + adoV, "[System.State] = 'New'", []int{three}},
	} {
		if got := ids(query(tc.path, sel+tc.where)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := ids(query(wiql+"&$top=1", sel+"[System.Id] > 0 ORDER BY [System.Id] DESC")); !slices.Equal(got, []int{three}) {
		t.Errorf("$top=1: %v", got)
	}

	// The fixture's query, with friendly field names.
	r := query(wiql, "Select [System.Id], [System.Title], [System.State] From WorkItems Where [System.WorkItemType] = 'Task' AND [State] <> 'Closed' AND [State] <> 'Removed' order by [Microsoft.VSTS.Common.Priority] asc, [System.CreatedDate] desc")
	res := r.obj(t)
	if got := ids(r); !slices.Equal(got, []int{three}) {
		t.Errorf("fixture query: %v", got)
	}
	cols, _ := res["columns"].([]any)
	sorts, _ := res["sortColumns"].([]any)
	if len(cols) != 3 || cols[2].(map[string]any)["name"] != "State" || len(sorts) != 2 || sorts[1].(map[string]any)["descending"] != true {
		t.Errorf("columns %v sortColumns %v", cols, sorts)
	}

	adoExpectError(t, "a time without timePrecision", query(wiql, sel+"[System.ChangedDate] > '2025-03-11T12:00:00Z'"),
		400, "WorkItemTrackingQueryException", "You cannot supply a time with the date when running a query using date precision.")
	adoExpectError(t, "unknown field", query(wiql, sel+"[Vigil.Nope] = 1"), 400, "WorkItemTrackingQueryException", "TF51005")
	adoExpectError(t, "syntax", query(wiql, sel+"[System.State] 'New'"), 400, "WorkItemTrackingQueryException", "Expecting comparison operator")
	adoExpectError(t, "@project at org level", query("/contoso/_apis/wit/wiql?"+adoV, sel+"[System.TeamProject] = @project"), 400, "WorkItemTrackingQueryException", "@project")
	adoExpectError(t, "no query", e.call("POST", wiql, "application/json", map[string]string{}, ""), 400, "ArgumentNullException", "wiql")
}

func TestDevOpsStateValidation(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	item := e.create("Problem", adoAdd("System.Title", "Miner"), adoAdd("System.State", "Approved"))
	id := adoItemID(item)
	if f := adoFieldsOf(item); f["System.State"] != "Approved" || f["System.Reason"] != "Moved to state Approved" {
		t.Errorf("create in Approved: %v %v", f["System.State"], f["System.Reason"])
	}
	adoExpectError(t, "state of another process", e.patch(id, adoAdd("System.State", "Resolved")), 400, "RuleValidationException",
		"TF401320: Rule Error for field State. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidListValue.")
	// Every triage state is valid, from any state, and names ignore case.
	for _, st := range []string{"removed", "New", "Active", "Verification", "Closed", "Active", "Approved"} {
		r := e.patch(id, adoAdd("System.State", st))
		if r.code != 200 || !strings.EqualFold(adoFieldsOf(r.obj(t))["System.State"].(string), st) {
			t.Fatalf("move to %s: %d %s", st, r.code, r.raw)
		}
	}
	f := adoFieldsOf(e.patch(id, adoAdd("System.State", "Closed"), adoAdd("System.Reason", "Fixed")).obj(t))
	if f["System.State"] != "Closed" || f["System.Reason"] != "Fixed" || f["Microsoft.VSTS.Common.ClosedDate"] == nil || f["Microsoft.VSTS.Common.ClosedBy"] == nil {
		t.Errorf("closed: %v", f)
	}
	f = adoFieldsOf(e.patch(id, adoAdd("System.State", "Active")).obj(t))
	if f["Microsoft.VSTS.Common.ClosedDate"] != nil || f["Microsoft.VSTS.Common.ActivatedDate"] == nil || f["System.Reason"] != "Moved to state Active" {
		t.Errorf("reactivated: %v", f)
	}
	adoExpectError(t, "empty state", e.patch(id, adoAdd("System.State", "")), 400, "RuleValidationException", "InvalidEmpty")

	for typ, states := range map[string][]string{
		"Issue": {"New", "Approved", "Removed", "Active", "Verification", "Closed"},
		"Task":  {"New", "Active", "Closed", "Removed"},
		"Bug":   {"New", "Active", "Resolved", "Closed"},
		"Epic":  {"New", "Active", "Resolved", "Closed", "Removed"},
	} {
		for _, st := range states {
			e.create(typ, adoAdd("System.Title", "x"), adoAdd("System.State", st))
		}
	}
	adoExpectError(t, "Task in Approved", e.call("POST", e.proj()+"/_apis/wit/workitems/$Task?"+adoV, adoPatchCT,
		[]any{adoAdd("System.Title", "x"), adoAdd("System.State", "Approved")}, ""), 400, "RuleValidationException", "State")
}

// adoHookSink is a service hook consumer that records deliveries.
type adoHookSink struct {
	srv  *httptest.Server
	got  chan adoDelivery
	mu   sync.Mutex
	hits int
	fail int // answer 500 to this many requests first
}

type adoDelivery struct {
	user, pass, ctype string
	body              map[string]any
	raw               []byte
}

func adoNewSink(t *testing.T, fail int) *adoHookSink { return adoNewSinkTLS(t, fail, false) }

func adoNewSinkTLS(t *testing.T, fail int, useTLS bool) *adoHookSink {
	s := &adoHookSink{got: make(chan adoDelivery, 32), fail: fail}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits++
		failing := s.hits <= s.fail
		s.mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		u, p, _ := r.BasicAuth()
		var m map[string]any
		json.Unmarshal(raw, &m)
		s.got <- adoDelivery{u, p, r.Header.Get("Content-Type"), m, raw}
	}))
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *adoHookSink) next(t *testing.T) adoDelivery {
	t.Helper()
	select {
	case d := <-s.got:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no service hook delivery within 5s")
	}
	return adoDelivery{}
}

func (e *adoEnv) subscribe(sink *adoHookSink) string {
	e.t.Helper()
	r := e.sim("POST", "/sim/v1/devops/hooks", map[string]any{
		"url": sink.srv.URL + "/hooks/azure-devops", "username": "vigil", "password": "hook-secret", "eventType": "workitem.updated"})
	if r.code != http.StatusCreated {
		e.t.Fatalf("subscribe: %d %s", r.code, r.raw)
	}
	id, _ := r.obj(e.t)["id"].(string)
	return id
}

func adoChange(d adoDelivery, field string) map[string]any {
	res, _ := d.body["resource"].(map[string]any)
	fields, _ := res["fields"].(map[string]any)
	c, _ := fields[field].(map[string]any)
	return c
}

func TestDevOpsServiceHook(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	sink := adoNewSink(t, 0)
	sub := e.subscribe(sink)
	id := adoItemID(e.create("Issue", adoAdd("System.Title", "Brute force")))
	if r := e.patch(id, adoTestRev(1), adoAdd("System.State", "Approved")); r.code != 200 {
		t.Fatalf("PATCH: %d %s", r.code, r.raw)
	}

	d := sink.next(t)
	if d.user != "vigil" || d.pass != "hook-secret" || !strings.HasPrefix(d.ctype, "application/json") {
		t.Errorf("delivery auth %q:%q content type %q", d.user, d.pass, d.ctype)
	}
	res, _ := d.body["resource"].(map[string]any)
	if d.body["eventType"] != "workitem.updated" || d.body["publisherId"] != "tfs" || d.body["subscriptionId"] != sub ||
		d.body["notificationId"] != float64(1) || d.body["resourceVersion"] != "1.0" {
		t.Errorf("event header: %s", d.raw)
	}
	if res["workItemId"] != float64(id) || res["rev"] != float64(2) {
		t.Errorf("resource: workItemId %v rev %v", res["workItemId"], res["rev"])
	}
	if c := adoChange(d, "System.State"); c["oldValue"] != "New" || c["newValue"] != "Approved" {
		t.Errorf("System.State change = %v", c)
	}
	if c := adoChange(d, "System.Rev"); c["oldValue"] != float64(1) || c["newValue"] != float64(2) {
		t.Errorf("System.Rev change = %v", c)
	}
	if by, _ := res["revisedBy"].(map[string]any); by["uniqueName"] != e.srv.Info.ClientID {
		t.Errorf("revisedBy = %v, want the service principal", by)
	}
	if rf := res["revision"].(map[string]any)["fields"].(map[string]any); rf["System.State"] != "Approved" || rf["System.CreatedBy"] != "vigil <"+e.srv.Info.ClientID+">" {
		t.Errorf("revision fields = %v", rf)
	}
	if dm := d.body["detailedMessage"].(map[string]any); !strings.Contains(dm["text"].(string), "New State: Approved") {
		t.Errorf("detailedMessage = %v", dm)
	}

	// A user closes the item on the board.
	if r := e.sim("POST", fmt.Sprintf("/sim/v1/devops/workitems/%d/state", id), map[string]string{"state": "Closed", "by": "Alice"}); r.code != 200 {
		t.Fatalf("portal state change: %d %s", r.code, r.raw)
	}
	d = sink.next(t)
	if c := adoChange(d, "System.State"); c["oldValue"] != "Approved" || c["newValue"] != "Closed" {
		t.Errorf("portal change: System.State = %v", c)
	}
	if c := adoChange(d, "System.ChangedBy"); c["newValue"] != "Alice <alice@contoso.com>" {
		t.Errorf("portal change: System.ChangedBy = %v", c)
	}
	if d.body["notificationId"] != float64(2) {
		t.Errorf("notificationId = %v, want 2", d.body["notificationId"])
	}
	if got := e.getItem(id); adoFieldsOf(got)["System.State"] != "Closed" || adoRev(got) != 3 {
		t.Errorf("after the portal change: %v", got["fields"])
	}
	if r := e.sim("POST", fmt.Sprintf("/sim/v1/devops/workitems/%d/state", id), map[string]string{"state": "Done"}); r.code != 400 {
		t.Errorf("portal change to an unknown state: %d %s", r.code, r.raw)
	}
	if r := e.sim("POST", fmt.Sprintf("/sim/v1/devops/workitems/%d/edit", id), map[string]any{"fields": map[string]any{"System.Title": "renamed"}, "by": "Bob"}); r.code != 200 {
		t.Errorf("portal edit: %d %s", r.code, r.raw)
	}
	if c := adoChange(sink.next(t), "System.Title"); c["newValue"] != "renamed" {
		t.Errorf("portal edit: System.Title = %v", c)
	}

	// Deleting the subscription stops deliveries.
	if r := e.sim("DELETE", "/sim/v1/devops/hooks/"+sub, nil); r.code != http.StatusNoContent {
		t.Fatalf("delete subscription: %d %s", r.code, r.raw)
	}
	e.patch(id, adoAdd("System.Title", "quiet"))
	select {
	case d := <-sink.got:
		t.Errorf("delivery after unsubscribing: %s", d.raw)
	case <-time.After(300 * time.Millisecond):
	}
	if r := e.sim("POST", "/sim/v1/devops/hooks", map[string]any{"url": "ftp://x", "eventType": "workitem.updated"}); r.code != 400 {
		t.Errorf("bad hook url: %d", r.code)
	}
}

func TestDevOpsServiceHookRetry(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	sink := adoNewSink(t, 1) // the consumer's first answer is 500
	e.subscribe(sink)
	id := adoItemID(e.create("Task", adoAdd("System.Title", "t")))
	e.patch(id, adoAdd("System.State", "Active"))
	d := sink.next(t)
	if c := adoChange(d, "System.State"); c["newValue"] != "Active" {
		t.Errorf("retried delivery: %v", c)
	}
	sink.mu.Lock()
	hits := sink.hits
	sink.mu.Unlock()
	if hits != 2 {
		t.Errorf("consumer saw %d requests, want 2 (one 500, one retry)", hits)
	}
	// The simulator counts the delivery once the consumer has answered.
	var h map[string]any
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		h = e.sim("GET", "/sim/v1/devops/hooks", nil).obj(t)["value"].([]any)[0].(map[string]any)
		if h["delivered"] == float64(1) {
			break
		}
	}
	if h["attempts"] != float64(2) || h["delivered"] != float64(1) || h["failed"] != float64(0) {
		t.Errorf("subscription counts: %v", h)
	}

	// A consumer on this host may serve HTTPS with its own certificate.
	tlsSink := adoNewSinkTLS(t, 0, true)
	e.subscribe(tlsSink)
	e.patch(id, adoAdd("System.Title", "over TLS"))
	if c := adoChange(tlsSink.next(t), "System.Title"); c["newValue"] != "over TLS" {
		t.Errorf("HTTPS consumer: System.Title = %v", c)
	}
}

func TestDevOpsAPIVersion(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	id := adoItemID(e.create("Issue", adoAdd("System.Title", "x")))
	wiql := map[string]string{"query": "SELECT [System.Id] FROM WorkItems"}
	post := func(q string, hdr ...string) adoResp {
		return e.call("POST", e.proj()+"/_apis/wit/wiql"+q, "application/json", wiql, "", hdr...)
	}
	adoExpectError(t, "POST without api-version", post(""), 400, "VssVersionNotSpecifiedException", `No api-version was supplied for the "POST" request.`)
	adoExpectError(t, "PATCH without api-version", e.call("PATCH", fmt.Sprintf("%s/_apis/wit/workitems/%d", e.proj(), id), adoPatchCT, []any{adoAdd("System.Title", "y")}, ""),
		400, "VssVersionNotSpecifiedException", `"PATCH"`)
	adoExpectError(t, "too new", post("?api-version=8.0"), 400, "VssVersionOutOfRangeException", "The latest REST API version this server supports is 7.2.")
	adoExpectError(t, "7.2 is in preview", post("?api-version=7.2"), 400, "VssInvalidPreviewVersionException", `For example: "7.2-preview"`)
	adoExpectError(t, "not a version", post("?api-version=latest"), 400, "VssInvalidApiResourceVersionException", `Invalid api version string: "latest"`)
	adoExpectError(t, "older than the simulator serves", post("?api-version=5.0"), 400, "VssVersionOutOfRangeException", "outside the valid version range")
	for _, ok := range []string{"?api-version=7.1", "?api-version=7.1-preview.3", "?api-version=7.1-preview", "?api-version=7.0", "?api-version=7.2-preview.2"} {
		if r := post(ok); r.code != 200 {
			t.Errorf("%s: %d %s", ok, r.code, r.raw)
		}
	}
	// Microsoft's clients send the version in the Accept header.
	if r := post("", "Accept", "application/json;api-version=7.1-preview.2"); r.code != 200 {
		t.Errorf("api-version in Accept: %d %s", r.code, r.raw)
	}
	if r := e.call("GET", fmt.Sprintf("%s/_apis/wit/workitems/%d", e.proj(), id), "", nil, ""); r.code != 200 {
		t.Errorf("GET without api-version: %d %s", r.code, r.raw)
	}
	// connectionData exists only in preview.
	adoExpectError(t, "connectionData at 7.1", e.call("GET", "/contoso/_apis/connectionData?api-version=7.1", "", nil, ""),
		400, "VssInvalidPreviewVersionException", "under preview")
	cd := e.call("GET", "/contoso/_apis/connectionData?api-version=7.1-preview", "", nil, "")
	if user, _ := cd.obj(t)["authenticatedUser"].(map[string]any); cd.code != 200 || user["providerDisplayName"] != "vigil" {
		t.Errorf("connectionData: %d %s", cd.code, cd.raw)
	}
}

func TestDevOpsAuth(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	path := e.proj() + "/_apis/wit/workitems/$Issue?" + adoV
	body := []any{adoAdd("System.Title", "x")}

	r := e.call("POST", path, adoPatchCT, body, "-")
	if r.code != 401 || r.hdr.Get("WWW-Authenticate") == "" || r.typeKey() != "VssUnauthorizedException" {
		t.Errorf("no credentials: %d %v %s", r.code, r.hdr, r.raw)
	}
	arm := e.tokenFor("https://management.azure.com/.default")
	if r := e.call("POST", path, adoPatchCT, body, "Bearer "+arm); r.code != 401 {
		t.Errorf("ARM token: %d %s, want 401", r.code, r.raw)
	}
	graph := e.tokenFor("https://graph.microsoft.com/.default")
	if r := e.call("GET", e.proj()+"/_apis/wit/workitems?ids=1&"+adoV, "", nil, "Bearer "+graph); r.code != 401 {
		t.Errorf("Graph token: %d %s, want 401", r.code, r.raw)
	}

	// A PAT over HTTP Basic, with an empty or any user name.
	for _, user := range []string{"", "anything"} {
		pat := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+e.srv.Info.ClientSecret))
		r := e.call("POST", path, adoPatchCT, body, pat)
		if r.code != 200 {
			t.Fatalf("PAT with user %q: %d %s", user, r.code, r.raw)
		}
		if by, _ := adoFieldsOf(r.obj(t))["System.CreatedBy"].(map[string]any); by["displayName"] != "Vigil Automation" {
			t.Errorf("created by %v, want the PAT's owner", by)
		}
	}
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte(":not-the-pat"))
	if r := e.call("POST", path, adoPatchCT, body, bad); r.code != 401 {
		t.Errorf("wrong PAT: %d %s, want 401", r.code, r.raw)
	}
	if r := e.call("POST", "/fabrikam/SecOps/_apis/wit/workitems/$Issue?"+adoV, adoPatchCT, body, ""); r.code != 404 {
		t.Errorf("unknown organization: %d %s, want 404", r.code, r.raw)
	}
	e.srv.Sim.Inject(simulator.Fault{Endpoint: "devops.workitems.create", Kind: simulator.FaultInsufficientAccess, Times: 1})
	if r := e.call("POST", path, adoPatchCT, body, ""); r.code != 403 {
		t.Errorf("insufficient_access fault: %d %s, want 403", r.code, r.raw)
	}
}

func adoDig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	return v
}

// adoShapeOpts compare property names and nesting, ignoring values. Keys
// of a "fields" map are field names, which are data: only fields present
// in both are compared, and below them leaf types are not, and a change's
// oldValue or newValue may be missing. A null in want accepts anything.
// Each element of an array must match the shape of some element of want's.
var adoShapeOpts = shapeOpts{DataUnder: []string{"fields"}, DataOptional: []string{"oldValue", "newValue"}}

// adoCompare compares an answer with an example; extra names keys the
// answer may add.
func adoCompare(t *testing.T, label string, want, got any, extra ...string) {
	t.Helper()
	opts := adoShapeOpts
	opts.AllowKeys = extra
	if diffs := shapeDiff(want, got, opts); len(diffs) > 0 {
		t.Errorf("%s: shape differs from the fixture:\n  %s", label, strings.Join(diffs, "\n  "))
	}
}

// TestDevOpsFixtures sends each official example request and compares the
// answer's property names and nesting with the example response.
func TestDevOpsFixtures(t *testing.T) {
	for _, name := range []string{"error_response_example.json", "wiql_query.json", "workitem_create.json", "workitem_get.json",
		"workitem_update_add_tag.json", "workitem_update_field.json", "workitem_updated_hook.json", "workitems_batch.json", "workitems_list.json"} {
		if _, err := os.Stat(filepath.Join("testdata", "devops", name)); err != nil {
			t.Errorf("fixture copy missing: %v", err)
		}
	}
	// The examples' organization and project, so that their area paths
	// are valid here.
	e := adoStart(t, simulator.Options{DevOpsOrg: "fabrikam", DevOpsProject: "Fabrikam-Fiber-Git"})
	sink := adoNewSink(t, 0)
	e.subscribe(sink)
	body := func(f map[string]any) any { return adoDig(f, "parameters", "body") }
	resp200 := func(f map[string]any) any { return adoDig(f, "responses", "200", "body") }

	create := fixture[map[string]any](t, "devops", "workitem_create.json")
	r := e.call("POST", e.proj()+"/_apis/wit/workItems/$Task?"+adoV, adoPatchCT, body(create), "")
	if r.code != 200 {
		t.Fatalf("workitem_create request: %d %s", r.code, r.raw)
	}
	adoCompare(t, "workitem_create", resp200(create), r.obj(t))
	parent := adoItemID(r.obj(t))
	parentURL := fmt.Sprintf("%s/fabrikam/_apis/wit/workItems/%d", e.srv.Info.DevOpsURL, parent)

	// workitem_update_field tests rev 1 of an item with a parent link.
	child := adoItemID(e.create("Task", adoAdd("System.Title", "JavaScript implementation for Microsoft Account"),
		adoLink("System.LinkTypes.Hierarchy-Reverse", parentURL, "decomposition of work")))
	field := fixture[map[string]any](t, "devops", "workitem_update_field.json")
	r = e.call("PATCH", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s", e.proj(), child, adoV), adoPatchCT, body(field), "")
	if r.code != 200 || adoRev(r.obj(t)) != 2 {
		t.Fatalf("workitem_update_field request: %d %s", r.code, r.raw)
	}
	adoCompare(t, "workitem_update_field", resp200(field), r.obj(t))

	// workitem_update_add_tag tests rev 6 of an item with three links.
	tagged := adoItemID(e.create("Task", adoAdd("System.Title", "Unit Testing for MSA login"),
		adoLink("System.LinkTypes.Hierarchy-Reverse", parentURL, "decomposition of work"),
		adoLink("System.LinkTypes.Related", fmt.Sprintf("%s/fabrikam/_apis/wit/workItems/%d", e.srv.Info.DevOpsURL, child), "adding another task"),
		adoLink("Hyperlink", "http://blogs.msdn.com/b/bharry/archive/2014/05/12/a-new-api-for-visual-studio-online.aspx", "")))
	for i := 2; i <= 6; i++ {
		e.patch(tagged, adoAdd("Microsoft.VSTS.Scheduling.RemainingWork", i))
	}
	tag := fixture[map[string]any](t, "devops", "workitem_update_add_tag.json")
	r = e.call("PATCH", fmt.Sprintf("%s/_apis/wit/workitems/%d?%s", e.proj(), tagged, adoV), adoPatchCT, body(tag), "")
	if r.code != 200 || adoRev(r.obj(t)) != 7 || adoFieldsOf(r.obj(t))["System.Tags"] != "Tag1; Tag2" {
		t.Fatalf("workitem_update_add_tag request: %d %s", r.code, r.raw)
	}
	adoCompare(t, "workitem_update_add_tag", resp200(tag), r.obj(t))

	get := fixture[map[string]any](t, "devops", "workitem_get.json")
	r = e.call("GET", fmt.Sprintf("%s/_apis/wit/workItems/%d?%s", e.proj(), tagged, adoV), "", nil, "")
	adoCompare(t, "workitem_get", resp200(get), r.obj(t))

	list := fixture[map[string]any](t, "devops", "workitems_list.json")
	r = e.call("GET", fmt.Sprintf("/fabrikam/_apis/wit/workitems?ids=%d,%d,%d&%s", parent, child, tagged, adoV), "", nil, "")
	adoCompare(t, "workitems_list", resp200(list), r.obj(t))

	batch := fixture[map[string]any](t, "devops", "workitems_batch.json")
	req := body(batch).(map[string]any)
	req["ids"] = []int{parent, child, tagged}
	r = e.call("POST", "/fabrikam/_apis/wit/workItemsBatch?"+adoV, "application/json", req, "")
	if r.code != 200 {
		t.Fatalf("workitems_batch request: %d %s", r.code, r.raw)
	}
	adoCompare(t, "workitems_batch", resp200(batch), r.obj(t))

	wiql := fixture[map[string]any](t, "devops", "wiql_query.json")
	r = e.call("POST", e.proj()+"/_apis/wit/wiql?"+adoV, "application/json", body(wiql), "")
	if r.code != 200 || len(r.obj(t)["workItems"].([]any)) == 0 {
		t.Fatalf("wiql_query request: %d %s", r.code, r.raw)
	}
	adoCompare(t, "wiql_query", resp200(wiql), r.obj(t))

	errFixture := fixture[map[string]any](t, "devops", "error_response_example.json")
	r = e.call("GET", e.proj()+"/_apis/wit/workitems/4242?"+adoV, "", nil, "")
	adoCompare(t, "error_response_example", adoDig(errFixture, "responses", "400", "body"), r.obj(t))

	// Each PATCH above was delivered to the subscription; compare one
	// delivery (the real service adds subscriptionId and notificationId
	// to the documented sample).
	hook := fixture[map[string]any](t, "devops", "workitem_updated_hook.json")
	adoCompare(t, "workitem_updated_hook", hook, sink.next(t).body, "subscriptionId", "notificationId")
}

// TestDevOpsMoveCopyAndRelationTest covers the JSON Patch operations that
// move or copy a value between fields (RFC 6902), and a test operation on
// a relation.
func TestDevOpsMoveCopyAndRelationTest(t *testing.T) {
	e := adoStart(t, simulator.Options{})
	item := e.create("Task", adoAdd("System.Title", "Rotate the storage key"), adoAdd("System.Description", "Key leaked in a build log"),
		adoLink("Related", "https://dev.azure.com/contoso/_apis/wit/workItems/1", ""))
	id := adoItemID(item)

	r := e.patch(id,
		map[string]any{"op": "copy", "from": "/fields/System.Title", "path": "/fields/Custom.OriginalTitle"},
		map[string]any{"op": "move", "from": "/fields/System.Description", "path": "/fields/Custom.Notes"})
	if r.code != http.StatusOK {
		t.Fatalf("move and copy: %d %s", r.code, r.raw)
	}
	f := adoFieldsOf(e.getItem(id))
	if f["Custom.OriginalTitle"] != "Rotate the storage key" || f["System.Title"] != "Rotate the storage key" {
		t.Errorf("copy: title %v, copy %v; want both set", f["System.Title"], f["Custom.OriginalTitle"])
	}
	if f["Custom.Notes"] != "Key leaked in a build log" || f["System.Description"] != nil {
		t.Errorf("move: notes %v, description %v; want the value moved", f["Custom.Notes"], f["System.Description"])
	}

	rev := adoRev(e.getItem(id))
	testRel := func(u string) adoResp {
		return e.patch(id, map[string]any{"op": "test", "path": "/relations/0",
			"value": map[string]any{"rel": "Related", "url": u}})
	}
	if r := testRel("https://dev.azure.com/contoso/_apis/wit/workItems/1"); r.code != http.StatusOK {
		t.Errorf("test on the matching relation: %d %s", r.code, r.raw)
	}
	adoExpectError(t, "test on another relation", testRel("https://dev.azure.com/contoso/_apis/wit/workItems/2"),
		http.StatusPreconditionFailed, "TestPatchOperationFailedException", "VS403351")
	if got := adoRev(e.getItem(id)); got != rev {
		t.Errorf("rev after test operations = %d, want %d (tests change nothing)", got, rev)
	}

	// Only fields can be moved between; a move without from is malformed.
	for _, op := range []map[string]any{
		{"op": "move", "from": "/relations/0", "path": "/fields/Custom.Notes"},
		{"op": "copy", "path": "/fields/Custom.Notes"},
		{"op": "copy", "from": "/fields/System.Description", "path": "/fields/Custom.Notes"}, // moved away above
	} {
		if r := e.patch(id, op); r.code == http.StatusOK {
			t.Errorf("%v succeeded, want it refused", op)
		}
	}
}
