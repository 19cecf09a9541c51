package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// laEnv is a simulator and a Log Analytics token.
type laEnv struct {
	srv   *simulator.Server
	token string
}

func laStart(t *testing.T, o simulator.Options) *laEnv {
	t.Helper()
	srv := start(t, o)
	tok, err := credential(t, srv, srv.Info.ClientSecret).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{"https://api.loganalytics.io/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return &laEnv{srv: srv, token: tok.Token}
}

type laAnswer struct {
	status int
	header http.Header
	body   map[string]any
}

// table returns the columns and rows of the first table.
func (a laAnswer) table(t *testing.T) ([]string, [][]any) {
	t.Helper()
	tables, _ := a.body["tables"].([]any)
	if a.status != http.StatusOK || len(tables) != 1 {
		t.Fatalf("answer %d: %v", a.status, a.body)
	}
	tab := tables[0].(map[string]any)
	if tab["name"] != "PrimaryResult" {
		t.Fatalf("table name %v", tab["name"])
	}
	var cols []string
	for _, c := range tab["columns"].([]any) {
		cols = append(cols, c.(map[string]any)["name"].(string))
	}
	var rows [][]any
	for _, r := range tab["rows"].([]any) {
		rows = append(rows, r.([]any))
	}
	return cols, rows
}

// inner returns the codes of the error and its innererrors.
func (a laAnswer) codes() []string {
	var out []string
	e, _ := a.body["error"].(map[string]any)
	for e != nil {
		out = append(out, e["code"].(string))
		e, _ = e["innererror"].(map[string]any)
	}
	return out
}

func (e *laEnv) query(t *testing.T, ws, query, timespan string) laAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query, "timespan": timespan})
	req, _ := http.NewRequest(http.MethodPost, e.srv.Info.LogAnalyticsURL+"/v1/workspaces/"+ws+"/query", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req)
}

func (e *laEnv) do(t *testing.T, req *http.Request) laAnswer {
	t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := laAnswer{status: res.StatusCode, header: res.Header}
	if err := json.NewDecoder(res.Body).Decode(&a.body); err != nil {
		t.Fatalf("decode %d: %v", res.StatusCode, err)
	}
	return a
}

func (e *laEnv) ingest(t *testing.T, table string, rows any) int {
	t.Helper()
	b, _ := json.Marshal(rows)
	res, err := e.srv.Client().Post(e.srv.URL+"/sim/v1/loganalytics/"+table, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestLogAnalyticsQuery(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e := laStart(t, simulator.Options{Clock: fake})
	ws := e.srv.Info.WorkspaceID
	if ws == "" || e.srv.Info.LogAnalyticsURL == "" {
		t.Fatalf("info: %+v", e.srv.Info)
	}
	if c := e.ingest(t, "DeviceNetworkEvents", []map[string]any{
		{"DeviceId": "d1", "DeviceName": "ws-ada", "RemoteIP": "203.0.113.7", "RemotePort": 443, "RemoteUrl": "https://evil.example.com/x"},
		{"DeviceId": "d2", "DeviceName": "ws-old", "RemoteIP": "203.0.113.7", "TimeGenerated": "2026-02-01T00:00:00Z"},
	}); c != http.StatusCreated {
		t.Fatalf("ingest: %d", c)
	}
	if c := e.ingest(t, "Nope", []any{}); c != http.StatusNotFound {
		t.Fatalf("ingest into an unknown table: %d", c)
	}

	// POST, with the timespan leaving out the old row.
	cols, rows := e.query(t, ws, `DeviceNetworkEvents | where RemoteIP in ("203.0.113.7") | project DeviceName, RemotePort, TimeGenerated`, "P1D").table(t)
	if strings.Join(cols, ",") != "DeviceName,RemotePort,TimeGenerated" || len(rows) != 1 || rows[0][0] != "ws-ada" ||
		rows[0][1] != float64(443) || rows[0][2] != "2026-03-01T12:00:00Z" {
		t.Fatalf("POST: %v %v", cols, rows)
	}
	// Without a timespan both rows; GET as the fixture shows.
	q := url.Values{"query": {`DeviceNetworkEvents | where RemoteIP == "203.0.113.7"`}}
	req, _ := http.NewRequest(http.MethodGet, e.srv.Info.LogAnalyticsURL+"/v1/workspaces/"+ws+"/query?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if _, rows := e.do(t, req).table(t); len(rows) != 2 {
		t.Fatalf("GET: %d rows", len(rows))
	}

	errs := []struct {
		name, ws, query, timespan string
		status                    int
		codes                     string
	}{
		{"syntax", ws, "DeviceNetworkEvents | where", "", 400, "BadArgumentError,SyntaxError,SYN0002"},
		{"unsupported", ws, "DeviceNetworkEvents | extend x = 1", "", 400, "BadArgumentError,SyntaxError,SYN0002"},
		{"unknown table", ws, "Heartbeat | take 1", "", 400, "BadArgumentError,SemanticError,SEM0100"},
		{"unknown column", ws, "DeviceNetworkEvents | where Nope == 1", "", 400, "BadArgumentError,SemanticError,SEM0100"},
		{"timespan", ws, "DeviceNetworkEvents", "yesterday", 400, "BadArgumentError,InvalidTimespan"},
		{"workspace", "00000000-0000-0000-0000-000000000000", "DeviceNetworkEvents", "", 404, "WorkspaceNotFoundError"},
	}
	for _, tt := range errs {
		a := e.query(t, tt.ws, tt.query, tt.timespan)
		if a.status != tt.status || strings.Join(a.codes(), ",") != tt.codes {
			t.Errorf("%s: %d %v, want %d %s", tt.name, a.status, a.body, tt.status, tt.codes)
		}
	}

	// Tokens for other audiences are refused.
	arm, err := credential(t, e.srv, e.srv.Info.ClientSecret).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	e2 := &laEnv{srv: e.srv, token: arm.Token}
	if a := e2.query(t, ws, "DeviceNetworkEvents", ""); a.status != http.StatusUnauthorized {
		t.Fatalf("ARM token: %d", a.status)
	}
	// Faults use the service's error shape and Retry-After.
	e.srv.Sim.Inject(simulator.Fault{Endpoint: "loganalytics.query", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 7, Times: 1})
	if a := e.query(t, ws, "DeviceNetworkEvents", ""); a.status != 429 || a.header.Get("Retry-After") != "7" {
		t.Fatalf("fault: %d %v", a.status, a.header)
	}
}

// The SecurityIncident and SecurityAlert tables say what the REST views
// say, and scenario telemetry arrives in the network tables.
func TestLogAnalyticsViewsAndScenario(t *testing.T) {
	e := laStart(t, simulator.Options{Preload: 2, Seed: 7})
	ws := e.srv.Info.WorkspaceID
	w := e.srv.Sim.World()
	incs := w.Incidents()
	if _, _, err := w.UpdateIncident(incs[0].Name, "", simulator.IncidentUpdate{Title: incs[0].Title, Severity: incs[0].Severity,
		Status: simulator.IncidentClosed, Classification: "TruePositive", ClassificationReason: "SuspiciousActivity"}); err != nil {
		t.Fatal(err)
	}
	cols, rows := e.query(t, ws, `SecurityIncident | summarize arg_max(TimeGenerated, *) by IncidentName | where Status == "Closed" | project IncidentName, IncidentNumber, Classification, AlertIds`, "").table(t)
	if len(rows) != 1 || rows[0][0] != incs[0].Name || rows[0][1] != float64(incs[0].Number) || rows[0][2] != "TruePositive" {
		t.Fatalf("SecurityIncident: %v %v", cols, rows)
	}
	var ids []string
	if err := json.Unmarshal([]byte(rows[0][3].(string)), &ids); err != nil || len(ids) != 1 || ids[0] != incs[0].AlertIDs[0] {
		t.Fatalf("AlertIds %v: %v", rows[0][3], err)
	}
	_, rows = e.query(t, ws, `SecurityAlert | where SystemAlertId == "`+incs[0].AlertIDs[0]+`" | project Status, ProductName, Entities`, "").table(t)
	sa, _ := w.SentinelAlertByID(incs[0].AlertIDs[0])
	if len(rows) != 1 || rows[0][0] != sa.Status || rows[0][0] != simulator.SentinelAlertResolved || rows[0][1] != "Azure Security Center" {
		t.Fatalf("SecurityAlert: %v", rows)
	}

	sc := e.srv.Sim.NewScenario()
	for range 6 {
		sc.Step()
	}
	if n, s := len(w.NetworkEvents()), len(w.SecurityLogs()); n != 6 || s != 4 {
		t.Fatalf("after 6 steps: %d network events, %d security logs", n, s)
	}
	_, rows = e.query(t, ws, `DeviceNetworkEvents | where RemoteIP in ("203.0.113.7", "198.51.100.23") or RemoteUrl has_any ("malware.example.net", "c2.example.org") | summarize count() by RemoteIP`, "PT1H").table(t)
	if len(rows) != 3 {
		t.Fatalf("scenario hits: %v", rows)
	}
	// The same seed gives the same telemetry.
	e2 := laStart(t, simulator.Options{Preload: 2, Seed: 7})
	sc2 := e2.srv.Sim.NewScenario()
	for range 6 {
		sc2.Step()
	}
	a, b := w.NetworkEvents(), e2.srv.Sim.World().NetworkEvents()
	for i := range a {
		if a[i].DeviceName != b[i].DeviceName || a[i].RemoteIP != b[i].RemoteIP {
			t.Fatalf("row %d differs: %+v / %+v", i, a[i], b[i])
		}
	}
}
