package simulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// dfcClient is armsecurity's alerts client pointed at the simulator, with a
// retry policy small enough for tests (nil keeps the SDK's default).
func dfcClient(t *testing.T, srv *simulator.Server, cred azcore.TokenCredential, retry *policy.RetryOptions) *armsecurity.AlertsClient {
	t.Helper()
	if cred == nil {
		cred = credential(t, srv, srv.Info.ClientSecret)
	}
	opts := armOptions(srv)
	if retry != nil {
		opts.Retry = *retry
	}
	c, err := armsecurity.NewAlertsClient(srv.Info.SubscriptionID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dfcRaised is the control API's answer to raising an alert.
type dfcRaised struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	SentinelAlertID string `json:"sentinelAlertId"`
	IncidentName    string `json:"incidentName"`
	GraphAlertID    string `json:"graphAlertId"`
}

// dfcRaise raises a fresh alert through POST /sim/v1/defender/alerts.
func dfcRaise(t *testing.T, srv *simulator.Server, spec any) dfcRaised {
	t.Helper()
	if spec == nil {
		spec = map[string]any{}
	}
	resp, b := send(t, srv, "POST", "/sim/v1/defender/alerts", "", spec)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raise alert: %d %s", resp.StatusCode, b)
	}
	var r dfcRaised
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Name == "" || !strings.HasSuffix(r.ID, "/alerts/"+r.Name) {
		t.Fatalf("raise alert: %s", b)
	}
	return r
}

// dfcIDParts splits an alert's ARM id into resource group and location,
// as a client holding only the id does.
func dfcIDParts(t *testing.T, id string) (rg, loc, name string) {
	t.Helper()
	m := regexp.MustCompile(`^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/Microsoft\.Security/locations/([^/]+)/alerts/([^/]+)$`).FindStringSubmatch(id)
	if m == nil {
		t.Fatalf("alert id %q is not a Microsoft.Security/locations/alerts id", id)
	}
	return m[1], m[2], m[3]
}

func TestDefenderListPaging(t *testing.T) {
	srv := start(t, simulator.Options{})
	w := srv.Sim.World()
	for range 120 {
		w.RaiseDefenderAlert(simulator.AlertSpec{})
	}
	want := map[string]simulator.DefenderAlert{}
	for _, a := range w.DefenderAlerts() {
		want[a.Name] = a
	}
	ctx := context.Background()
	c := dfcClient(t, srv, nil, nil)

	pager := c.NewListPager(nil)
	var sizes []int
	seen := map[string]bool{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Value))
		if pager.More() && (page.NextLink == nil || !strings.Contains(*page.NextLink, "$skipToken=")) {
			t.Errorf("nextLink = %v, want a $skipToken", page.NextLink)
		}
		for _, a := range page.Value {
			n := *a.Name
			if seen[n] {
				t.Errorf("alert %s listed twice", n)
			}
			seen[n] = true
			wa, ok := want[n]
			if !ok {
				t.Fatalf("listed unknown alert %s", n)
			}
			p := a.Properties
			if !p.StartTimeUTC.Equal(wa.StartTime) || !p.TimeGeneratedUTC.Equal(wa.TimeGenerated) {
				t.Errorf("%s times = %v %v, want %v %v", n, p.StartTimeUTC, p.TimeGeneratedUTC, wa.StartTime, wa.TimeGenerated)
			}
			if *p.Status != armsecurity.AlertStatusActive || *p.AlertType != wa.AlertType || *p.SystemAlertID != n {
				t.Errorf("%s = %s %s %s", n, *p.Status, *p.AlertType, *p.SystemAlertID)
			}
		}
	}
	if !slices.Equal(sizes, []int{50, 50, 20}) || len(seen) != 120 {
		t.Errorf("pages %v, %d alerts; want [50 50 20], 120", sizes, len(seen))
	}

	count := func(next func() ([]*armsecurity.Alert, bool, error)) int {
		n := 0
		for {
			v, more, err := next()
			if err != nil {
				t.Fatal(err)
			}
			n += len(v)
			if !more {
				return n
			}
		}
	}
	rg, loc := srv.Info.ResourceGroup, "westeurope"
	byRegion := c.NewListSubscriptionLevelByRegionPager(loc, nil)
	byRG := c.NewListByResourceGroupPager(rg, nil)
	byRGRegion := c.NewListResourceGroupLevelByRegionPager(loc, rg, nil)
	otherRegion := c.NewListSubscriptionLevelByRegionPager("eastus", nil)
	for name, got := range map[string]int{
		"by region": count(func() ([]*armsecurity.Alert, bool, error) {
			p, err := byRegion.NextPage(ctx)
			return p.Value, byRegion.More(), err
		}),
		"by resource group": count(func() ([]*armsecurity.Alert, bool, error) {
			p, err := byRG.NextPage(ctx)
			return p.Value, byRG.More(), err
		}),
		"by resource group and region": count(func() ([]*armsecurity.Alert, bool, error) {
			p, err := byRGRegion.NextPage(ctx)
			return p.Value, byRGRegion.More(), err
		}),
	} {
		if got != 120 {
			t.Errorf("%s: %d alerts, want 120", name, got)
		}
	}
	if p, err := otherRegion.NextPage(ctx); err != nil || len(p.Value) != 0 || otherRegion.More() {
		t.Errorf("another region: %d alerts, %v; want none", len(p.Value), err)
	}
	_, err := c.NewListByResourceGroupPager("no-such-rg", nil).NextPage(ctx)
	expectRespErr(t, err, 404, "ResourceGroupNotFound")

	// A $skipToken the simulator did not issue is refused.
	resp, b := send(t, srv, "GET", "/subscriptions/"+srv.Info.SubscriptionID+"/providers/Microsoft.Security/alerts?api-version=2022-01-01&$skipToken=bogus", accessToken(t, srv, armScope), nil)
	if resp.StatusCode != 400 {
		t.Errorf("bad $skipToken: %d %s, want 400", resp.StatusCode, b)
	}
}

func TestDefenderGetAndStateChanges(t *testing.T) {
	srv := start(t, simulator.Options{})
	ctx := context.Background()
	c := dfcClient(t, srv, nil, nil)
	r := dfcRaise(t, srv, nil)
	rg, loc, name := dfcIDParts(t, r.ID)
	wa, _ := srv.Sim.World().DefenderAlertByName(name)

	got, err := c.GetSubscriptionLevel(ctx, loc, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := got.Properties
	if *got.ID != r.ID || *got.Name != name || *got.Type != "Microsoft.Security/Locations/alerts" {
		t.Errorf("id/name/type = %s %s %s", *got.ID, *got.Name, *got.Type)
	}
	if *p.AlertDisplayName != wa.DisplayName || string(*p.Severity) != wa.Severity || string(*p.Intent) != wa.Intent ||
		*p.CompromisedEntity != wa.CompromisedEntity || *p.VendorName != "Microsoft" || *p.Version != "2022-01-01" {
		t.Errorf("properties = %+v", p)
	}
	if len(p.ResourceIdentifiers) != 2 {
		t.Fatalf("resourceIdentifiers = %v", p.ResourceIdentifiers)
	}
	if ar, ok := p.ResourceIdentifiers[0].(*armsecurity.AzureResourceIdentifier); !ok || *ar.AzureResourceID != wa.ResourceID {
		t.Errorf("resourceIdentifiers[0] = %#v, want the AzureResource %s", p.ResourceIdentifiers[0], wa.ResourceID)
	}
	if la, ok := p.ResourceIdentifiers[1].(*armsecurity.LogAnalyticsIdentifier); !ok || *la.WorkspaceSubscriptionID != srv.Info.SubscriptionID {
		t.Errorf("resourceIdentifiers[1] = %#v, want LogAnalytics", p.ResourceIdentifiers[1])
	}
	if len(p.Entities) != len(wa.Entities) || p.SupportingEvidence == nil || *p.SupportingEvidence.Type != "tabularEvidences" {
		t.Errorf("entities %d (want %d), supportingEvidence %+v", len(p.Entities), len(wa.Entities), p.SupportingEvidence)
	}
	if rgGot, err := c.GetResourceGroupLevel(ctx, rg, loc, name, nil); err != nil || *rgGot.ID != r.ID {
		t.Fatalf("GetResourceGroupLevel: %v", err)
	}

	steps := []struct {
		name string
		do   func() error
		want armsecurity.AlertStatus
	}{
		{"subscription inProgress", func() error {
			_, err := c.UpdateSubscriptionLevelStateToInProgress(ctx, loc, name, nil)
			return err
		}, armsecurity.AlertStatusInProgress},
		{"subscription dismiss", func() error {
			_, err := c.UpdateSubscriptionLevelStateToDismiss(ctx, loc, name, nil)
			return err
		}, armsecurity.AlertStatusDismissed},
		{"subscription resolve", func() error {
			_, err := c.UpdateSubscriptionLevelStateToResolve(ctx, loc, name, nil)
			return err
		}, armsecurity.AlertStatusResolved},
		{"subscription activate", func() error {
			_, err := c.UpdateSubscriptionLevelStateToActivate(ctx, loc, name, nil)
			return err
		}, armsecurity.AlertStatusActive},
		{"resource group inProgress", func() error {
			_, err := c.UpdateResourceGroupLevelStateToInProgress(ctx, rg, loc, name, nil)
			return err
		}, armsecurity.AlertStatusInProgress},
		{"resource group dismiss", func() error {
			_, err := c.UpdateResourceGroupLevelStateToDismiss(ctx, rg, loc, name, nil)
			return err
		}, armsecurity.AlertStatusDismissed},
		{"resource group resolve", func() error {
			_, err := c.UpdateResourceGroupLevelStateToResolve(ctx, rg, loc, name, nil)
			return err
		}, armsecurity.AlertStatusResolved},
		{"resource group activate", func() error {
			_, err := c.UpdateResourceGroupLevelStateToActivate(ctx, rg, loc, name, nil)
			return err
		}, armsecurity.AlertStatusActive},
	}
	before := wa.ProcessingEndTime
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		a, _ := srv.Sim.World().DefenderAlertByName(name)
		got, err := c.GetResourceGroupLevel(ctx, rg, loc, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != string(st.want) || *got.Properties.Status != st.want {
			t.Errorf("%s: world %s, API %s; want %s", st.name, a.Status, *got.Properties.Status, st.want)
		}
		if got.Properties.ProcessingEndTimeUTC.Before(before) {
			t.Errorf("%s: processingEndTimeUtc went back", st.name)
		}
	}

	// Wrong names are 404s, in ARM's error shape.
	_, err = c.GetSubscriptionLevel(ctx, loc, "2518770965529163669_F144EE95-A3E5-42DA-A279-967D115809AA", nil)
	expectRespErr(t, err, 404, "NotFound")
	_, err = c.GetSubscriptionLevel(ctx, "eastus", name, nil)
	expectRespErr(t, err, 404, "NotFound")
	_, err = c.UpdateSubscriptionLevelStateToDismiss(ctx, loc, "no-such-alert", nil)
	expectRespErr(t, err, 404, "NotFound")
	_, err = c.UpdateResourceGroupLevelStateToResolve(ctx, "other-rg", loc, name, nil)
	expectRespErr(t, err, 404, "ResourceGroupNotFound")
	other, err := armsecurity.NewAlertsClient("00000000-0000-0000-0000-000000000000", credential(t, srv, srv.Info.ClientSecret), armOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.GetSubscriptionLevel(ctx, loc, name, nil)
	expectRespErr(t, err, 404, "SubscriptionNotFound")
	if a, _ := srv.Sim.World().DefenderAlertByName(name); a.Status != simulator.DfCActive {
		t.Errorf("a refused change changed the alert: %s", a.Status)
	}
}

func TestDefenderAPIVersion(t *testing.T) {
	srv := start(t, simulator.Options{})
	r := dfcRaise(t, srv, nil)
	rg, loc, name := dfcIDParts(t, r.ID)
	tok := accessToken(t, srv, armScope)
	sub := "/subscriptions/" + srv.Info.SubscriptionID
	rgp := sub + "/resourceGroups/" + rg
	routes := []struct{ method, path string }{
		{"GET", sub + "/providers/Microsoft.Security/alerts"},
		{"GET", sub + "/providers/Microsoft.Security/locations/" + loc + "/alerts"},
		{"GET", rgp + "/providers/Microsoft.Security/alerts"},
		{"GET", rgp + "/providers/Microsoft.Security/locations/" + loc + "/alerts"},
		{"GET", sub + "/providers/Microsoft.Security/locations/" + loc + "/alerts/" + name},
		{"GET", rgp + "/providers/Microsoft.Security/locations/" + loc + "/alerts/" + name},
		{"POST", sub + "/providers/Microsoft.Security/locations/" + loc + "/alerts/" + name + "/inProgress"},
		{"POST", rgp + "/providers/Microsoft.Security/locations/" + loc + "/alerts/" + name + "/activate"},
	}
	for _, rt := range routes {
		for _, c := range []struct {
			query, code string
			status      int
		}{
			{"", "MissingApiVersionParameter", 400},
			{"?api-version=2023-01-01", "NoRegisteredProviderFound", 400},
			{"?api-version=2025-09-01", "NoRegisteredProviderFound", 400},
			{"?api-version=2022-01-01", "", 0},
		} {
			resp, b := send(t, srv, rt.method, rt.path+c.query, tok, nil)
			if c.status == 0 {
				if resp.StatusCode/100 != 2 {
					t.Errorf("%s %s%s: %d %s", rt.method, rt.path, c.query, resp.StatusCode, b)
				}
				continue
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal(b, &e)
			if resp.StatusCode != c.status || e.Error.Code != c.code || e.Error.Message == "" {
				t.Errorf("%s %s%s: %d %s, want %d %s", rt.method, rt.path, c.query, resp.StatusCode, b, c.status, c.code)
			}
		}
	}
}

// dfcFixture is one of Microsoft's REST spec examples.
type dfcFixture struct {
	Parameters map[string]string `json:"parameters"`
	Responses  map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

// TestDefenderFixtures sends each official example request and compares
// the answer's shape (property names, nesting, JSON kinds, enum
// spellings) with the example response. The examples name alerts the
// simulated tenant does not hold, so the request carries a raised
// alert's name instead; every other parameter is the example's.
func TestDefenderFixtures(t *testing.T) {
	files := fixtureFiles(t, "defender")
	if len(files) != 6 {
		t.Fatalf("fixtures: %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			fx := fixture[dfcFixture](t, "defender", f)
			p := fx.Parameters
			o := simulator.Options{SubscriptionID: p["subscriptionId"], ResourceGroup: p["resourceGroupName"]}
			srv := start(t, o)
			tok := accessToken(t, srv, armScope)
			var names []string
			for range 2 {
				names = append(names, dfcRaise(t, srv, nil).Name)
			}
			path := "/subscriptions/" + p["subscriptionId"]
			if p["resourceGroupName"] != "" {
				path += "/resourceGroups/" + p["resourceGroupName"]
			}
			path += "/providers/Microsoft.Security"
			if p["ascLocation"] != "" {
				path += "/locations/" + p["ascLocation"]
			}
			path += "/alerts"
			method := "GET"
			var action string
			if p["alertName"] != "" {
				// The example's own alert does not exist here.
				if resp, b := send(t, srv, method, path+"/"+p["alertName"]+"?api-version="+p["api-version"], tok, nil); resp.StatusCode != 404 {
					t.Errorf("the example's alert name: %d %s, want 404", resp.StatusCode, b)
				}
				path += "/" + names[0]
			}
			if a := p["alertUpdateActionType"]; a != "" {
				action = strings.ToLower(a[:1]) + a[1:]
				path += "/" + action
				method = "POST"
			}
			if len(fx.Responses) != 1 {
				t.Fatalf("responses %v", fx.Responses)
			}
			var wantStatus int
			var wantBody json.RawMessage
			for code, r := range fx.Responses {
				fmt.Sscan(code, &wantStatus)
				wantBody = r.Body
			}
			resp, b := send(t, srv, method, path+"?api-version="+p["api-version"], tok, nil)
			if resp.StatusCode != wantStatus {
				t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
			}
			if action != "" {
				want := map[string]string{"activate": "Active", "dismiss": "Dismissed", "resolve": "Resolved", "inProgress": "InProgress"}[action]
				if a, _ := srv.Sim.World().DefenderAlertByName(names[0]); a.Status != want {
					t.Errorf("after %s the alert is %s, want %s", action, a.Status, want)
				}
			}
			if len(wantBody) == 0 {
				if len(b) != 0 {
					t.Errorf("body %q, want none", b)
				}
				return
			}
			var want, got any
			if err := json.Unmarshal(wantBody, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			for _, d := range shapeDiff(want, got, dfcShapeOpts) {
				t.Error(d)
			}
			// The example itself and the simulator's answer both use the
			// SDK's enum spellings and 7-digit times.
			for _, doc := range []any{want, got} {
				alerts := []any{doc}
				if m, ok := doc.(map[string]any); ok && m["value"] != nil {
					alerts = m["value"].([]any)
				}
				for _, a := range alerts {
					dfcCheckEnums(t, a.(map[string]any))
				}
			}
		})
	}
}

var dfcTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

func dfcCheckEnums(t *testing.T, a map[string]any) {
	t.Helper()
	if a["type"] != "Microsoft.Security/Locations/alerts" {
		t.Errorf("type = %v", a["type"])
	}
	p := a["properties"].(map[string]any)
	in := func(field string, v any, allowed []string) {
		s, _ := v.(string)
		if !slices.Contains(allowed, s) {
			t.Errorf("%s = %q, not one of %v", field, v, allowed)
		}
	}
	str := func(vs ...string) []string { return vs }
	var sev, status, intent, rid []string
	for _, v := range armsecurity.PossibleAlertSeverityValues() {
		sev = append(sev, string(v))
	}
	for _, v := range armsecurity.PossibleAlertStatusValues() {
		status = append(status, string(v))
	}
	for _, v := range armsecurity.PossibleIntentValues() {
		intent = append(intent, string(v))
	}
	for _, v := range armsecurity.PossibleResourceIdentifierTypeValues() {
		rid = append(rid, string(v))
	}
	in("severity", p["severity"], sev)
	in("status", p["status"], status)
	in("status", p["status"], str("Active", "InProgress", "Dismissed", "Resolved"))
	in("intent", p["intent"], intent)
	var types []string
	for _, r := range p["resourceIdentifiers"].([]any) {
		ty, _ := r.(map[string]any)["type"].(string)
		in("resourceIdentifiers.type", ty, rid)
		types = append(types, ty)
	}
	sort.Strings(types)
	if !slices.Equal(types, []string{"AzureResource", "LogAnalytics"}) {
		t.Errorf("resourceIdentifiers types = %v", types)
	}
	for _, f := range []string{"startTimeUtc", "endTimeUtc", "timeGeneratedUtc", "processingEndTimeUtc"} {
		if s, _ := p[f].(string); !dfcTimeRE.MatchString(s) {
			t.Errorf("%s = %q, want 7 fractional digits", f, p[f])
		}
	}
}

// dfcShapeOpts compare by shape: the same property names at every level,
// the same nesting and the same JSON kinds; values are ignored. Each
// element of a got array must have the shape of some element of the want
// array. Entities and extendedProperties are open dictionaries in the
// spec: only their "type" and string values are checked.
var dfcShapeOpts = shapeOpts{Open: map[string]func(path string, got map[string]any) []string{
	"entities[]": func(path string, g map[string]any) []string {
		if _, ok := g["type"].(string); !ok {
			return []string{path + ": entity without a type"}
		}
		return nil
	},
	"extendedProperties": func(path string, g map[string]any) []string {
		var out []string
		for k, v := range g {
			if _, ok := v.(string); !ok {
				out = append(out, fmt.Sprintf("%s.%s: got %T, want a string", path, k, v))
			}
		}
		return out
	},
}}

func TestTokenChecks(t *testing.T) {
	srv := start(t, simulator.Options{})
	graphTok, armTok := accessToken(t, srv, graphScope), accessToken(t, srv, armScope)
	armURL := srv.Info.ARMURL + "/subscriptions/" + srv.Info.SubscriptionID + "/providers/Microsoft.Security/alerts?api-version=2022-01-01"
	get := func(tok string) *http.Response {
		resp, _ := send(t, srv, "GET", armURL, tok, nil)
		return resp
	}
	tests := []struct {
		name string
		tok  string
		want int
	}{
		{"no token", "", 401},
		{"graph token on ARM", graphTok, 401},
		{"ARM token", armTok, 200},
	}
	for _, tt := range tests {
		if got := get(tt.tok).StatusCode; got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	srv.Sim.ExpireTokens()
	if got := get(armTok); got.StatusCode != 401 || !strings.Contains(got.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %d %q, want 401 invalid_token", got.StatusCode, got.Header.Get("WWW-Authenticate"))
	}
}

// dfcElapsed is a tiny stopwatch for the fault tests.
func dfcElapsed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}
