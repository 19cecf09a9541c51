package simulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// fltRetry is a small retry policy, so that retried faults cost
// milliseconds. azcore does not retry at all when Retry-After asks for
// longer than MaxRetryDelay.
var fltRetry = &policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond}

// fltEnv is a simulator with one alert, an SDK client and a raw token.
type fltEnv struct {
	srv             *simulator.Server
	alert           dfcRaised
	loc, name, sub  string
	tok             string
	getPath, lsPath string
}

func fltStart(t *testing.T) *fltEnv {
	t.Helper()
	srv := start(t, simulator.Options{})
	e := &fltEnv{srv: srv, alert: dfcRaise(t, srv, nil), tok: accessToken(t, srv, armScope)}
	_, e.loc, e.name = dfcIDParts(t, e.alert.ID)
	e.sub = "/subscriptions/" + srv.Info.SubscriptionID
	e.getPath = e.alert.ID + "?api-version=2022-01-01"
	e.lsPath = e.sub + "/providers/Microsoft.Security/alerts?api-version=2022-01-01"
	return e
}

// inject posts a fault to the control API.
func (e *fltEnv) inject(t *testing.T, f simulator.Fault) {
	t.Helper()
	resp, b := send(t, e.srv, "POST", "/sim/v1/faults", "", f)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject %+v: %d %s", f, resp.StatusCode, b)
	}
}

func (e *fltEnv) clear(t *testing.T) {
	t.Helper()
	if resp, b := send(t, e.srv, "DELETE", "/sim/v1/faults", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("clear faults: %d %s", resp.StatusCode, b)
	}
}

func (e *fltEnv) raw(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	return send(t, e.srv, method, path, e.tok, nil)
}

// armCode is the code of an ARM error body.
func armCode(t *testing.T, b []byte) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Message == "" {
		t.Errorf("not an ARM error body: %s", b)
	}
	return body.Error.Code
}

func TestFaultThrottled(t *testing.T) {
	e := fltStart(t)
	ctx := context.Background()
	const route = "defender.alerts.get"
	throttle := simulator.Fault{Endpoint: route, Kind: simulator.FaultStatus, Status: 429, RetryAfter: 1, Times: 1}

	// Raw: 429 with Retry-After and ARM's body, once, then success.
	e.inject(t, throttle)
	resp, b := e.raw(t, "GET", e.getPath)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || armCode(t, b) != "TooManyRequests" {
		t.Errorf("throttled: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if resp, b := e.raw(t, "GET", e.getPath); resp.StatusCode != 200 {
		t.Errorf("after Times:1: %d %s", resp.StatusCode, b)
	}

	// The SDK honours Retry-After: it waits the second and succeeds on
	// its second call.
	patient := dfcClient(t, e.srv, nil, &policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second})
	if _, err := patient.GetSubscriptionLevel(ctx, e.loc, e.name, nil); err != nil { // token fetched outside the timing
		t.Fatal(err)
	}
	e.inject(t, throttle)
	hits := e.srv.Sim.Hits(route)
	var err error
	took := dfcElapsed(func() { _, err = patient.GetSubscriptionLevel(ctx, e.loc, e.name, nil) })
	if err != nil {
		t.Fatalf("SDK after a 429: %v", err)
	}
	if n := e.srv.Sim.Hits(route) - hits; n != 2 || took < time.Second {
		t.Errorf("SDK: %d calls in %v, want 2 calls after waiting Retry-After (1s)", n, took)
	}

	// With a Retry-After longer than MaxRetryDelay azcore gives up at once.
	c := dfcClient(t, e.srv, nil, fltRetry)
	e.inject(t, throttle)
	hits = e.srv.Sim.Hits(route)
	_, err = c.GetSubscriptionLevel(ctx, e.loc, e.name, nil)
	expectRespErr(t, err, 429, "TooManyRequests")
	if n := e.srv.Sim.Hits(route) - hits; n != 1 {
		t.Errorf("SDK with MaxRetryDelay < Retry-After: %d calls, want 1", n)
	}
}

func TestFaultServerErrors(t *testing.T) {
	e := fltStart(t)
	ctx := context.Background()
	c := dfcClient(t, e.srv, nil, fltRetry)
	const route = "defender.alerts.list"
	for _, tc := range []struct {
		status int
		code   string
	}{{500, "InternalServerError"}, {503, "ServiceUnavailable"}} {
		e.inject(t, simulator.Fault{Endpoint: route, Kind: simulator.FaultStatus, Status: tc.status, Times: 1})
		resp, b := e.raw(t, "GET", e.lsPath)
		if resp.StatusCode != tc.status || armCode(t, b) != tc.code || resp.Header.Get("Retry-After") != "" {
			t.Errorf("%d: got %d %s (Retry-After %q)", tc.status, resp.StatusCode, b, resp.Header.Get("Retry-After"))
		}
		// The SDK retries it and succeeds.
		e.inject(t, simulator.Fault{Endpoint: route, Kind: simulator.FaultStatus, Status: tc.status, Times: 1})
		hits := e.srv.Sim.Hits(route)
		if _, err := c.NewListPager(nil).NextPage(ctx); err != nil {
			t.Errorf("%d: SDK: %v", tc.status, err)
		}
		if n := e.srv.Sim.Hits(route) - hits; n != 2 {
			t.Errorf("%d: SDK made %d calls, want 2", tc.status, n)
		}
	}
	// A lasting outage exhausts the retries: 1 + MaxRetries calls.
	e.inject(t, simulator.Fault{Endpoint: route, Kind: simulator.FaultStatus, Status: 503})
	hits := e.srv.Sim.Hits(route)
	_, err := c.NewListPager(nil).NextPage(ctx)
	expectRespErr(t, err, 503, "ServiceUnavailable")
	if n := e.srv.Sim.Hits(route) - hits; n != 4 {
		t.Errorf("lasting 503: %d calls, want 4", n)
	}
	e.clear(t)
	if _, err := c.NewListPager(nil).NextPage(ctx); err != nil {
		t.Errorf("after DELETE /sim/v1/faults: %v", err)
	}
}

func TestFaultLatency(t *testing.T) {
	e := fltStart(t)
	ctx := context.Background()
	c := dfcClient(t, e.srv, nil, fltRetry)
	const delay = 50 * time.Millisecond
	e.inject(t, simulator.Fault{Endpoint: "defender.alerts.get", Kind: simulator.FaultLatency, LatencyMS: 50, Times: 1})
	var resp *http.Response
	if took := dfcElapsed(func() { resp, _ = e.raw(t, "GET", e.getPath) }); took < delay || resp.StatusCode != 200 {
		t.Errorf("raw: %d after %v, want 200 after >= %v", resp.StatusCode, took, delay)
	}
	if _, err := c.GetSubscriptionLevel(ctx, e.loc, e.name, nil); err != nil { // token outside the timing
		t.Fatal(err)
	}
	e.inject(t, simulator.Fault{Endpoint: "defender.alerts.get", Kind: simulator.FaultLatency, LatencyMS: 50, Times: 1})
	var err error
	if took := dfcElapsed(func() { _, err = c.GetSubscriptionLevel(ctx, e.loc, e.name, nil) }); took < delay || err != nil {
		t.Errorf("SDK: %v after %v, want success after >= %v", err, took, delay)
	}
	// Faults compose in the order injected: slow, then failing.
	e.inject(t, simulator.Fault{Endpoint: "defender.alerts.list", Kind: simulator.FaultLatency, LatencyMS: 50, Times: 1})
	e.inject(t, simulator.Fault{Endpoint: "defender.alerts.list", Kind: simulator.FaultStatus, Status: 503, Times: 1})
	if took := dfcElapsed(func() { resp, _ = e.raw(t, "GET", e.lsPath) }); took < delay || resp.StatusCode != 503 {
		t.Errorf("latency then 503: %d after %v", resp.StatusCode, took)
	}
}

func TestFaultTokenExpiry(t *testing.T) {
	e := fltStart(t)
	ctx := context.Background()
	cred := credential(t, e.srv, e.srv.Info.ClientSecret)
	c := dfcClient(t, e.srv, cred, fltRetry)
	if _, err := c.GetSubscriptionLevel(ctx, e.loc, e.name, nil); err != nil {
		t.Fatal(err)
	}
	resp, b := send(t, e.srv, "POST", "/sim/v1/tokens/expire", "", nil)
	var n struct{ Expired int }
	json.Unmarshal(b, &n)
	if resp.StatusCode != 200 || n.Expired < 2 {
		t.Fatalf("expire: %d %s", resp.StatusCode, b)
	}
	// The old token is refused, as ARM refuses an expired one.
	resp, b = e.raw(t, "GET", e.getPath)
	if resp.StatusCode != 401 || armCode(t, b) != "ExpiredAuthenticationToken" ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("old token: %d %s %q", resp.StatusCode, b, resp.Header.Get("WWW-Authenticate"))
	}
	// azidentity serves its cached token until its own expiry, so the
	// client built on it fails the same way...
	_, err := c.GetSubscriptionLevel(ctx, e.loc, e.name, nil)
	expectRespErr(t, err, 401, "ExpiredAuthenticationToken")
	// ...and a fresh credential gets a new token that works.
	fresh := dfcClient(t, e.srv, credential(t, e.srv, e.srv.Info.ClientSecret), fltRetry)
	if _, err := fresh.GetSubscriptionLevel(ctx, e.loc, e.name, nil); err != nil {
		t.Errorf("fresh credential: %v", err)
	}
	if resp, b := send(t, e.srv, "GET", e.getPath, accessToken(t, e.srv, armScope), nil); resp.StatusCode != 200 {
		t.Errorf("fresh raw token: %d %s", resp.StatusCode, b)
	}
}

func TestFaultInsufficientAccess(t *testing.T) {
	e := fltStart(t)
	ctx := context.Background()
	c := dfcClient(t, e.srv, nil, fltRetry)
	const route = "defender.alerts.list"
	e.inject(t, simulator.Fault{Endpoint: route, Kind: simulator.FaultInsufficientAccess, Times: 1})
	resp, b := e.raw(t, "GET", e.lsPath)
	if resp.StatusCode != 403 || armCode(t, b) != "InsufficientAccessError" || !strings.Contains(string(b), e.srv.Info.ClientID) {
		t.Errorf("first call: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.raw(t, "GET", e.lsPath); resp.StatusCode != 200 {
		t.Errorf("second call: %d %s", resp.StatusCode, b)
	}
	// The SDK does not retry a 403: the caller sees it, then succeeds.
	e.inject(t, simulator.Fault{Endpoint: route, Kind: simulator.FaultInsufficientAccess, Times: 1})
	hits := e.srv.Sim.Hits(route)
	_, err := c.NewListPager(nil).NextPage(ctx)
	expectRespErr(t, err, 403, "InsufficientAccessError")
	if n := e.srv.Sim.Hits(route) - hits; n != 1 {
		t.Errorf("SDK made %d calls for a 403, want 1", n)
	}
	if p, err := c.NewListPager(nil).NextPage(ctx); err != nil || len(p.Value) != 1 {
		t.Errorf("after the role propagated: %v", err)
	}
}

func TestFaultEndpointMatching(t *testing.T) {
	e := fltStart(t)
	rg := e.srv.Info.ResourceGroup
	get := func() int { r, _ := e.raw(t, "GET", e.getPath); return r.StatusCode }
	list := func() int { r, _ := e.raw(t, "GET", e.lsPath); return r.StatusCode }
	listRegion := func() int {
		r, _ := e.raw(t, "GET", e.sub+"/providers/Microsoft.Security/locations/"+e.loc+"/alerts?api-version=2022-01-01")
		return r.StatusCode
	}
	listRG := func() int {
		r, _ := e.raw(t, "GET", e.sub+"/resourceGroups/"+rg+"/providers/Microsoft.Security/alerts?api-version=2022-01-01")
		return r.StatusCode
	}
	activate := func() int {
		r, _ := e.raw(t, "POST", strings.Replace(e.getPath, "?", "/activate?", 1))
		return r.StatusCode
	}
	raise := func() int {
		r, _ := send(t, e.srv, "POST", "/sim/v1/defender/alerts", "", map[string]any{})
		return r.StatusCode
	}
	token := func() int {
		r, _ := send(t, e.srv, "POST", "/"+e.srv.Info.TenantID+"/oauth2/v2.0/token", "", nil)
		return r.StatusCode
	}
	calls := map[string]func() int{"get": get, "list": list, "listByRegion": listRegion, "listByResourceGroup": listRG,
		"activate": activate, "sim raise": raise, "entra token": token}
	// What each call answers without faults: the token endpoint refuses an
	// empty form with 400.
	normal := map[string]int{"get": 200, "list": 200, "listByRegion": 200, "listByResourceGroup": 200, "activate": 204, "sim raise": 201, "entra token": 400}

	for _, tc := range []struct {
		endpoint string
		faulted  []string
	}{
		{"defender.alerts.get", []string{"get"}},
		{"defender.alerts.list", []string{"list"}}, // exact: not listByRegion
		{"defender.alerts.activate", []string{"activate"}},
		{"defender.alerts", nil}, // no route has this name, and it is no prefix
		{"defender.", []string{"get", "list", "listByRegion", "listByResourceGroup", "activate"}},
		{"sentinel.", nil},
		{"*", []string{"get", "list", "listByRegion", "listByResourceGroup", "activate", "entra token"}},
	} {
		e.inject(t, simulator.Fault{Endpoint: tc.endpoint, Kind: simulator.FaultStatus, Status: 503})
		for name, call := range calls {
			want := normal[name]
			for _, f := range tc.faulted {
				if f == name {
					want = 503
				}
			}
			if got := call(); got != want {
				t.Errorf("fault on %q: %s answered %d, want %d", tc.endpoint, name, got, want)
			}
		}
		// The control API is never faulted, so this always clears it.
		e.clear(t)
		for name, call := range calls {
			if got := call(); got != normal[name] {
				t.Errorf("after clearing %q: %s answered %d, want %d", tc.endpoint, name, got, normal[name])
			}
		}
	}

	// Times counts matching requests across routes.
	e.inject(t, simulator.Fault{Endpoint: "defender.", Kind: simulator.FaultStatus, Status: 500, Times: 2})
	if a, b, c := get(), list(), get(); a != 500 || b != 500 || c != 200 {
		t.Errorf("Times:2 over defender.: %d %d %d, want 500 500 200", a, b, c)
	}
	// Hits counts every request to a route, faulted or not.
	before := e.srv.Sim.Hits("defender.alerts.listByRegion")
	e.inject(t, simulator.Fault{Endpoint: "defender.alerts.listByRegion", Kind: simulator.FaultStatus, Status: 503, Times: 1})
	listRegion()
	listRegion()
	if n := e.srv.Sim.Hits("defender.alerts.listByRegion") - before; n != 2 {
		t.Errorf("Hits = %d, want 2", n)
	}

	// The control API refuses a fault without an endpoint or kind.
	for _, body := range []any{map[string]any{"kind": "status"}, map[string]any{"endpoint": "*"}, "not an object"} {
		if resp, b := send(t, e.srv, "POST", "/sim/v1/faults", "", body); resp.StatusCode != 400 {
			t.Errorf("POST /sim/v1/faults %v: %d %s, want 400", body, resp.StatusCode, b)
		}
	}
}
