package sentinel_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// logsClient connects a connector that also reads the workspace's tables.
func (e *env) logsClient(t *testing.T) *sentinel.Client {
	t.Helper()
	info := e.srv.Info
	c, err := sentinel.New(sentinel.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
		AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: e.srv.Client(),
		WorkspaceID: info.WorkspaceID, LogAnalyticsURL: info.LogAnalyticsURL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedMixed makes a world of incidents of every kind the resync meets:
// new, active with an owner and labels, closed (left out), one with two
// alerts, one whose alert Defender resolved, and one made by hand with no
// alert.
func seedMixed(t *testing.T, e *env) {
	t.Helper()
	w := e.srv.Sim.World()
	var rs []raised
	for range 8 {
		rs = append(rs, e.raise(t, nil))
	}
	e.clk.Advance(1e9)
	if _, _, err := w.UpdateIncident(rs[1].IncidentName, "", simulator.IncidentUpdate{Title: "Owned", Severity: "High", Status: "Active",
		Owner:  &simulator.Owner{ObjectID: "2046feea-040d-4a46-9e2b-91c2941bfa70", Email: "ada@contoso.com", UserPrincipalName: "ada@contoso.com", AssignedTo: "Ada"},
		Labels: []map[string]any{{"labelName": "vip", "labelType": "User"}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.UpdateIncident(rs[2].IncidentName, "", simulator.IncidentUpdate{Title: "Closed", Severity: "Low", Status: "Closed",
		Classification: "FalsePositive", ClassificationReason: "IncorrectAlertLogic", ClassificationComment: "noise"}); err != nil {
		t.Fatal(err)
	}
	if err := w.RelateAlert(rs[3].IncidentName, rs[4].SentinelAlertID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetDefenderStatus(rs[5].Name, simulator.DfCResolved); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.UpdateIncident("73e01a99-5cd7-4139-a149-9f2736ff2ab5", "", simulator.IncidentUpdate{Title: "By hand",
		Description: "made in the portal", Severity: "Medium", Status: "New"}); err != nil {
		t.Fatal(err)
	}
}

type mapped struct {
	In    alert.Incident
	Own   []alert.Alert
	Snap  sentinel.Snapshot
	ARMID string
}

func mapOne(t *testing.T, inc *armsecurityinsights.Incident, alerts []*armsecurityinsights.SecurityAlert) mapped {
	t.Helper()
	in, own, err := sentinel.Map(inc, alerts)
	if err != nil {
		t.Fatal(err)
	}
	snap := sentinel.Describe(inc)
	// Raw is each API's own JSON, and the tables hold no etag: neither is
	// part of what the sync stores or compares.
	in.Raw, snap.ETag = nil, ""
	for i := range own {
		own[i].Raw = nil
	}
	return mapped{In: in, Own: own, Snap: snap, ARMID: *inc.ID}
}

// TestOpenIncidentsWithAlertsMatchesREST: the query path gives the same
// items as the ARM path (list, then an alert lookup per incident) over a
// world of mixed incidents.
func TestOpenIncidentsWithAlertsMatchesREST(t *testing.T) {
	e := start(t)
	seedMixed(t, e)
	c := e.logsClient(t)

	incs, err := c.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]mapped{}
	for _, inc := range incs {
		alerts, err := c.IncidentAlerts(ctx, *inc.Name)
		if err != nil {
			t.Fatal(err)
		}
		want[*inc.Name] = mapOne(t, inc, alerts)
	}
	armRequests := c.Requests()

	bulk, err := c.OpenIncidentsWithAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests() != armRequests {
		t.Fatalf("the query path sent %d ARM requests", c.Requests()-armRequests)
	}
	if n := c.LogQueries(); n != 2 {
		t.Fatalf("log analytics queries = %d, want 2", n)
	}
	if len(bulk) != len(want) || len(want) != 8 {
		t.Fatalf("query path: %d incidents, ARM path %d, want 8 open", len(bulk), len(want))
	}
	var members, none int
	for _, b := range bulk {
		if b.Alerts == nil {
			t.Fatalf("incident %s: alerts not all read", *b.Incident.Name)
		}
		got := mapOne(t, b.Incident, b.Alerts)
		w, ok := want[*b.Incident.Name]
		if !ok {
			t.Fatalf("incident %s is not open through ARM", *b.Incident.Name)
		}
		if !reflect.DeepEqual(got, w) {
			gj, _ := json.MarshalIndent(got, "", " ")
			wj, _ := json.MarshalIndent(w, "", " ")
			t.Fatalf("incident %s differs:\nquery: %s\nARM:   %s", *b.Incident.Name, gj, wj)
		}
		members += len(got.In.Members)
		if len(b.Alerts) == 0 {
			none++
		}
	}
	if members != 8 || none != 1 {
		t.Fatalf("members = %d, incidents without alerts = %d; want 8 and 1", members, none)
	}
}

// TestOpenIncidentsWithAlertsSplits: an answer over the row limit makes
// the reader split the incidents into hash partitions, which together
// hold them all once.
func TestOpenIncidentsWithAlertsSplits(t *testing.T) {
	e := start(t)
	seedMixed(t, e)
	c := e.logsClient(t)
	first, err := c.OpenIncidentsWithAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	restore := simulator.SetKQLMaxRecords(3)
	defer restore()
	c2 := e.logsClient(t)
	split, err := c2.OpenIncidentsWithAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2.LogQueries() <= 2 {
		t.Fatalf("queries = %d: the answer was not split", c2.LogQueries())
	}
	names := func(bs []sentinel.BulkIncident) []string {
		var out []string
		for _, b := range bs {
			if b.Alerts == nil {
				t.Fatalf("incident %s: alerts not all read", *b.Incident.Name)
			}
			out = append(out, *b.Incident.Name)
		}
		slices.Sort(out)
		return out
	}
	if a, b := names(first), names(split); !slices.Equal(a, b) {
		t.Fatalf("split read %v, whole read %v", b, a)
	}
}

// TestOpenIncidentsWithAlertsAccess: without a workspace id the reader
// says so; an identity without a role on the workspace gets 403, which
// IsAccessError recognises.
func TestOpenIncidentsWithAlertsAccess(t *testing.T) {
	e := start(t)
	seedMixed(t, e)
	if _, err := e.c.OpenIncidentsWithAlerts(ctx); !errors.Is(err, sentinel.ErrNoWorkspaceID) {
		t.Fatalf("without a workspace id: %v", err)
	}
	e.fault(t, simulator.Fault{Endpoint: "loganalytics.query", Kind: simulator.FaultInsufficientAccess})
	_, err := e.logsClient(t).OpenIncidentsWithAlerts(ctx)
	var le *loganalytics.Error
	if !errors.As(err, &le) || le.Status != 403 || !sentinel.IsAccessError(err) {
		t.Fatalf("403: %v", err)
	}
}

// FuzzIncidentRows: any 200 answer of the query API maps to incidents and
// alerts or to an error, never to a panic or an incident without a name.
func FuzzIncidentRows(f *testing.F) {
	for _, p := range []string{"testdata/la_incidents.json", "testdata/la_alerts.json", "../../loganalytics/testdata/query_response.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := loganalytics.Decode(data)
		if err != nil && res == nil {
			return
		}
		incs, ids, err := sentinel.IncidentsFromRows(res.Primary(), "/subscriptions/s/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/w")
		if err == nil {
			if len(incs) != len(ids) {
				t.Fatalf("%d incidents, %d alert id lists", len(incs), len(ids))
			}
			for _, inc := range incs {
				if inc.Name == nil || *inc.Name == "" || inc.ID == nil {
					t.Fatalf("incident without name or id: %+v", inc)
				}
				if _, _, err := sentinel.Map(inc, []*armsecurityinsights.SecurityAlert{}); err != nil {
					t.Fatalf("Map refused a parsed incident: %v", err)
				}
			}
		}
		alerts, err := sentinel.AlertsFromRows(res.Primary(), "/subscriptions/s")
		if err == nil {
			for _, a := range alerts {
				if a.Name == nil || *a.Name == "" {
					t.Fatalf("alert without a name")
				}
			}
		}
	})
}
