package loganalytics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/hunt"
	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestQueryDecodesRecords(t *testing.T) {
	srv := start(t, simulator.Options{})
	ingest(t, srv, "DeviceNetworkEvents", []map[string]any{
		{"DeviceId": "d1", "DeviceName": "ws-ada", "RemoteIP": "203.0.113.7", "RemotePort": 443, "TimeGenerated": "2026-03-01T10:00:00Z"},
	})
	c := client(t, srv, nil)
	res, err := c.Query(context.Background(), srv.Info.WorkspaceID,
		`DeviceNetworkEvents | where RemoteIP == "203.0.113.7" | project TimeGenerated, DeviceName, RemotePort`, "")
	if err != nil {
		t.Fatal(err)
	}
	tab := res.Primary()
	if tab.Name != "PrimaryResult" || len(tab.Columns) != 3 || tab.Columns[2].Type != "int" {
		t.Fatalf("table: %+v", tab)
	}
	recs := tab.Records()
	if len(recs) != 1 || recs[0]["DeviceName"] != "ws-ada" || recs[0]["RemotePort"] != int64(443) ||
		!recs[0]["TimeGenerated"].(time.Time).Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("records: %v", recs)
	}
}

// A hunt over the scenario's telemetry finds the documentation addresses
// it uses, in both tables.
func TestHuntOverScenarioTelemetry(t *testing.T) {
	srv := start(t, simulator.Options{Seed: 3})
	sc := srv.Sim.NewScenario()
	for range 12 {
		sc.Step()
	}
	inds := []hunt.Indicator{
		{Type: hunt.TypeIP, Value: "203.0.113.7", Feed: "otx"},
		{Type: hunt.TypeDomain, Value: "evil.example.com", Feed: "misp"},
		{Type: hunt.TypeURL, Value: "http://malware.example.net/payload.exe", Feed: "otx"},
		{Type: hunt.TypeIP, Value: "192.0.2.99", Feed: "otx"}, // never seen
	}
	// Tiny limits, so that the hunt needs several queries per table.
	qs := hunt.Queries(inds, 24*time.Hour, hunt.Limits{MaxValuesPerQuery: 2})
	if len(qs) != 4 {
		t.Fatalf("%d queries: %+v", len(qs), qs)
	}
	c := client(t, srv, nil)
	seen := map[string]map[string]bool{}
	for _, q := range qs {
		res, err := c.Query(context.Background(), srv.Info.WorkspaceID, q.KQL, "P1D")
		if err != nil {
			t.Fatalf("%s: %v", q.KQL, err)
		}
		hits, bad := hunt.Hits(q.Table, res.Primary().Records())
		if bad != 0 {
			t.Fatalf("%d bad rows", bad)
		}
		for _, h := range hits {
			if h.DeviceName == "" || h.LocalIP == "" || h.Time.IsZero() {
				t.Fatalf("incomplete hit %+v", h)
			}
			if seen[q.Table] == nil {
				seen[q.Table] = map[string]bool{}
			}
			seen[q.Table][h.RemoteIP] = true
		}
	}
	for _, table := range []string{hunt.TableDeviceNetworkEvents, hunt.TableCommonSecurityLog} {
		for _, ip := range []string{"203.0.113.7", "198.51.100.23", "203.0.113.66"} {
			if !seen[table][ip] {
				t.Errorf("%s: no hit for %s (hits %v)", table, ip, seen[table])
			}
		}
		if len(seen[table]) != 3 {
			t.Errorf("%s: unexpected hits %v", table, seen[table])
		}
	}
}

func TestQueryErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	c := client(t, srv, nil)
	ctx := context.Background()
	ws := srv.Info.WorkspaceID

	var e *loganalytics.Error
	_, err := c.Query(ctx, ws, "DeviceNetworkEvents | where", "")
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "BadArgumentError" || e.InnerCode != "SYN0002" {
		t.Fatalf("bad KQL: %v", err)
	}
	_, err = c.Query(ctx, ws, "Heartbeat", "")
	if !errors.As(err, &e) || e.Status != 400 || e.InnerCode != "SEM0100" {
		t.Fatalf("unknown table: %v", err)
	}
	_, err = c.Query(ctx, "00000000-0000-0000-0000-000000000000", "DeviceNetworkEvents", "")
	if !errors.As(err, &e) || e.Status != 404 || e.Code != "WorkspaceNotFoundError" {
		t.Fatalf("unknown workspace: %v", err)
	}
	var re *outbox.RetryableError
	if errors.As(err, &re) {
		t.Fatal("a 404 must not be retryable")
	}

	for _, tt := range []struct {
		status, after int
	}{{429, 7}, {503, 0}, {500, 2}} {
		srv.Sim.Inject(simulator.Fault{Endpoint: "loganalytics.query", Kind: simulator.FaultStatus, Status: tt.status, RetryAfter: tt.after, Times: 1})
		_, err := c.Query(ctx, ws, "DeviceNetworkEvents", "")
		if !errors.As(err, &re) || re.After != time.Duration(tt.after)*time.Second {
			t.Fatalf("%d: %v", tt.status, err)
		}
		if !errors.As(err, &e) || e.Status != tt.status {
			t.Fatalf("%d: the retryable error must wrap the *Error: %v", tt.status, err)
		}
	}
	srv.Sim.Inject(simulator.Fault{Endpoint: "loganalytics.query", Kind: simulator.FaultInsufficientAccess, Times: 1})
	if _, err := c.Query(ctx, ws, "DeviceNetworkEvents", ""); !errors.As(err, &e) || e.Status != 403 || errors.As(err, &re) {
		t.Fatalf("403: %v", err)
	}
	// A token expired early is replaced once.
	srv.Sim.ExpireTokens()
	if _, err := c.Query(ctx, ws, "DeviceNetworkEvents", ""); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	if _, err := c.Query(ctx, "a/b", "x", ""); err == nil {
		t.Fatal("a workspace id with a slash must be refused")
	}
	// Network failure.
	dead := client(t, srv, func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasPrefix(r.URL.Path, "/v1/workspaces/") {
				return nil, errors.New("connection refused")
			}
			return next.RoundTrip(r)
		})
	})
	if _, err := dead.Query(ctx, ws, "DeviceNetworkEvents", ""); !errors.As(err, &re) {
		t.Fatalf("network: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The fixtures' answers decode, including their numbers and booleans
// written as strings.
func TestFixturesDecode(t *testing.T) {
	srv := start(t, simulator.Options{})
	for _, name := range []string{"query_response.json", "query_get.json"} {
		body := fixtureBody(t, name)
		c := client(t, srv, func(next http.RoundTripper) http.RoundTripper { return canned{next: next, status: 200, body: body} })
		res, err := c.Query(context.Background(), "63613592-b6f7-4c3d-a390-22ba13102111", "Usage | take 10", "PT12H")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tab := res.Primary()
		if len(tab.Columns) != 21 || len(tab.Rows) != 2 {
			t.Fatalf("%s: %d columns, %d rows", name, len(tab.Columns), len(tab.Rows))
		}
		r := tab.Records()[0]
		if r["Computer"] != "ContosoSQLSrv1" || r["BatchesWithinSla"] != int64(1) || r["IsBillable"] != true ||
			r["AvgLatencyInSeconds"] != 1.286 || r["LinkedResourceUri"] != nil ||
			!r["TimeGenerated"].(time.Time).Equal(time.Date(2017, 8, 24, 6, 59, 59, 0, time.UTC)) {
			t.Fatalf("%s: %v", name, r)
		}
	}
}

func TestPartialError(t *testing.T) {
	srv := start(t, simulator.Options{})
	body := []byte(`{"tables":[{"name":"PrimaryResult","columns":[{"name":"n","type":"long"}],"rows":[[1],[2]]}],
		"error":{"code":"PartialError","message":"There were some errors when processing your query.",
		"details":[{"code":"EngineError","message":"Something went wrong processing your query on the server.",
		"innererror":{"code":"-2133196797","message":"Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"}}]}}`)
	c := client(t, srv, func(next http.RoundTripper) http.RoundTripper { return canned{next: next, status: 200, body: body} })
	res, err := c.Query(context.Background(), srv.Info.WorkspaceID, "T", "")
	var pe *loganalytics.PartialError
	if !errors.As(err, &pe) || pe.Code != "PartialError" || len(pe.Details) != 1 || res == nil || len(res.Primary().Rows) != 2 {
		t.Fatalf("partial: %v, %+v", err, res)
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []loganalytics.Config{
		{},
		{TenantID: "t", ClientID: "c", ClientSecret: "s", BaseURL: "http://plain"},
		{TenantID: "t", ClientID: "c", ClientSecret: "s", BaseURL: "::"},
	} {
		if _, err := loganalytics.New(cfg); err == nil {
			t.Errorf("New(%+v) must fail", cfg)
		}
	}
	if _, err := loganalytics.New(loganalytics.Config{TenantID: "t", ClientID: "c", ClientSecret: "s"}); err != nil {
		t.Fatal(err)
	}
}

func FuzzResult(f *testing.F) {
	f.Add(fixtureBody(f, "query_response.json"))
	f.Add([]byte(`{"tables":[{"name":"PrimaryResult","columns":[{"name":"a","type":"datetime"},{"name":"b","type":"long"}],"rows":[["2026-01-01T00:00:00Z",1],[null],["x","y",3]]}],"error":{"code":"PartialError","message":"m","details":[{"code":"c","message":"d","innererror":{"code":"e","message":"f"}}]}}`))
	f.Add([]byte(`{"tables":null}`))
	f.Add([]byte(`{"error":{"code":"BadArgumentError","message":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := loganalytics.Decode(data)
		if res == nil {
			if err == nil {
				t.Fatal("no result and no error")
			}
			return
		}
		for _, tab := range res.Tables {
			recs := tab.Records()
			if len(recs) != len(tab.Rows) {
				t.Fatalf("%d records for %d rows", len(recs), len(tab.Rows))
			}
			for _, typ := range []string{hunt.TableDeviceNetworkEvents, hunt.TableCommonSecurityLog} {
				hits, bad := hunt.Hits(typ, recs)
				if len(hits)+bad != len(recs) {
					t.Fatalf("hits %d + bad %d != %d records", len(hits), bad, len(recs))
				}
			}
		}
	})
}
