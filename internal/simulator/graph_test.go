package simulator_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

const grSec = "/graph/v1.0/security"

// grAPI calls the simulated Graph with plain net/http and a token that
// azidentity got for https://graph.microsoft.com/.default.
type grAPI struct {
	t     *testing.T
	srv   *simulator.Server
	token string
}

func grStart(t *testing.T, o simulator.Options) *grAPI {
	t.Helper()
	srv := start(t, o)
	return &grAPI{t: t, srv: srv, token: accessToken(t, srv, graphScope)}
}

// grPrefer asks for evolvable enum members such as microsoftDefenderForCloud.
var grPrefer = []string{"Prefer", "include-unknown-enum-members"}

// do sends a request (target relative to the server, or an absolute
// nextLink) with the Graph token and headers as name, value pairs; body is
// marshalled unless it is []byte. It returns the response and its JSON
// body (nil when empty).
func (g *grAPI) do(method, target string, body any, hdr ...string) (*http.Response, map[string]any) {
	g.t.Helper()
	return sendJSON(g.t, g.srv, method, target, g.token, body, hdr...)
}

// get expects 200 and returns the body.
func (g *grAPI) get(target string, hdr ...string) map[string]any {
	g.t.Helper()
	resp, m := g.do("GET", target, nil, hdr...)
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET %s: %d %v", target, resp.StatusCode, m)
	}
	return m
}

// list gets a collection with a $filter and further query options.
func (g *grAPI) list(coll, filter string, extra url.Values, hdr ...string) map[string]any {
	g.t.Helper()
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if filter != "" {
		q.Set("$filter", filter)
	}
	target := grSec + "/" + coll
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return g.get(target, hdr...)
}

func (g *grAPI) patch(target string, body any, want int, hdr ...string) map[string]any {
	g.t.Helper()
	resp, m := g.do("PATCH", target, body, hdr...)
	if resp.StatusCode != want {
		g.t.Fatalf("PATCH %s %v: %d, want %d: %v", target, body, resp.StatusCode, want, m)
	}
	return m
}

// raise raises an alert of another service source through the control API.
func (g *grAPI) raise(spec map[string]any) string {
	g.t.Helper()
	resp, m := sendJSON(g.t, g.srv, "POST", "/sim/v1/graph/alerts", "", spec)
	if resp.StatusCode != http.StatusCreated {
		g.t.Fatalf("raise %v: %d %v", spec, resp.StatusCode, m)
	}
	return m["id"].(string)
}

// sim posts to the control API and expects 204.
func (g *grAPI) sim(target string, body any) {
	g.t.Helper()
	resp, m := sendJSON(g.t, g.srv, "POST", target, "", body)
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusCreated {
		g.t.Fatalf("POST %s: %d %v", target, resp.StatusCode, m)
	}
}

func grValue(m map[string]any) []map[string]any {
	vs, _ := m["value"].([]any)
	out := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.(map[string]any))
	}
	return out
}

func grIDs(m map[string]any) []string {
	var ids []string
	for _, v := range grValue(m) {
		ids = append(ids, v["id"].(string))
	}
	return ids
}

func grSorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// grExpectError checks a Graph error answer.
func grExpectError(t *testing.T, what string, resp *http.Response, m map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d: %v", what, resp.StatusCode, status, m)
	}
	e, _ := m["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if e == nil || e["code"] != code || e["message"] == "" || inner == nil || inner["request-id"] == nil || inner["date"] == nil {
		t.Errorf("%s: body %v, want a Graph error with code %s", what, m, code)
	}
}

func grTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestGraphAlertsV2FiltersAndPaging(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	g := grStart(t, simulator.Options{Clock: clk, Preload: 3})
	world := g.srv.Sim.World()
	dfc := world.DefenderAlerts()
	mde1 := g.raise(map[string]any{"serviceSource": "microsoftDefenderForEndpoint"})
	mde2 := g.raise(map[string]any{"serviceSource": "microsoftDefenderForEndpoint", "severity": "high"})
	mdi, err := world.RaiseGraphAlert(simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForIdentity"})
	if err != nil {
		t.Fatal(err)
	}

	all := g.list("alerts_v2", "", nil, grPrefer...)
	if ctx, _ := all["@odata.context"].(string); !strings.HasSuffix(ctx, "/graph/v1.0/$metadata#security/alerts_v2") {
		t.Errorf("@odata.context = %q", ctx)
	}
	// Newest first, as Graph lists them.
	want := []string{mdi.ID, mde2, mde1, dfc[2].GraphAlertID, dfc[1].GraphAlertID, dfc[0].GraphAlertID}
	if got := grIDs(all); !slices.Equal(got, want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
	byID := map[string]map[string]any{}
	for _, a := range grValue(all) {
		byID[a["id"].(string)] = a
	}
	for _, a := range dfc {
		ga := byID[a.GraphAlertID]
		inc, _ := world.IncidentByName(a.IncidentName)
		if ga["serviceSource"] != "microsoftDefenderForCloud" || ga["detectionSource"] != "microsoftDefenderForCloud" ||
			ga["providerAlertId"] != a.Name || ga["status"] != "new" || ga["incidentId"] != strconv.Itoa(inc.Number) ||
			ga["title"] != a.DisplayName || ga["severity"] != strings.ToLower(a.Severity) {
			t.Errorf("Defender alert %s in Graph: %v", a.Name, ga)
		}
	}
	if byID[mdi.ID]["serviceSource"] != "microsoftDefenderForIdentity" || byID[mdi.ID]["incidentId"] != nil {
		t.Errorf("MDI alert: %v", byID[mdi.ID])
	}

	// Without the Prefer header, evolvable members are hidden as Graph
	// hides them.
	plain := g.list("alerts_v2", "", nil)
	for _, a := range grValue(plain) {
		if a["id"] == dfc[0].GraphAlertID && (a["serviceSource"] != "unknownFutureValue" || a["detectionSource"] != "unknownFutureValue") {
			t.Errorf("without Prefer: serviceSource %v detectionSource %v, want unknownFutureValue", a["serviceSource"], a["detectionSource"])
		}
		if a["id"] == mde1 && a["serviceSource"] != "microsoftDefenderForEndpoint" {
			t.Errorf("without Prefer, MDE: %v", a["serviceSource"])
		}
	}

	check := func(filter string, want ...string) {
		t.Helper()
		got := grIDs(g.list("alerts_v2", filter, nil, grPrefer...))
		if !slices.Equal(grSorted(got), grSorted(want)) {
			t.Errorf("$filter=%s: %v, want %v", filter, got, want)
		}
	}
	check("serviceSource eq 'microsoftDefenderForCloud'", dfc[0].GraphAlertID, dfc[1].GraphAlertID, dfc[2].GraphAlertID)
	check("serviceSource eq 'microsoftDefenderForEndpoint'", mde1, mde2)
	check("severity eq 'high' and serviceSource eq 'microsoftDefenderForEndpoint'", mde2)

	// Status changes in Defender for Cloud show in Graph.
	g.sim("/sim/v1/defender/alerts/"+dfc[0].Name+"/dismiss", nil)
	clk.Advance(time.Minute)
	t1 := clk.Now()
	if _, err := world.SetDefenderStatus(dfc[1].Name, simulator.DfCResolved); err != nil {
		t.Fatal(err)
	}
	check("status eq 'resolved'", dfc[0].GraphAlertID, dfc[1].GraphAlertID)
	check("status eq 'new' and serviceSource eq 'microsoftDefenderForCloud'", dfc[2].GraphAlertID)
	check("lastUpdateDateTime ge "+grTime(t1), dfc[1].GraphAlertID)
	check("lastUpdateDateTime gt " + grTime(t1))
	check("lastUpdateDateTime lt "+grTime(t1)+" and status eq 'resolved'", dfc[0].GraphAlertID)
	check("serviceSource eq 'microsoftDefenderForIdentity' or (status eq 'resolved' and lastUpdateDateTime ge "+grTime(t1)+")", mdi.ID, dfc[1].GraphAlertID)
	check("status in ('inProgress', 'resolved')", dfc[0].GraphAlertID, dfc[1].GraphAlertID)
	check("status eq 'New' and serviceSource eq 'microsoftDefenderForEndpoint'", mde1, mde2) // enum members match case-insensitively

	for _, bad := range []string{"bogus eq 'x'", "status eq 'closed'", "status eq", "lastUpdateDateTime ge 'yesterday'", "status gt 'new'", "(status eq 'new'"} {
		resp, m := g.do("GET", grSec+"/alerts_v2?$filter="+url.QueryEscape(bad), nil)
		grExpectError(t, "$filter="+bad, resp, m, http.StatusBadRequest, "BadRequest")
	}

	// Paging: nextLink with $skiptoken, the filter kept.
	walk := func(first string) (ids []string, pages int) {
		t.Helper()
		next := first
		for next != "" {
			m := g.get(next, grPrefer...)
			pages++
			ids = append(ids, grIDs(m)...)
			next, _ = m["@odata.nextLink"].(string)
			if next != "" && !strings.Contains(next, "$skiptoken=") {
				t.Fatalf("nextLink %q has no $skiptoken", next)
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		return ids, pages
	}
	if ids, pages := walk(grSec + "/alerts_v2?$top=2"); !slices.Equal(ids, want) || pages != 3 {
		t.Errorf("$top=2: %d pages %v, want 3 pages %v", pages, ids, want)
	}
	if ids, pages := walk(grSec + "/alerts_v2?$top=1&$filter=" + url.QueryEscape("serviceSource eq 'microsoftDefenderForCloud'")); len(ids) != 3 || pages != 3 || ids[0] != dfc[2].GraphAlertID {
		t.Errorf("filtered paging: %d pages %v", pages, ids)
	}
	// A page walk is not disturbed by alerts arriving meanwhile.
	first := g.get(grSec+"/alerts_v2?$top=3", grPrefer...)
	late := g.raise(map[string]any{"serviceSource": "azureAdIdentityProtection"})
	rest, _ := walk(first["@odata.nextLink"].(string))
	if got := append(grIDs(first), rest...); !slices.Equal(got, want) {
		t.Errorf("walk with a late arrival: %v, want %v", got, want)
	}
	if m := g.list("alerts_v2", "", url.Values{"$count": {"true"}, "$skip": {"5"}}); m["@odata.count"] != 7.0 || !slices.Equal(grIDs(m), want[4:]) {
		t.Errorf("$count, $skip: count %v ids %v", m["@odata.count"], grIDs(m))
	}
	_ = late

	// One alert.
	one := g.get(grSec+"/alerts_v2/"+dfc[1].GraphAlertID, grPrefer...)
	if one["id"] != dfc[1].GraphAlertID || one["status"] != "resolved" || one["resolvedDateTime"] == nil ||
		!strings.HasSuffix(one["@odata.context"].(string), "#security/alerts_v2/$entity") {
		t.Errorf("GET one: %v", one)
	}
	resp, m := g.do("GET", grSec+"/alerts_v2/nope", nil)
	grExpectError(t, "unknown alert", resp, m, http.StatusNotFound, "NotFound")
}

func TestGraphAlertV2PatchPropagates(t *testing.T) {
	g := grStart(t, simulator.Options{Preload: 1})
	world := g.srv.Sim.World()
	a := world.DefenderAlerts()[0]
	target := grSec + "/alerts_v2/" + a.GraphAlertID
	states := func() (string, string, string) {
		d, _ := world.DefenderAlertByName(a.Name)
		sa, _ := world.SentinelAlertByID(a.SentinelAlertID)
		inc, _ := world.IncidentByName(a.IncidentName)
		return d.Status, sa.Status, inc.Status
	}

	m := g.patch(target, map[string]any{"status": "inProgress", "assignedTo": "secAdmin@contoso.onmicrosoft.com",
		"classification": "truePositive", "determination": "malware"}, http.StatusOK, grPrefer...)
	if m["status"] != "inProgress" || m["assignedTo"] != "secAdmin@contoso.onmicrosoft.com" || m["classification"] != "truePositive" ||
		m["determination"] != "malware" || m["serviceSource"] != "microsoftDefenderForCloud" {
		t.Errorf("PATCH answer: %v", m)
	}
	if d, s, i := states(); d != simulator.DfCInProgress || s != simulator.SentinelAlertInProgress || i != simulator.IncidentNew {
		t.Errorf("after inProgress: defender %s, sentinel alert %s, incident %s", d, s, i)
	}
	// Resolving in Graph resolves the Defender alert and, as Defender's
	// own change does, the Sentinel alert but not the incident.
	m = g.patch(target, map[string]any{"status": "resolved"}, http.StatusOK)
	if m["status"] != "resolved" || m["resolvedDateTime"] == nil || m["assignedTo"] != "secAdmin@contoso.onmicrosoft.com" {
		t.Errorf("PATCH resolved: %v", m)
	}
	if d, s, i := states(); d != simulator.DfCResolved || s != simulator.SentinelAlertResolved || i != simulator.IncidentNew {
		t.Errorf("after resolved: defender %s, sentinel alert %s, incident %s", d, s, i)
	}
	g.patch(target, map[string]any{"status": "new"}, http.StatusOK)
	if d, s, _ := states(); d != simulator.DfCActive || s != simulator.SentinelAlertNew {
		t.Errorf("after new: defender %s, sentinel alert %s", d, s)
	}
	// A dismissal in Defender for Cloud is "resolved" in Graph; resolving
	// it again through Graph changes nothing in Defender for Cloud.
	g.sim("/sim/v1/defender/alerts/"+a.Name+"/dismiss", nil)
	if got := g.get(target)["status"]; got != "resolved" {
		t.Errorf("dismissed alert in Graph: %v", got)
	}
	g.patch(target, map[string]any{"status": "resolved"}, http.StatusOK)
	if d, _, _ := states(); d != simulator.DfCDismissed {
		t.Errorf("re-resolving a dismissed alert made it %s", d)
	}

	// PascalCase input is accepted, camelCase is answered.
	if m := g.patch(target, map[string]any{"classification": "FalsePositive", "determination": "NotMalicious"}, http.StatusOK); m["classification"] != "falsePositive" || m["determination"] != "notMalicious" {
		t.Errorf("PascalCase input: %v", m)
	}
	if m := g.patch(target, map[string]any{"customDetails": map[string]any{"ticket": "SOC-1"}, "assignedTo": nil}, http.StatusOK); m["assignedTo"] != nil || m["customDetails"].(map[string]any)["ticket"] != "SOC-1" {
		t.Errorf("customDetails, assignedTo null: %v", m)
	}
	if ann := world.GraphAlertAnnotations(a.GraphAlertID); ann.Classification != "falsePositive" || ann.AssignedTo != "" {
		t.Errorf("annotations: %+v", ann)
	}

	for name, body := range map[string]any{
		"unknown status":     map[string]any{"status": "closed"},
		"unknownFutureValue": map[string]any{"classification": "unknownFutureValue"},
		"read-only property": map[string]any{"severity": "high"},
		"unknown property":   map[string]any{"owner": "x"},
		"wrong type":         map[string]any{"status": 3},
		"empty body":         []byte(""),
		"not an object":      []byte("[1]"),
	} {
		resp, m := g.do("PATCH", target, body)
		grExpectError(t, name, resp, m, http.StatusBadRequest, "BadRequest")
	}
	resp, m := g.do("PATCH", grSec+"/alerts_v2/nope", map[string]any{"status": "resolved"})
	grExpectError(t, "unknown alert", resp, m, http.StatusNotFound, "NotFound")

	// An alert of another service source changes in Graph only.
	mde := g.raise(map[string]any{"serviceSource": "microsoftDefenderForEndpoint"})
	if m := g.patch(grSec+"/alerts_v2/"+mde, map[string]any{"status": "resolved"}, http.StatusOK); m["status"] != "resolved" || m["resolvedDateTime"] == nil {
		t.Errorf("MDE PATCH: %v", m)
	}
	if ga, _ := world.GraphAlertByID(mde); ga.Status != "resolved" {
		t.Errorf("MDE alert in the world: %+v", ga)
	}
	if d, _, _ := states(); d != simulator.DfCDismissed {
		t.Errorf("Defender alert changed by an MDE update: %s", d)
	}

	// Comments.
	resp, m = g.do("POST", target+"/comments", map[string]any{"@odata.type": "microsoft.graph.security.alertComment", "comment": "looked at it"})
	if resp.StatusCode != http.StatusOK || len(grValue(m)) != 1 || grValue(m)[0]["comment"] != "looked at it" {
		t.Fatalf("comment: %d %v", resp.StatusCode, m)
	}
	if cs := g.get(target)["comments"].([]any); len(cs) != 1 || cs[0].(map[string]any)["createdByDisplayName"] != g.srv.Info.ClientID {
		t.Errorf("comments: %v", cs)
	}
	resp, m = g.do("POST", target+"/comments", map[string]any{"comment": ""})
	grExpectError(t, "empty comment", resp, m, http.StatusBadRequest, "BadRequest")
}

func TestGraphIncidents(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	g := grStart(t, simulator.Options{Clock: clk, Preload: 3})
	world := g.srv.Sim.World()
	dfc := world.DefenderAlerts()
	incs := world.Incidents()
	num := func(i int) string { return strconv.Itoa(incs[i].Number) }

	m := g.list("incidents", "", url.Values{"$expand": {"alerts"}}, grPrefer...)
	if got, want := grIDs(m), []string{num(2), num(1), num(0)}; !slices.Equal(got, want) {
		t.Fatalf("incidents = %v, want %v", got, want)
	}
	if ctx := m["@odata.context"].(string); !strings.HasSuffix(ctx, "#security/incidents(alerts())") {
		t.Errorf("@odata.context = %q", ctx)
	}
	for i, gi := range grValue(m) {
		inc := incs[2-i]
		alerts, _ := gi["alerts"].([]any)
		if gi["status"] != "active" || gi["displayName"] != inc.Title || gi["severity"] != strings.ToLower(inc.Severity) ||
			gi["classification"] != "unknown" || len(alerts) != 1 || alerts[0].(map[string]any)["id"] != dfc[2-i].GraphAlertID {
			t.Errorf("incident %s: %v", gi["id"], gi)
		}
	}
	if _, ok := grValue(g.list("incidents", "", nil))[0]["alerts"]; ok {
		t.Error("alerts present without $expand")
	}
	if p1 := g.list("incidents", "", url.Values{"$top": {"2"}}); len(grValue(p1)) != 2 || p1["@odata.nextLink"] == nil {
		t.Errorf("$top=2: %v", p1)
	} else if p2 := g.get(p1["@odata.nextLink"].(string)); !slices.Equal(grIDs(p2), []string{num(0)}) || p2["@odata.nextLink"] != nil {
		t.Errorf("page 2: %v", grIDs(p2))
	}

	// Assignment, tags, classification and inProgress reach Sentinel.
	target := grSec + "/incidents/" + num(0)
	clk.Advance(time.Minute)
	got := g.patch(target, map[string]any{"assignedTo": "analyst@contoso.com", "customTags": []string{"Demo"},
		"classification": "TruePositive", "determination": "MultiStagedAttack", "status": "inProgress"}, http.StatusOK)
	if got["status"] != "inProgress" || got["classification"] != "truePositive" || got["determination"] != "multiStagedAttack" ||
		got["assignedTo"] != "analyst@contoso.com" || fmt.Sprint(got["customTags"]) != "[Demo]" || got["lastUpdateDateTime"] == gtimeOf(incs[0].LastModified) {
		t.Errorf("PATCH answer: %v", got)
	}
	inc, _ := world.IncidentByName(incs[0].Name)
	if inc.Status != simulator.IncidentActive || inc.Owner.UserPrincipalName != "analyst@contoso.com" || inc.Classification != "TruePositive" ||
		len(inc.Labels) != 1 || inc.Labels[0]["labelName"] != "Demo" || inc.Labels[0]["labelType"] != "User" {
		t.Errorf("Sentinel incident after PATCH: %+v", inc)
	}
	checkF := func(filter string, want ...string) {
		t.Helper()
		if got := grIDs(g.list("incidents", filter, nil)); !slices.Equal(grSorted(got), grSorted(want)) {
			t.Errorf("$filter=%s: %v, want %v", filter, got, want)
		}
	}
	checkF("status eq 'inProgress'", num(0))
	checkF("status eq 'active'", num(1), num(2))
	checkF("assignedTo eq 'analyst@contoso.com'", num(0))
	checkF("lastUpdateDateTime ge "+grTime(clk.Now()), num(0))

	// Resolving closes the Sentinel incident, which resolves its alert and
	// the Defender alert behind it.
	got = g.patch(target, map[string]any{"status": "resolved", "classification": "falsePositive", "determination": "notMalicious"}, http.StatusOK)
	if got["status"] != "resolved" || got["classification"] != "falsePositive" {
		t.Errorf("resolve answer: %v", got)
	}
	inc, _ = world.IncidentByName(incs[0].Name)
	d, _ := world.DefenderAlertByName(dfc[0].Name)
	sa, _ := world.SentinelAlertByID(dfc[0].SentinelAlertID)
	if inc.Status != simulator.IncidentClosed || inc.Classification != "FalsePositive" || inc.ClassificationReason != "IncorrectAlertLogic" ||
		d.Status != simulator.DfCResolved || sa.Status != simulator.SentinelAlertResolved {
		t.Errorf("after resolve: incident %s %s %s, defender %s, sentinel alert %s", inc.Status, inc.Classification, inc.ClassificationReason, d.Status, sa.Status)
	}
	if ga := g.get(grSec + "/alerts_v2/" + dfc[0].GraphAlertID); ga["status"] != "resolved" || ga["classification"] != "falsePositive" || ga["determination"] != "notMalicious" {
		t.Errorf("the incident's alert: %v", ga)
	}
	checkF("status eq 'resolved'", num(0))

	// Resolving without a classification closes as Undetermined; active
	// reopens.
	g.patch(grSec+"/incidents/"+num(1), map[string]any{"status": "resolved"}, http.StatusOK)
	if inc, _ := world.IncidentByName(incs[1].Name); inc.Status != simulator.IncidentClosed || inc.Classification != "Undetermined" {
		t.Errorf("resolved without classification: %s %s", inc.Status, inc.Classification)
	}
	if got := g.patch(grSec+"/incidents/"+num(1), map[string]any{"status": "active"}, http.StatusOK); got["status"] != "active" {
		t.Errorf("reopen: %v", got)
	}
	if inc, _ := world.IncidentByName(incs[1].Name); inc.Status != simulator.IncidentActive {
		t.Errorf("reopened incident in Sentinel: %s", inc.Status)
	}
	// An analyst closing in Sentinel shows in Graph.
	g.sim("/sim/v1/sentinel/incidents/"+incs[2].Name+"/status", map[string]any{"Status": "Closed", "Classification": "BenignPositive", "ClassificationReason": "SuspiciousButExpected"})
	if gi := g.get(grSec + "/incidents/" + num(2)); gi["status"] != "resolved" || gi["classification"] != "informationalExpectedActivity" || gi["determination"] != "confirmedActivity" {
		t.Errorf("closed in Sentinel: %v", gi)
	}

	// Comments go to the Sentinel incident.
	resp, cm := g.do("POST", target+"/comments", map[string]any{"@odata.type": "microsoft.graph.security.alertComment", "comment": "Demo for docs"})
	if resp.StatusCode != http.StatusOK || len(grValue(cm)) != 1 || grValue(cm)[0]["comment"] != "Demo for docs" {
		t.Fatalf("comment: %d %v", resp.StatusCode, cm)
	}
	if inc, _ := world.IncidentByName(incs[0].Name); len(inc.Comments) != 1 || inc.Comments[0].Message != "Demo for docs" {
		t.Errorf("Sentinel comments: %+v", inc.Comments)
	}
	gi := g.get(target + "?$expand=alerts")
	if cs := gi["comments"].([]any); len(cs) != 1 || cs[0].(map[string]any)["comment"] != "Demo for docs" || !strings.HasSuffix(gi["@odata.context"].(string), "#security/incidents/$entity") {
		t.Errorf("GET incident: %v", gi)
	}

	for name, c := range map[string]struct {
		method, target string
		body           any
		status         int
		code           string
	}{
		"bad status":       {"PATCH", target, map[string]any{"status": "closed"}, 400, "BadRequest"},
		"read-only":        {"PATCH", target, map[string]any{"severity": "high"}, 400, "BadRequest"},
		"unknown incident": {"PATCH", grSec + "/incidents/999999", map[string]any{"status": "active"}, 404, "NotFound"},
		"get unknown":      {"GET", grSec + "/incidents/abc", nil, 404, "NotFound"},
		"bad expand":       {"GET", grSec + "/incidents?$expand=owner", nil, 400, "BadRequest"},
		"bad filter":       {"GET", grSec + "/incidents?$filter=" + url.QueryEscape("status eq 'new'"), nil, 400, "BadRequest"},
	} {
		resp, m := g.do(c.method, c.target, c.body)
		grExpectError(t, name, resp, m, c.status, c.code)
	}
}

func gtimeOf(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func TestGraphLegacyAlerts(t *testing.T) {
	g := grStart(t, simulator.Options{Preload: 2})
	world := g.srv.Sim.World()
	dfc := world.DefenderAlerts()
	mde := g.raise(map[string]any{"serviceSource": "microsoftDefenderForEndpoint"})

	m := g.list("alerts", "vendorInformation/provider eq 'ASC'", nil)
	if got, want := grIDs(m), []string{dfc[1].Name, dfc[0].Name}; !slices.Equal(got, want) {
		t.Fatalf("ASC alerts = %v, want %v", got, want)
	}
	for _, a := range grValue(m) {
		vi := a["vendorInformation"].(map[string]any)
		if vi["provider"] != "ASC" || vi["vendor"] != "Microsoft" || a["status"] != "newAlert" || a["azureTenantId"] != g.srv.Info.TenantID {
			t.Errorf("legacy alert: %v", a)
		}
	}
	if got := grIDs(g.list("alerts", "status eq 'newAlert'", nil)); len(got) != 3 || got[0] != mde {
		t.Errorf("status eq 'newAlert': %v", got)
	}
	if p := g.list("alerts", "", url.Values{"$top": {"1"}}); len(grValue(p)) != 1 || p["@odata.nextLink"] == nil {
		t.Errorf("$top=1: %v", p)
	}

	target := grSec + "/alerts/" + dfc[0].Name
	resp, e := g.do("PATCH", target, map[string]any{"status": "resolved"})
	grExpectError(t, "PATCH without vendorInformation", resp, e, http.StatusBadRequest, "BadRequest")
	resp, e = g.do("PATCH", target, map[string]any{"status": "resolved", "vendorInformation": map[string]any{"provider": "ASC"}})
	grExpectError(t, "PATCH without vendor", resp, e, http.StatusBadRequest, "BadRequest")
	resp, e = g.do("PATCH", target, map[string]any{"status": "resolved", "vendorInformation": map[string]any{"provider": "MCAS", "vendor": "Microsoft"}})
	grExpectError(t, "PATCH to another provider", resp, e, http.StatusNotFound, "NotFound")
	if d, _ := world.DefenderAlertByName(dfc[0].Name); d.Status != simulator.DfCActive {
		t.Fatalf("refused PATCHes changed the alert: %s", d.Status)
	}

	vi := map[string]any{"provider": "ASC", "vendor": "Microsoft"}
	if m := g.patch(target, map[string]any{"status": "resolved", "feedback": "truePositive", "vendorInformation": vi}, http.StatusNoContent); m != nil {
		t.Errorf("204 with a body: %v", m)
	}
	if d, _ := world.DefenderAlertByName(dfc[0].Name); d.Status != simulator.DfCResolved {
		t.Errorf("legacy resolve: Defender alert %s", d.Status)
	}
	if sa, _ := world.SentinelAlertByID(dfc[0].SentinelAlertID); sa.Status != simulator.SentinelAlertResolved {
		t.Errorf("legacy resolve: Sentinel alert %s", sa.Status)
	}
	la := g.get(target)
	if la["status"] != "resolved" || la["feedback"] != "truePositive" || la["closedDateTime"] == nil {
		t.Errorf("legacy alert after PATCH: %v", la)
	}
	if v2 := g.get(grSec + "/alerts_v2/" + dfc[0].GraphAlertID); v2["status"] != "resolved" || v2["classification"] != "truePositive" {
		t.Errorf("alerts_v2 after a legacy PATCH: %v", v2)
	}
	rep := g.patch(target, map[string]any{"assignedTo": "analyst@contoso.com", "tags": []string{"HVA"}, "vendorInformation": vi}, http.StatusOK, "Prefer", "return=representation")
	if rep["assignedTo"] != "analyst@contoso.com" || fmt.Sprint(rep["tags"]) != "[HVA]" {
		t.Errorf("Prefer: return=representation: %v", rep)
	}
	g.patch(grSec+"/alerts/"+mde, map[string]any{"status": "inProgress", "vendorInformation": map[string]any{"provider": "Microsoft Defender ATP", "vendor": "Microsoft"}}, http.StatusNoContent)
	if ga, _ := world.GraphAlertByID(mde); ga.Status != "inProgress" {
		t.Errorf("MDE legacy PATCH: %+v", ga)
	}
}

func TestGraphThrottling(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	g := grStart(t, simulator.Options{Clock: clk, GraphBudget: 3, Preload: 1})
	for i := range 3 {
		if resp, m := g.do("GET", grSec+"/alerts_v2", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, m)
		}
	}
	wantBody := fixture[any](t, "graph", "throttled_429_response.json")
	throttled := func(retry string) {
		t.Helper()
		resp, m := g.do("GET", grSec+"/incidents", nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != retry {
			t.Fatalf("over budget: %d Retry-After %q, want 429 and %s: %v", resp.StatusCode, resp.Header.Get("Retry-After"), retry, m)
		}
		if d := shapeDiff(wantBody, any(m), grShapeOpts()); len(d) > 0 {
			t.Errorf("429 body differs from throttled_429_response.json: %v", d)
		}
	}
	throttled("60")
	clk.Advance(45 * time.Second)
	throttled("15")
	clk.Advance(15 * time.Second)
	if resp, m := g.do("GET", grSec+"/alerts_v2", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the window: %d %v", resp.StatusCode, m)
	}
	// The control API is not Graph and is not throttled.
	for range 5 {
		g.raise(map[string]any{})
	}
}

func TestGraphWrongAudience(t *testing.T) {
	g := grStart(t, simulator.Options{Preload: 1})
	armTok := accessToken(t, g.srv, armScope)
	resp, m := sendJSON(t, g.srv, "GET", grSec+"/alerts_v2", armTok, nil)
	grExpectError(t, "ARM token", resp, m, http.StatusUnauthorized, "InvalidAuthenticationToken")
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate")
	}
	resp, m = sendJSON(t, g.srv, "PATCH", grSec+"/incidents/1", "", map[string]any{"status": "resolved"})
	grExpectError(t, "no token", resp, m, http.StatusUnauthorized, "InvalidAuthenticationToken")
	if inc := g.srv.Sim.World().Incidents()[0]; inc.Status != simulator.IncidentNew {
		t.Errorf("an unauthenticated PATCH changed the incident: %s", inc.Status)
	}
}

// grShapeOpts compare JSON shapes, ignoring values: got must have every
// key of want, recursively, and may have more only where allowed names the
// path. A null on either side matches anything. Elements of an array are
// compared with the element of want of the same @odata.type, or else with
// the keys every element of want has.
func grShapeOpts(allowed ...[]string) shapeOpts {
	return shapeOpts{NullMatches: true, Scalars: scalarAny, Arrays: arrayODataType, AllowPaths: slices.Concat(allowed...)}
}

// grCamel reports whether s is a camelCase enum member.
func grCamel(s string) bool {
	return s != "" && unicode.IsLower(rune(s[0])) && !strings.ContainsAny(s, " _-")
}

// Keys the simulator sends beyond the docs' examples, each justified, by
// path (see shapeOpts.AllowPaths; an allowed key is not looked into).
var (
	// @odata.context: Graph annotates every response with it; the docs'
	// examples leave it out.
	grExtraContext = []string{"@odata.context"}
	// The example has deviceEvidence, fileEvidence, processEvidence and
	// registryKeyEvidence only. Defender for Cloud alerts also carry Azure
	// resources, IP addresses and accounts, rendered as the schema's
	// azureResourceEvidence, ipEvidence and userEvidence.
	grExtraEvidence = []string{"evidence[].resourceId", "evidence[].resourceName", "evidence[].resourceType",
		"evidence[].ipAddress", "evidence[].countryLetterCode", "evidence[].userAccount"}
	// Incident comments: the v1.0 schema types them alertComment
	// (createdByDisplayName, createdDateTime), the docs' incident examples
	// show createdBy and createdTime; the simulator sends both.
	grExtraIncidentComment = []string{"comments[].createdByDisplayName", "comments[].createdDateTime"}
	// The legacy list example is the doc's truncated placeholder with six
	// properties; the others are those of the alert resource type
	// (microsoft.graph.alert).
	grLegacyProps = []string{"id", "cloudAppStates", "comments", "confidence", "createdDateTime", "description", "detectionIds",
		"eventDateTime", "feedback", "fileStates", "hostStates", "incidentIds", "lastModifiedDateTime", "malwareStates",
		"networkConnections", "processes", "recommendedActions", "registryKeyStates", "securityResources", "severity",
		"sourceMaterials", "status", "tags", "title", "triggers", "userStates", "vendorInformation", "vulnerabilityStates"}
)

// grPrefixed puts prefix before each path of keys.
func grPrefixed(prefix string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + "." + k
	}
	return out
}

// grEnums checks enum spelling: camelCase wherever the fixture is, and
// camelCase too where the fixture is PascalCase (the incident examples):
// the current service answers camelCase.
func grEnums(t *testing.T, what string, want, got map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		wv, _ := want[k].(string)
		gv, _ := got[k].(string)
		if gv == "" {
			t.Errorf("%s: %s is empty", what, k)
			continue
		}
		if !grCamel(gv) {
			t.Errorf("%s: %s = %q, want camelCase (the fixture has %q)", what, k, gv, wv)
		}
	}
}

func TestGraphFixtureFidelity(t *testing.T) {
	handled := map[string]bool{}
	use := func(names ...string) {
		for _, n := range names {
			handled[n] = true
		}
	}
	g := grStart(t, simulator.Options{})
	world := g.srv.Sim.World()
	// A Defender for Cloud alert with every kind of entity, and an alert of
	// Defender for Endpoint.
	a := world.RaiseDefenderAlert(simulator.AlertSpec{AlertType: "VM_SuspiciousPowerShellCommandLine", IP: "203.0.113.7"})
	mde := g.raise(map[string]any{"serviceSource": "microsoftDefenderForEndpoint", "ip": "198.51.100.23"})
	diff := func(name string, want, got any, opts shapeOpts) {
		t.Helper()
		if d := shapeDiff(want, got, opts); len(d) > 0 {
			t.Errorf("%s: shape differs:\n  %s", name, strings.Join(d, "\n  "))
		}
	}
	alertEnums := []string{"status", "severity", "classification", "determination", "serviceSource", "detectionSource"}

	t.Run("alerts_v2_list", func(t *testing.T) {
		use("alerts_v2_list.json")
		want := fixture[any](t, "graph", "alerts_v2_list.json")
		got := g.list("alerts_v2", "", nil, grPrefer...)
		if len(grValue(got)) != 2 {
			t.Fatalf("alerts: %v", grIDs(got))
		}
		diff("alerts_v2_list.json", want, any(got), grShapeOpts(grExtraContext, grPrefixed("value[]", grExtraEvidence)))
		wa := want.(map[string]any)["value"].([]any)[0].(map[string]any)
		types := map[string]bool{}
		for _, ga := range grValue(got) {
			grEnums(t, "alert "+ga["id"].(string), wa, ga, alertEnums...)
			for _, e := range ga["evidence"].([]any) {
				em := e.(map[string]any)
				types[em["@odata.type"].(string)] = true
				grEnums(t, "evidence", nil, em, "verdict", "remediationStatus")
			}
		}
		for _, typ := range []string{"deviceEvidence", "processEvidence", "userEvidence", "ipEvidence", "azureResourceEvidence"} {
			if !types["#microsoft.graph.security."+typ] {
				t.Errorf("no %s was compared", typ)
			}
		}
	})

	t.Run("alert_v2_update", func(t *testing.T) {
		use("alert_v2_update_request.json", "alert_v2_update_response.json")
		req := fixture[any](t, "graph", "alert_v2_update_request.json").(map[string]any)
		want := fixture[any](t, "graph", "alert_v2_update_response.json")
		for _, id := range []string{a.GraphAlertID, mde} {
			got := g.patch(grSec+"/alerts_v2/"+id, req, http.StatusOK, grPrefer...)
			diff("alert_v2_update_response.json", want, any(got), grShapeOpts(grExtraContext, grExtraEvidence))
			for k, v := range req {
				if got[k] != v {
					t.Errorf("%s: %s = %v, want %v", id, k, got[k], v)
				}
			}
			grEnums(t, "updated alert", want.(map[string]any), got, alertEnums...)
		}
		if d, _ := world.DefenderAlertByName(a.Name); d.Status != simulator.DfCInProgress {
			t.Errorf("the request's status did not reach Defender for Cloud: %s", d.Status)
		}
	})

	inc := world.Incidents()[0]
	incTarget := grSec + "/incidents/" + strconv.Itoa(inc.Number)

	t.Run("incident_comment_create", func(t *testing.T) {
		use("incident_comment_create_request.json", "incident_comment_create_response.json")
		req := fixture[any](t, "graph", "incident_comment_create_request.json")
		want := fixture[any](t, "graph", "incident_comment_create_response.json")
		for range 2 {
			resp, got := g.do("POST", incTarget+"/comments", req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST comment: %d %v", resp.StatusCode, got)
			}
			diff("incident_comment_create_response.json", want, any(got), grShapeOpts())
		}
	})

	t.Run("incident_update", func(t *testing.T) {
		use("incident_update_request.json", "incident_update_response.json")
		req := fixture[any](t, "graph", "incident_update_request.json")
		want := fixture[any](t, "graph", "incident_update_response.json").(map[string]any)
		got := g.patch(incTarget, req, http.StatusOK)
		diff("incident_update_response.json", want, any(got), grShapeOpts(grExtraContext, grExtraIncidentComment))
		if got["classification"] != "truePositive" || got["determination"] != "multiStagedAttack" || fmt.Sprint(got["customTags"]) != "[Demo]" {
			t.Errorf("PATCH with the doc's PascalCase body: %v", got)
		}
		grEnums(t, "updated incident", want, got, "status", "severity", "classification", "determination")
	})

	t.Run("incidents_list", func(t *testing.T) {
		use("incidents_list.json")
		want := fixture[any](t, "graph", "incidents_list.json")
		got := g.list("incidents", "", nil)
		diff("incidents_list.json", want, any(got), grShapeOpts(grExtraContext, grPrefixed("value[]", grExtraIncidentComment)))
		wi := want.(map[string]any)["value"].([]any)[0].(map[string]any)
		for _, gi := range grValue(got) {
			grEnums(t, "incident "+gi["id"].(string), wi, gi, "status", "severity", "classification", "determination")
		}
		// The fixture spells them PascalCase, as the doc's example does.
		if grCamel(wi["status"].(string)) {
			t.Errorf("incidents_list.json changed: status %v", wi["status"])
		}
	})

	t.Run("legacy_alerts_list", func(t *testing.T) {
		use("legacy_alerts_list.json")
		want := fixture[any](t, "graph", "legacy_alerts_list.json")
		got := g.list("alerts", "vendorInformation/provider eq 'ASC'", nil)
		if len(grValue(got)) != 1 {
			t.Fatalf("ASC alerts: %v", grIDs(got))
		}
		diff("legacy_alerts_list.json", want, any(got), grShapeOpts(grExtraContext, grPrefixed("value[]", grLegacyProps)))
	})

	t.Run("legacy_alert_update_request", func(t *testing.T) {
		use("legacy_alert_update_request.json")
		// The doc's body is a template: its values are type names. Each is
		// replaced by a value of that type; the keys are the doc's.
		tmpl := fixture[any](t, "graph", "legacy_alert_update_request.json").(map[string]any)
		values := map[string]any{
			"assignedTo": "analyst@contoso.com", "closedDateTime": "2025-03-01T10:00:00Z", "comments": []string{"Closed in MCAS"},
			"feedback": "truePositive", "status": "resolved", "tags": []string{"HVA"},
			"vendorInformation": map[string]any{"provider": "ASC", "vendor": "Microsoft"},
		}
		body := map[string]any{}
		for k := range tmpl {
			v, ok := values[k]
			if !ok {
				t.Fatalf("no value for the template's %q", k)
			}
			body[k] = v
		}
		g.patch(grSec+"/alerts/"+a.Name, body, http.StatusNoContent)
		la := g.get(grSec + "/alerts/" + a.Name)
		if la["status"] != "resolved" || la["closedDateTime"] != "2025-03-01T10:00:00.0000000Z" || fmt.Sprint(la["comments"]) != "[Closed in MCAS]" {
			t.Errorf("after the doc's PATCH: %v", la)
		}
		delete(body, "vendorInformation")
		resp, m := g.do("PATCH", grSec+"/alerts/"+a.Name, body)
		grExpectError(t, "the doc's body without vendorInformation", resp, m, http.StatusBadRequest, "BadRequest")
	})

	t.Run("error_response", func(t *testing.T) {
		use("error_response.json")
		want := fixture[any](t, "graph", "error_response.json")
		resp, got := g.do("GET", grSec+"/alerts_v2?$filter="+url.QueryEscape("nope eq 'x'"), nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad filter: %d", resp.StatusCode)
		}
		// Graph sends client-request-id in innerError too.
		diff("error_response.json", want, any(got), grShapeOpts([]string{"error.innerError.client-request-id"}))
	})

	t.Run("throttled_429_response", func(t *testing.T) {
		use("throttled_429_response.json")
		// TestGraphThrottling compares the 429 body with this fixture.
	})

	entries, err := os.ReadDir(filepath.Join("testdata", "graph"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !handled[e.Name()] {
			t.Errorf("fixture %s is not checked", e.Name())
		}
	}
}

// TestGraphConcurrent runs Graph reads and writes while the world changes
// underneath, for the race detector and for deadlocks between the Graph
// layer and the world's lock.
func TestGraphConcurrent(t *testing.T) {
	g := grStart(t, simulator.Options{Preload: 4, GraphBudget: 10000})
	world := g.srv.Sim.World()
	sc := g.srv.Sim.NewScenario()
	done := make(chan struct{})
	errs := make(chan string, 100)
	go func() {
		defer close(done)
		for range 40 {
			sc.Step()
		}
	}()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				incs := world.Incidents()
				inc := incs[(i+j)%len(incs)]
				status := []string{"active", "inProgress", "resolved"}[(i+j)%3]
				if resp, m := g.do("PATCH", grSec+"/incidents/"+strconv.Itoa(inc.Number), map[string]any{"status": status, "classification": "truePositive"}); resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("PATCH incident: %d %v", resp.StatusCode, m)
				}
				as := world.DefenderAlerts()
				a := as[(i*7+j)%len(as)]
				if resp, m := g.do("PATCH", grSec+"/alerts_v2/"+a.GraphAlertID, map[string]any{"status": "inProgress"}); resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("PATCH alert: %d %v", resp.StatusCode, m)
				}
				if resp, m := g.do("GET", grSec+"/incidents?$expand=alerts&$top=5", nil); resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("GET incidents: %d %v", resp.StatusCode, m)
				}
			}
		}()
	}
	wg.Wait()
	<-done
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
