package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// senClients are armsecurityinsights' clients pointed at the simulator.
type senClients struct {
	inc       *armsecurityinsights.IncidentsClient
	comments  *armsecurityinsights.IncidentCommentsClient
	relations *armsecurityinsights.IncidentRelationsClient
	tasks     *armsecurityinsights.IncidentTasksClient
	rg, ws    string
}

func senNewClients(t *testing.T, srv *simulator.Server) senClients {
	t.Helper()
	cred := credential(t, srv, srv.Info.ClientSecret)
	opts := armOptions(srv)
	c := senClients{rg: srv.Info.ResourceGroup, ws: srv.Info.Workspace}
	var err error
	if c.inc, err = armsecurityinsights.NewIncidentsClient(srv.Info.SubscriptionID, cred, opts); err != nil {
		t.Fatal(err)
	}
	if c.comments, err = armsecurityinsights.NewIncidentCommentsClient(srv.Info.SubscriptionID, cred, opts); err != nil {
		t.Fatal(err)
	}
	if c.relations, err = armsecurityinsights.NewIncidentRelationsClient(srv.Info.SubscriptionID, cred, opts); err != nil {
		t.Fatal(err)
	}
	if c.tasks, err = armsecurityinsights.NewIncidentTasksClient(srv.Info.SubscriptionID, cred, opts); err != nil {
		t.Fatal(err)
	}
	return c
}

// list follows every nextLink and reports the items and the page sizes.
func (c senClients) list(t *testing.T, opts *armsecurityinsights.IncidentsClientListOptions) ([]*armsecurityinsights.Incident, []int) {
	t.Helper()
	var items []*armsecurityinsights.Incident
	var pages []int
	p := c.inc.NewListPager(c.rg, c.ws, opts)
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list incidents (%+v): %v", opts, err)
		}
		items = append(items, page.Value...)
		pages = append(pages, len(page.Value))
	}
	return items, pages
}

func senWorkspaceID(srv *simulator.Server) string {
	return "/subscriptions/" + srv.Info.SubscriptionID + "/resourceGroups/" + srv.Info.ResourceGroup +
		"/providers/Microsoft.OperationalInsights/workspaces/" + srv.Info.Workspace
}

// senPath is a Microsoft.SecurityInsights path of the simulated workspace.
func senPath(srv *simulator.Server, suffix string) string {
	return senWorkspaceID(srv) + "/providers/Microsoft.SecurityInsights" + suffix
}

func senErrCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// senDefenderAlertOf finds the Defender for Cloud alert behind an incident.
func senDefenderAlertOf(t *testing.T, srv *simulator.Server, incident string) simulator.DefenderAlert {
	t.Helper()
	for _, a := range srv.Sim.World().DefenderAlerts() {
		if a.IncidentName == incident {
			return a
		}
	}
	t.Fatalf("no Defender alert for incident %s", incident)
	return simulator.DefenderAlert{}
}

func TestSentinelIncidentsSDK(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	srv := start(t, simulator.Options{Preload: 60, Clock: clk})
	c := senNewClients(t, srv)
	ctx := context.Background()

	// Every incident, across pages of 50 linked by nextLink.
	items, pages := c.list(t, nil)
	if len(items) != 60 || !slices.Equal(pages, []int{50, 10}) {
		t.Fatalf("list: %d incidents in pages %v, want 60 in [50 10]", len(items), pages)
	}
	seen := map[int32]bool{}
	for _, inc := range items {
		p := inc.Properties
		if p == nil || p.IncidentNumber == nil || seen[*p.IncidentNumber] || *p.Status != armsecurityinsights.IncidentStatusNew ||
			inc.Etag == nil || p.AdditionalData == nil || *p.AdditionalData.AlertsCount != 1 || p.CreatedTimeUTC == nil || !p.CreatedTimeUTC.Equal(t0) {
			t.Fatalf("incident %+v", inc)
		}
		seen[*p.IncidentNumber] = true
	}

	// Get, then PUT with the current etag.
	a := *items[0].Name
	got, err := c.inc.Get(ctx, c.rg, c.ws, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	upd := got.Incident
	upd.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
	upd.Properties.Owner = &armsecurityinsights.IncidentOwnerInfo{ObjectID: to.Ptr("6b1b8b5e-2f1a-4c35-9a3e-6f0f3f5c2a11"),
		Email: to.Ptr("analyst@contoso.com"), AssignedTo: to.Ptr("SOC Analyst"), UserPrincipalName: to.Ptr("analyst@contoso.com")}
	put, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, a, upd, nil)
	if err != nil {
		t.Fatalf("PUT with the current etag: %v", err)
	}
	if *put.Etag == *got.Etag || *put.Properties.Status != armsecurityinsights.IncidentStatusActive ||
		*put.Properties.Owner.AssignedTo != "SOC Analyst" || !put.Properties.LastModifiedTimeUTC.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("PUT answered %+v", put.Properties)
	}
	// The same PUT again carries a stale etag now.
	_, err = c.inc.CreateOrUpdate(ctx, c.rg, c.ws, a, upd, nil)
	expectRespErr(t, err, http.StatusConflict, "Conflict")

	clk.Advance(10 * time.Minute)
	for _, inc := range items[1:3] {
		cur, err := c.inc.Get(ctx, c.rg, c.ws, *inc.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		cur.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
		if _, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, *inc.Name, cur.Incident, nil); err != nil {
			t.Fatal(err)
		}
	}

	// $filter.
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{"properties/status eq 'New'", 57},
		{"properties/status ne 'New'", 3},
		{"properties/status eq 'Active' and properties/lastModifiedTimeUtc gt 2025-06-01T10:15:00Z", 2},
		{"properties/status eq 'New' or properties/status eq 'Active'", 60},
		{"(properties/status eq 'Closed' or properties/status eq 'Active') and properties/lastModifiedTimeUtc le 2025-06-01T10:10:00.0000000Z", 1},
		{"properties/lastModifiedTimeUtc lt 2025-06-01T10:05:00Z", 57},
		{"properties/lastModifiedTimeUtc ge 2025-06-01T10:10:00Z", 3},
		{"properties/status eq 'Closed'", 0},
	} {
		got, _ := c.list(t, &armsecurityinsights.IncidentsClientListOptions{Filter: to.Ptr(tc.filter)})
		if len(got) != tc.want {
			t.Errorf("$filter=%s: %d incidents, want %d", tc.filter, len(got), tc.want)
		}
	}

	// $orderby and $top: the most recently modified first, 5 a page.
	got2, pages := c.list(t, &armsecurityinsights.IncidentsClientListOptions{Orderby: to.Ptr("properties/lastModifiedTimeUtc desc"), Top: to.Ptr[int32](5)})
	if len(got2) != 60 || len(pages) != 12 || pages[0] != 5 {
		t.Fatalf("$top=5: %d incidents in pages %v", len(got2), pages)
	}
	if n := []string{*got2[0].Name, *got2[1].Name}; !slices.Contains(n, *items[1].Name) || !slices.Contains(n, *items[2].Name) || *got2[2].Name != a {
		t.Errorf("$orderby lastModifiedTimeUtc desc starts %v, %s", n, *got2[2].Name)
	}
	got3, _ := c.list(t, &armsecurityinsights.IncidentsClientListOptions{Orderby: to.Ptr("properties/incidentNumber desc")})
	for i, inc := range got3 {
		if int(*inc.Properties.IncidentNumber) != 60-i {
			t.Fatalf("$orderby incidentNumber desc: #%d is %d", i, *inc.Properties.IncidentNumber)
		}
	}
	got4, _ := c.list(t, &armsecurityinsights.IncidentsClientListOptions{Orderby: to.Ptr("properties/createdTimeUtc")})
	if len(got4) != 60 || *got4[0].Properties.IncidentNumber != 1 {
		t.Errorf("$orderby createdTimeUtc starts with #%d", *got4[0].Properties.IncidentNumber)
	}

	// The incident's alerts, as SecurityAlert entities.
	b := *items[3].Name
	dfc := senDefenderAlertOf(t, srv, b)
	alerts, err := c.inc.ListAlerts(ctx, c.rg, c.ws, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts.Value) != 1 {
		t.Fatalf("ListAlerts: %d alerts", len(alerts.Value))
	}
	sa := alerts.Value[0]
	if *sa.Kind != armsecurityinsights.EntityKindEnumSecurityAlert || *sa.Properties.SystemAlertID != dfc.SentinelAlertID ||
		*sa.Properties.ProviderAlertID != dfc.Name || *sa.Properties.Status != armsecurityinsights.AlertStatusNew ||
		*sa.Properties.ProductName != "Azure Security Center" || *sa.Properties.AlertDisplayName != dfc.DisplayName {
		t.Errorf("alert %+v", sa.Properties)
	}

	// Delete: 200, then 204 for one that is gone.
	last := *items[59].Name
	if _, err := c.inc.Delete(ctx, c.rg, c.ws, last, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.inc.Get(ctx, c.rg, c.ws, last, nil)
	expectRespErr(t, err, http.StatusNotFound, "NotFound")
	if _, err := c.inc.Delete(ctx, c.rg, c.ws, last, nil); err != nil {
		t.Fatal(err)
	}
	if all, _ := c.list(t, nil); len(all) != 59 {
		t.Errorf("after delete: %d incidents", len(all))
	}

	// A PUT without etag creates (201) an incident that does not exist.
	created, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, "3f1c4a2e-8b7d-4e6f-9a1b-2c3d4e5f6a7b", armsecurityinsights.Incident{
		Properties: &armsecurityinsights.IncidentProperties{Title: to.Ptr("Manual incident"), Severity: to.Ptr(armsecurityinsights.IncidentSeverityLow),
			Status: to.Ptr(armsecurityinsights.IncidentStatusNew), Labels: []*armsecurityinsights.IncidentLabel{{LabelName: to.Ptr("manual")}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *created.Properties.IncidentNumber != 61 || *created.Properties.Labels[0].LabelType != armsecurityinsights.IncidentLabelTypeUser ||
		*created.Properties.ProviderName != "Azure Sentinel" {
		t.Errorf("created %+v", created.Properties)
	}
}

func TestSentinelChildrenSDK(t *testing.T) {
	srv := start(t, simulator.Options{Preload: 2})
	c := senNewClients(t, srv)
	ctx := context.Background()
	incs := srv.Sim.World().Incidents()
	inc := incs[0].Name

	// Comments.
	cm, err := c.comments.CreateOrUpdate(ctx, c.rg, c.ws, inc, "4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014",
		armsecurityinsights.IncidentComment{Properties: &armsecurityinsights.IncidentCommentProperties{Message: to.Ptr("Investigating")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *cm.Properties.Message != "Investigating" || cm.Etag == nil || *cm.Properties.Author.ObjectID != srv.Info.ClientID ||
		*cm.Type != "Microsoft.SecurityInsights/incidents/comments" {
		t.Fatalf("comment %+v", cm)
	}
	cm2, err := c.comments.CreateOrUpdate(ctx, c.rg, c.ws, inc, *cm.Name,
		armsecurityinsights.IncidentComment{Etag: cm.Etag, Properties: &armsecurityinsights.IncidentCommentProperties{Message: to.Ptr("Contained")}}, nil)
	if err != nil || *cm2.Properties.Message != "Contained" || *cm2.Etag == *cm.Etag {
		t.Fatalf("update comment: %v %+v", err, cm2)
	}
	_, err = c.comments.CreateOrUpdate(ctx, c.rg, c.ws, inc, *cm.Name,
		armsecurityinsights.IncidentComment{Etag: cm.Etag, Properties: &armsecurityinsights.IncidentCommentProperties{Message: to.Ptr("stale")}}, nil)
	expectRespErr(t, err, http.StatusConflict, "Conflict")
	if g, err := c.comments.Get(ctx, c.rg, c.ws, inc, *cm.Name, nil); err != nil || *g.Properties.Message != "Contained" {
		t.Fatalf("get comment: %v", err)
	}
	if g, _ := c.inc.Get(ctx, c.rg, c.ws, inc, nil); *g.Properties.AdditionalData.CommentsCount != 1 {
		t.Errorf("commentsCount = %d", *g.Properties.AdditionalData.CommentsCount)
	}
	var n int
	for p := c.comments.NewListPager(c.rg, c.ws, inc, nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 1 {
		t.Errorf("comments list: %d", n)
	}
	if _, err := c.comments.Delete(ctx, c.rg, c.ws, inc, *cm.Name, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.comments.Get(ctx, c.rg, c.ws, inc, *cm.Name, nil)
	expectRespErr(t, err, http.StatusNotFound, "NotFound")

	// Relations: a bookmark, and the incident's alert as an entity.
	bookmark := senPath(srv, "/bookmarks/2216d0e1-91e3-4902-89fd-d2df8c535096")
	rel, err := c.relations.CreateOrUpdate(ctx, c.rg, c.ws, inc, "r1",
		armsecurityinsights.Relation{Properties: &armsecurityinsights.RelationProperties{RelatedResourceID: &bookmark}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *rel.Properties.RelatedResourceType != "Microsoft.SecurityInsights/bookmarks" || *rel.Properties.RelatedResourceName != "2216d0e1-91e3-4902-89fd-d2df8c535096" {
		t.Fatalf("relation %+v", rel.Properties)
	}
	listRelations := func() []*armsecurityinsights.Relation {
		var out []*armsecurityinsights.Relation
		for p := c.relations.NewListPager(c.rg, c.ws, inc, nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Value...)
		}
		return out
	}
	rels := listRelations()
	if len(rels) != 2 || rels[1].Properties.RelatedResourceKind == nil || *rels[1].Properties.RelatedResourceKind != "SecurityAlert" ||
		*rels[1].Properties.RelatedResourceName != incs[0].AlertIDs[0] {
		t.Fatalf("relations: %d", len(rels))
	}
	// Relating the other incident's alert adds it to this incident.
	other := senPath(srv, "/entities/"+incs[1].AlertIDs[0])
	if _, err := c.relations.CreateOrUpdate(ctx, c.rg, c.ws, inc, "r2",
		armsecurityinsights.Relation{Properties: &armsecurityinsights.RelationProperties{RelatedResourceID: &other}}, nil); err != nil {
		t.Fatal(err)
	}
	alerts, err := c.inc.ListAlerts(ctx, c.rg, c.ws, inc, nil)
	if err != nil || len(alerts.Value) != 2 {
		t.Fatalf("alerts after relating: %v %d", err, len(alerts.Value))
	}
	g, _ := c.inc.Get(ctx, c.rg, c.ws, inc, nil)
	if *g.Properties.AdditionalData.AlertsCount != 2 || *g.Properties.AdditionalData.BookmarksCount != 1 {
		t.Errorf("additionalData %+v", g.Properties.AdditionalData)
	}
	if _, err := c.relations.Delete(ctx, c.rg, c.ws, inc, "r2", nil); err != nil {
		t.Fatal(err)
	}
	if alerts, _ := c.inc.ListAlerts(ctx, c.rg, c.ws, inc, nil); len(alerts.Value) != 1 {
		t.Errorf("alerts after unrelating: %d", len(alerts.Value))
	}
	if r, err := c.relations.Get(ctx, c.rg, c.ws, inc, "r1", nil); err != nil || *r.Properties.RelatedResourceID != bookmark {
		t.Errorf("get relation: %v", err)
	}
	foreign := strings.Replace(bookmark, srv.Info.Workspace, "other-workspace", 1)
	_, err = c.relations.CreateOrUpdate(ctx, c.rg, c.ws, inc, "r3",
		armsecurityinsights.Relation{Properties: &armsecurityinsights.RelationProperties{RelatedResourceID: &foreign}}, nil)
	expectRespErr(t, err, http.StatusBadRequest, "BadRequest")

	// Tasks.
	tk, err := c.tasks.CreateOrUpdate(ctx, c.rg, c.ws, inc, "t1", armsecurityinsights.IncidentTask{Properties: &armsecurityinsights.IncidentTaskProperties{
		Title: to.Ptr("Isolate the host"), Description: to.Ptr("Use Defender for Endpoint"), Status: to.Ptr(armsecurityinsights.IncidentTaskStatusNew)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*tk.Etag, `"`) || *tk.Properties.CreatedBy.ObjectID != srv.Info.ClientID {
		t.Fatalf("task %+v", tk)
	}
	tk.Properties.Status = to.Ptr(armsecurityinsights.IncidentTaskStatusCompleted)
	tk2, err := c.tasks.CreateOrUpdate(ctx, c.rg, c.ws, inc, "t1", tk.IncidentTask, nil)
	if err != nil || *tk2.Properties.Status != armsecurityinsights.IncidentTaskStatusCompleted {
		t.Fatalf("complete task: %v", err)
	}
	_, err = c.tasks.CreateOrUpdate(ctx, c.rg, c.ws, inc, "t1", tk.IncidentTask, nil)
	expectRespErr(t, err, http.StatusConflict, "Conflict")
	var tasks int
	for p := c.tasks.NewListPager(c.rg, c.ws, inc, nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tasks += len(page.Value)
	}
	if tasks != 1 {
		t.Errorf("tasks: %d", tasks)
	}
	if _, err := c.tasks.Delete(ctx, c.rg, c.ws, inc, "t1", nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.tasks.Get(ctx, c.rg, c.ws, inc, "t1", nil)
	expectRespErr(t, err, http.StatusNotFound, "NotFound")
}

func TestSentinelErrors(t *testing.T) {
	srv := start(t, simulator.Options{Preload: 1})
	tok := accessToken(t, srv, armScope)
	inc := srv.Sim.World().Incidents()[0]
	list := senPath(srv, "/incidents")
	for _, tc := range []struct {
		name, method, path string
		body               string
		status             int
		code               string
	}{
		{"missing api-version", "GET", list, "", 400, "MissingApiVersionParameter"},
		{"unknown api-version", "GET", list + "?api-version=2019-01-01-preview", "", 400, "NoRegisteredProviderFound"},
		{"other subscription", "GET", strings.Replace(list, srv.Info.SubscriptionID, "00000000-0000-0000-0000-000000000001", 1) + "?api-version=2025-07-01-preview", "", 404, "SubscriptionNotFound"},
		{"other resource group", "GET", strings.Replace(list, "/resourceGroups/"+srv.Info.ResourceGroup, "/resourceGroups/other-rg", 1) + "?api-version=2025-07-01-preview", "", 404, "ResourceGroupNotFound"},
		{"other workspace", "GET", strings.Replace(list, "/workspaces/"+srv.Info.Workspace, "/workspaces/other-ws", 1) + "?api-version=2025-07-01-preview", "", 404, "ResourceNotFound"},
		{"unknown incident", "GET", list + "/8d1e1cd0-0000-4000-8000-000000000000?api-version=2025-09-01", "", 404, "NotFound"},
		{"bad filter", "GET", list + "?api-version=2025-09-01&%24filter=" + url.QueryEscape("properties/status eq"), "", 400, "BadRequest"},
		{"bad orderby", "GET", list + "?api-version=2025-09-01&%24orderby=" + url.QueryEscape("properties/nope desc"), "", 400, "BadRequest"},
		{"close without classification", "PUT", list + "/" + inc.Name + "?api-version=2025-09-01",
			`{"properties":{"title":"t","severity":"High","status":"Closed"}}`, 400, "BadRequest"},
		{"missing title", "PUT", list + "/" + inc.Name + "?api-version=2025-09-01", `{"properties":{"severity":"High","status":"Active"}}`, 400, "BadRequest"},
		{"unknown severity", "PUT", list + "/" + inc.Name + "?api-version=2025-09-01", `{"properties":{"title":"t","severity":"Severe","status":"Active"}}`, 400, "BadRequest"},
		{"stale etag", "PUT", list + "/" + inc.Name + "?api-version=2025-09-01",
			`{"etag":"\"00000000-0000-0000-0000-000000000000\"","properties":{"title":"t","severity":"High","status":"Active"}}`, 409, "Conflict"},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		resp, v := sendJSON(t, srv, tc.method, tc.path, tok, body)
		if status := resp.StatusCode; status != tc.status || senErrCode(v) != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, v, tc.status, tc.code)
		}
		if msg, _ := v["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: no error message in %v", tc.name, v)
		}
	}
	// Without a token, ARM's 401.
	if resp, v := sendJSON(t, srv, "GET", list+"?api-version=2025-09-01", "", nil); resp.StatusCode != 401 || senErrCode(v) != "AuthenticationFailed" {
		t.Errorf("no token: %d %v", resp.StatusCode, v)
	}
	// Nothing was changed by the refused writes.
	if got, _ := srv.Sim.World().IncidentByName(inc.Name); got.ETag != inc.ETag || got.Status != simulator.IncidentNew {
		t.Errorf("refused writes changed the incident: %+v", got)
	}
}

func TestSentinelPortalEditFault(t *testing.T) {
	srv := start(t, simulator.Options{Preload: 1})
	c := senNewClients(t, srv)
	ctx := context.Background()
	name := srv.Sim.World().Incidents()[0].Name
	srv.Sim.Inject(simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: simulator.FaultPortalEdit, Times: 1})

	cur, err := c.inc.Get(ctx, c.rg, c.ws, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
	_, err = c.inc.CreateOrUpdate(ctx, c.rg, c.ws, name, cur.Incident, nil)
	expectRespErr(t, err, http.StatusConflict, "Conflict")

	// The portal user's edit is there; a write with the new etag succeeds.
	cur, err = c.inc.Get(ctx, c.rg, c.ws, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Properties.Labels) != 1 || *cur.Properties.Labels[0].LabelName != "edited-in-portal" || *cur.Properties.Status != armsecurityinsights.IncidentStatusNew {
		t.Fatalf("after the portal edit: %+v", cur.Properties)
	}
	cur.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
	if _, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, name, cur.Incident, nil); err != nil {
		t.Fatalf("retry with a fresh etag: %v", err)
	}
	if h := srv.Sim.Hits("sentinel.incidents.put"); h != 2 {
		t.Errorf("hits = %d", h)
	}
}

// Closing an incident through the API resolves its Sentinel alert and the
// Defender for Cloud alert behind it.
func TestSentinelCloseResolvesAlerts(t *testing.T) {
	srv := start(t, simulator.Options{})
	c := senNewClients(t, srv)
	ctx := context.Background()
	a := srv.Sim.World().RaiseDefenderAlert(simulator.AlertSpec{AlertType: "VM_RDPBruteForce"})

	cur, err := c.inc.Get(ctx, c.rg, c.ws, a.IncidentName, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Setting it Active changes nothing else.
	cur.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
	put, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, a.IncidentName, cur.Incident, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := srv.Sim.World().DefenderAlertByName(a.Name); d.Status != simulator.DfCActive {
		t.Errorf("after Active: Defender alert %s", d.Status)
	}
	cur.Incident = put.Incident
	cur.Properties.Status = to.Ptr(armsecurityinsights.IncidentStatusClosed)
	cur.Properties.Classification = to.Ptr(armsecurityinsights.IncidentClassificationTruePositive)
	cur.Properties.ClassificationComment = to.Ptr("Confirmed brute force; host isolated.")
	closed, err := c.inc.CreateOrUpdate(ctx, c.rg, c.ws, a.IncidentName, cur.Incident, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *closed.Properties.Status != armsecurityinsights.IncidentStatusClosed || *closed.Properties.Classification != armsecurityinsights.IncidentClassificationTruePositive {
		t.Fatalf("closed %+v", closed.Properties)
	}
	if sa, _ := srv.Sim.World().SentinelAlertByID(a.SentinelAlertID); sa.Status != simulator.SentinelAlertResolved {
		t.Errorf("Sentinel alert %s, want Resolved", sa.Status)
	}
	if d, _ := srv.Sim.World().DefenderAlertByName(a.Name); d.Status != simulator.DfCResolved {
		t.Errorf("Defender alert %s, want Resolved", d.Status)
	}
	alerts, err := c.inc.ListAlerts(ctx, c.rg, c.ws, a.IncidentName, nil)
	if err != nil || *alerts.Value[0].Properties.Status != armsecurityinsights.AlertStatusResolved {
		t.Errorf("ListAlerts after close: %v", err)
	}
}

// Fixture fidelity: every official example request is accepted, and the
// answer has the example's property names, nesting and enum spellings.

type senFixture struct {
	Parameters map[string]any `json:"parameters"`
	Responses  map[string]struct {
		Body any `json:"body"`
	} `json:"responses"`
}

const senFixtureWorkspace = "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace"

// senEnumSets are the spelling sets of the enums, from Microsoft's SDK,
// by property path (arrays as []).
var senEnumSets = func() map[string]map[string][]string {
	str := func(vs ...[]string) []string { return slices.Concat(vs...) }
	conv := func(vs any) []string {
		b, _ := json.Marshal(vs)
		var out []string
		json.Unmarshal(b, &out)
		return out
	}
	incident := map[string][]string{
		"type":                                          {"Microsoft.SecurityInsights/incidents"},
		"properties.severity":                           conv(armsecurityinsights.PossibleIncidentSeverityValues()),
		"properties.status":                             conv(armsecurityinsights.PossibleIncidentStatusValues()),
		"properties.classification":                     conv(armsecurityinsights.PossibleIncidentClassificationValues()),
		"properties.classificationReason":               conv(armsecurityinsights.PossibleIncidentClassificationReasonValues()),
		"properties.owner.ownerType":                    conv(armsecurityinsights.PossibleOwnerTypeValues()),
		"properties.labels[].labelType":                 conv(armsecurityinsights.PossibleIncidentLabelTypeValues()),
		"properties.additionalData.tactics[]":           conv(armsecurityinsights.PossibleAttackTacticValues()),
		"properties.additionalData.alertProductNames[]": str([]string{"Azure Security Center", "Azure Sentinel", "Microsoft Defender for Cloud"}),
	}
	return map[string]map[string][]string{
		"incident": incident,
		"alert": {
			"type":                       {"Microsoft.SecurityInsights/Entities"},
			"kind":                       conv(armsecurityinsights.PossibleEntityKindEnumValues()),
			"properties.severity":        conv(armsecurityinsights.PossibleAlertSeverityValues()),
			"properties.status":          conv(armsecurityinsights.PossibleAlertStatusValues()),
			"properties.confidenceLevel": conv(armsecurityinsights.PossibleConfidenceLevelValues()),
			"properties.tactics[]":       conv(armsecurityinsights.PossibleAttackTacticValues()),
		},
		"comment": {"type": {"Microsoft.SecurityInsights/incidents/comments"}},
		"relation": {
			"type":                           {"Microsoft.SecurityInsights/incidents/relations"},
			"properties.relatedResourceType": {"Microsoft.SecurityInsights/bookmarks", "Microsoft.SecurityInsights/entities"},
			"properties.relatedResourceKind": conv(armsecurityinsights.PossibleEntityKindEnumValues()),
		},
		"task": {
			"type":              {"Microsoft.SecurityInsights/incidents/tasks"},
			"properties.status": conv(armsecurityinsights.PossibleIncidentTaskStatusValues()),
		},
	}
}()

// senShapeOpts compare the shape of got with want: the same property
// names, recursively, ignoring values. Arrays compare the union of their
// elements' shapes; a null on either side matches anything. AllowPaths
// lists the properties the simulator returns beyond an example: each is
// in the official schema (the example just leaves it out).
var senShapeOpts = shapeOpts{NullMatches: true, Scalars: scalarNotContainer, Arrays: arrayUnion, AllowPaths: []string{
	// SecurityAlertProperties.providerAlertId (EntityTypes.json): the
	// Defender for Cloud alert name, which links the two services.
	"properties.providerAlertId",
}}

// senCheckEnums checks every enum value in v against its spelling set.
func senCheckEnums(t *testing.T, label, path string, v any, sets map[string][]string) {
	t.Helper()
	at := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			senCheckEnums(t, label, at(k), e, sets)
		}
	case []any:
		for _, e := range x {
			senCheckEnums(t, label, path+"[]", e, sets)
		}
	case string:
		if set, ok := sets[path]; ok && !slices.Contains(set, x) {
			t.Errorf("%s: %s = %q, not one of %v", label, path, x, set)
		}
	}
}

// senCompare checks a simulator answer against the example's body, for a
// single resource or a list ({"value": [...]}).
func senCompare(t *testing.T, label, kind string, want, got any) {
	t.Helper()
	wm, _ := want.(map[string]any)
	gm, _ := got.(map[string]any)
	if wm == nil || gm == nil {
		t.Fatalf("%s: example %T, simulator %T", label, want, got)
	}
	wantItems, gotItems := []any{wm}, []any{gm}
	if wv, ok := wm["value"].([]any); ok {
		gv, ok := gm["value"].([]any)
		if !ok || len(gv) == 0 {
			t.Fatalf("%s: simulator list is empty: %v", label, got)
		}
		wantItems, gotItems = wv, gv
		for k := range gm {
			if k != "value" && k != "nextLink" {
				t.Errorf("%s: extra list property %s", label, k)
			}
		}
	}
	if d := shapeDiff(shapeMerge(wantItems), shapeMerge(gotItems), senShapeOpts); len(d) > 0 {
		t.Errorf("%s: shape differs from the example:\n  %s", label, strings.Join(d, "\n  "))
	}
	for _, e := range wantItems {
		senCheckEnums(t, label+" (example)", "", e, senEnumSets[kind])
	}
	for _, e := range gotItems {
		senCheckEnums(t, label, "", e, senEnumSets[kind])
	}
}

func TestSentinelFixtures(t *testing.T) {
	srv := start(t, simulator.Options{Preload: 2})
	tok := accessToken(t, srv, armScope)
	w := srv.Sim.World()

	files := fixtureFiles(t, "sentinel")
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/sentinel")
	}
	fixtures := map[string]senFixture{}
	for _, f := range files {
		fixtures[f] = fixture[senFixture](t, "sentinel", f)
	}
	param := func(fx senFixture, k string) string {
		v, ok := fx.Parameters[k]
		if !ok {
			t.Fatalf("fixture has no parameter %s", k)
		}
		return fmt.Sprint(v)
	}
	// body maps the example's request body onto the simulated workspace.
	body := func(fx senFixture, k string, edit func(map[string]any)) []byte {
		m, ok := fx.Parameters[k].(map[string]any)
		if !ok {
			t.Fatalf("fixture has no body parameter %s", k)
		}
		b, _ := json.Marshal(m)
		b = bytes.ReplaceAll(b, []byte(senFixtureWorkspace), []byte(senWorkspaceID(srv)))
		if edit != nil {
			var mm map[string]any
			json.Unmarshal(b, &mm)
			edit(mm)
			b, _ = json.Marshal(mm)
		}
		return b
	}
	// do sends the example request: its path parameters name the simulated
	// subscription, resource group and workspace.
	do := func(fx senFixture, method, suffix string, query url.Values, b []byte) (int, map[string]any) {
		if query == nil {
			query = url.Values{}
		}
		query.Set("api-version", param(fx, "api-version"))
		resp, v := sendJSON(t, srv, method, senPath(srv, suffix)+"?"+query.Encode(), tok, b)
		return resp.StatusCode, v
	}
	expect := func(label string, fx senFixture, status int, got map[string]any, code int, kind string) {
		t.Helper()
		if status != code {
			t.Fatalf("%s: %d %v, want %d", label, status, got, code)
		}
		resp, ok := fx.Responses[fmt.Sprint(code)]
		if !ok {
			t.Fatalf("%s: the example has no %d response", label, code)
		}
		senCompare(t, label, kind, resp.Body, got)
	}

	steps := []struct {
		file string
		run  func(label string, fx senFixture)
	}{
		{"incident_create_or_update.json", func(label string, fx senFixture) {
			id := param(fx, "incidentId")
			// The example's etag belongs to its own service's state: create
			// the incident (201) without it, then PUT with the current one.
			st, v := do(fx, "PUT", "/incidents/"+id, nil, body(fx, "incident", func(m map[string]any) { delete(m, "etag") }))
			expect(label+" (create)", fx, st, v, 201, "incident")
			st, v = do(fx, "PUT", "/incidents/"+id, nil, body(fx, "incident", func(m map[string]any) { m["etag"] = v["etag"] }))
			expect(label, fx, st, v, 200, "incident")
			if inc, _ := w.IncidentByName(id); inc.Status != "Closed" || inc.ClassificationReason != "IncorrectAlertLogic" || inc.Owner.ObjectID != "2046feea-040d-4a46-9e2b-91c2941bfa70" {
				t.Errorf("%s: incident %+v", label, inc)
			}
		}},
		{"incident_get.json", func(label string, fx senFixture) {
			st, v := do(fx, "GET", "/incidents/"+param(fx, "incidentId"), nil, nil)
			expect(label, fx, st, v, 200, "incident")
		}},
		{"incidents_list.json", func(label string, fx senFixture) {
			st, v := do(fx, "GET", "/incidents", url.Values{"$orderby": {param(fx, "$orderby")}, "$top": {param(fx, "$top")}}, nil)
			expect(label, fx, st, v, 200, "incident")
			if vals, _ := v["value"].([]any); len(vals) != 1 || v["nextLink"] == nil {
				t.Errorf("%s: $top=1 gave %d incidents, nextLink %v", label, len(vals), v["nextLink"])
			}
		}},
		{"incident_alerts_list.json", func(label string, fx senFixture) {
			id := param(fx, "incidentId")
			st, v := do(fx, "PUT", "/incidents/"+id, nil, []byte(`{"properties":{"title":"Related alerts","severity":"Medium","status":"Active"}}`))
			if st != 201 {
				t.Fatalf("%s: create incident: %d %v", label, st, v)
			}
			if err := w.RelateAlert(id, w.Incidents()[0].AlertIDs[0]); err != nil {
				t.Fatal(err)
			}
			st, v = do(fx, "POST", "/incidents/"+id+"/alerts", nil, nil)
			expect(label, fx, st, v, 200, "alert")
		}},
		{"incident_comment_create.json", func(label string, fx senFixture) {
			path := "/incidents/" + param(fx, "incidentId") + "/comments/" + param(fx, "incidentCommentId")
			st, v := do(fx, "PUT", path, nil, body(fx, "incidentComment", nil))
			expect(label+" (create)", fx, st, v, 201, "comment")
			st, v = do(fx, "PUT", path, nil, body(fx, "incidentComment", nil))
			expect(label+" (update)", fx, st, v, 200, "comment")
		}},
		{"incident_comments_list.json", func(label string, fx senFixture) {
			st, v := do(fx, "GET", "/incidents/"+param(fx, "incidentId")+"/comments", nil, nil)
			expect(label, fx, st, v, 200, "comment")
		}},
		{"incident_relation_create.json", func(label string, fx senFixture) {
			path := "/incidents/" + param(fx, "incidentId") + "/relations/" + param(fx, "relationName")
			st, v := do(fx, "PUT", path, nil, body(fx, "relation", nil))
			expect(label+" (create)", fx, st, v, 201, "relation")
			st, v = do(fx, "PUT", path, nil, body(fx, "relation", nil))
			expect(label+" (update)", fx, st, v, 200, "relation")
		}},
		{"incident_relations_list.json", func(label string, fx senFixture) {
			st, v := do(fx, "GET", "/incidents/"+param(fx, "incidentId")+"/relations", nil, nil)
			expect(label, fx, st, v, 200, "relation")
		}},
		{"incident_task_create_or_update.json", func(label string, fx senFixture) {
			path := "/incidents/" + param(fx, "incidentId") + "/tasks/" + param(fx, "incidentTaskId")
			st, v := do(fx, "PUT", path, nil, body(fx, "incidentTask", nil))
			expect(label+" (create)", fx, st, v, 201, "task")
			st, v = do(fx, "PUT", path, nil, body(fx, "incidentTask", nil))
			expect(label+" (update)", fx, st, v, 200, "task")
		}},
		{"incident_tasks_list.json", func(label string, fx senFixture) {
			st, v := do(fx, "GET", "/incidents/"+param(fx, "incidentId")+"/tasks", nil, nil)
			expect(label, fx, st, v, 200, "task")
		}},
	}
	covered := map[string]bool{}
	for _, s := range steps {
		fx, ok := fixtures[s.file]
		if !ok {
			t.Fatalf("fixture %s missing from testdata/sentinel", s.file)
		}
		covered[s.file] = true
		s.run(s.file, fx)
	}
	for f := range fixtures {
		if !covered[f] {
			t.Errorf("fixture %s is not exercised", f)
		}
	}
}
