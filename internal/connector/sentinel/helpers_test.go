package sentinel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// env is a simulated tenant over TLS and a connector pointed at it.
type env struct {
	srv *simulator.Server
	clk *clock.Fake
	c   *sentinel.Client
}

// start serves a simulator with a fake clock (so that incidents get
// distinct modification times) and connects a client to it.
func start(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv, err := simulator.Listen(simulator.New(simulator.Options{Clock: clk}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &env{srv: srv, clk: clk}
	e.c = e.client(t, nil)
	return e
}

// client connects a new connector; transport, when set, carries its
// requests instead of the simulator's client.
func (e *env) client(t *testing.T, transport policy.Transporter) *sentinel.Client {
	t.Helper()
	if transport == nil {
		transport = e.srv.Client()
	}
	info := e.srv.Info
	c, err := sentinel.New(sentinel.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
		AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// control calls the simulator's /sim/v1 API, as a portal user would act.
func (e *env) control(t *testing.T, path string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Post(e.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	return out
}

// raised is what the simulator answers for a new Defender for Cloud alert.
type raised struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	SentinelAlertID string `json:"sentinelAlertId"`
	IncidentName    string `json:"incidentName"`
}

// raise has Defender for Cloud raise an alert (with its Sentinel alert and
// incident), one simulated minute after the previous change.
func (e *env) raise(t *testing.T, spec map[string]any) raised {
	t.Helper()
	e.clk.Advance(time.Minute)
	if spec == nil {
		spec = map[string]any{}
	}
	var r raised
	if err := json.Unmarshal(e.control(t, "/sim/v1/defender/alerts", spec), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) fault(t *testing.T, f simulator.Fault) {
	t.Helper()
	e.control(t, "/sim/v1/faults", f)
}

// incidentID is an incident's ARM id, as outbox messages name it.
func (e *env) incidentID(name string) string {
	i := e.srv.Info
	return "/subscriptions/" + i.SubscriptionID + "/resourceGroups/" + i.ResourceGroup +
		"/providers/Microsoft.OperationalInsights/workspaces/" + i.Workspace + "/providers/Microsoft.SecurityInsights/incidents/" + name
}

func (e *env) incident(t *testing.T, name string) simulator.Incident {
	t.Helper()
	inc, ok := e.srv.Sim.World().IncidentByName(name)
	if !ok {
		t.Fatalf("incident %s not in the simulator", name)
	}
	return inc
}

// hookTransport runs before on each request, then sends it.
type hookTransport struct {
	next   policy.Transporter
	before func(r *http.Request)
}

func (h hookTransport) Do(r *http.Request) (*http.Response, error) {
	h.before(r)
	return h.next.Do(r)
}

// once runs f the first time it is called.
func once(f func()) func() {
	var o sync.Once
	return func() { o.Do(f) }
}

var ctx = context.Background()
