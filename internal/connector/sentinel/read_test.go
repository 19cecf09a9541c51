package sentinel_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func names(incs []*armsecurityinsights.Incident) []string {
	out := make([]string, 0, len(incs))
	for _, inc := range incs {
		out = append(out, *inc.Name)
	}
	return out
}

func TestIncidentsModifiedSince(t *testing.T) {
	e := start(t)
	var inc []string
	var at []time.Time // creation time of each
	for range 5 {
		inc = append(inc, e.raise(t, nil).IncidentName)
		at = append(at, e.clk.Now())
	}
	// An analyst edits the second incident last: it moves to the end.
	e.clk.Advance(time.Minute)
	e.control(t, "/sim/v1/sentinel/incidents/"+inc[1]+"/portal-edit", nil)
	edited := e.clk.Now()
	sentinel.SetPageSize(e.c, 2)

	tests := []struct {
		name     string
		since    time.Time
		want     []string
		requests int64 // pages of 2
	}{
		{"zero lists all, oldest change first", time.Time{}, []string{inc[0], inc[2], inc[3], inc[4], inc[1]}, 3},
		{"bound is inclusive", at[3], []string{inc[3], inc[4], inc[1]}, 2},
		{"only the edit", edited, []string{inc[1]}, 1},
		{"nothing newer", edited.Add(time.Nanosecond), []string{}, 1},
		{"since in another zone", at[4].In(time.FixedZone("CEST", 2*3600)), []string{inc[4], inc[1]}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.c.Requests()
			got, err := e.c.IncidentsModifiedSince(ctx, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("got %v, want %v", names(got), tt.want)
			}
			if n := e.c.Requests() - before; n != tt.requests {
				t.Errorf("requests = %d, want %d", n, tt.requests)
			}
		})
	}
}

func TestIncidentsModifiedSinceUsesLargePages(t *testing.T) {
	e := start(t)
	for range 60 { // more than the service's default page of 50
		e.srv.Sim.World().RaiseDefenderAlert(simulator.AlertSpec{})
	}
	got, err := e.c.IncidentsModifiedSince(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 || e.c.Requests() != 1 {
		t.Errorf("got %d incidents in %d requests, want 60 in 1", len(got), e.c.Requests())
	}
}

func TestOpenIncidents(t *testing.T) {
	e := start(t)
	newInc, active, closed := e.raise(t, nil).IncidentName, e.raise(t, nil).IncidentName, e.raise(t, nil).IncidentName
	e.control(t, "/sim/v1/sentinel/incidents/"+active+"/status", map[string]string{"Status": "Active"})
	e.control(t, "/sim/v1/sentinel/incidents/"+closed+"/status", map[string]string{"Status": "Closed", "Classification": "TruePositive"})
	got, err := e.c.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{newInc, active}; !slices.Equal(names(got), want) {
		t.Errorf("open incidents = %v, want %v", names(got), want)
	}
}

func TestDefenderIncidentMapsToDefenderMember(t *testing.T) {
	e := start(t)
	r := e.raise(t, map[string]any{"severity": "High"})
	inc, err := e.c.Incident(ctx, r.IncidentName)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := e.c.IncidentAlerts(ctx, r.IncidentName)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || *alerts[0].Name != r.SentinelAlertID {
		t.Fatalf("incident alerts = %d, want the one Sentinel alert %s", len(alerts), r.SentinelAlertID)
	}
	got, own, err := sentinel.Map(inc, alerts)
	if err != nil {
		t.Fatal(err)
	}
	world := e.incident(t, r.IncidentName)
	if got.Source != "sentinel" || got.SourceID != r.IncidentName || got.Title != world.Title || got.Severity != alert.SeverityHigh ||
		got.Status != alert.StatusNew || got.FirstSeen.IsZero() || len(got.Raw) == 0 {
		t.Errorf("mapped incident = %+v", got)
	}
	want := []alert.Member{{Source: "defender", SourceID: r.Name, Status: alert.StatusNew}}
	if !slices.Equal(got.Members, want) {
		t.Errorf("members = %+v, want %+v", got.Members, want)
	}
	if len(own) != 0 {
		t.Errorf("returned %d alerts, want none: the Defender alert is the Defender connector's", len(own))
	}
	if s := sentinel.Describe(inc); s.Name != r.IncidentName || s.Number != int32(world.Number) || s.Status != "New" ||
		s.ETag != world.ETag || s.ARMID != e.incidentID(r.IncidentName) || !s.LastModified.Equal(world.LastModified) {
		t.Errorf("Describe = %+v, world has number %d etag %s", s, world.Number, world.ETag)
	}
}

func TestMultiAlertIncident(t *testing.T) {
	e := start(t)
	a, b := e.raise(t, nil), e.raise(t, map[string]any{"noIncident": true})
	e.control(t, "/sim/v1/sentinel/incidents/"+a.IncidentName+"/alerts/"+b.SentinelAlertID, nil)
	e.control(t, "/sim/v1/defender/alerts/"+b.Name+"/dismiss", nil)
	inc, err := e.c.Incident(ctx, a.IncidentName)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := e.c.IncidentAlerts(ctx, a.IncidentName)
	if err != nil {
		t.Fatal(err)
	}
	got, own, err := sentinel.Map(inc, alerts)
	if err != nil {
		t.Fatal(err)
	}
	want := []alert.Member{
		{Source: "defender", SourceID: a.Name, Status: alert.StatusNew},
		{Source: "defender", SourceID: b.Name, Status: alert.StatusDismissed},
	}
	if !slices.Equal(got.Members, want) || len(own) != 0 {
		t.Errorf("members = %+v (and %d alerts), want %+v", got.Members, len(own), want)
	}
	// The Defender dismissal does not reach the incident (Microsoft's gap).
	if got.Status != alert.StatusNew {
		t.Errorf("incident status = %s, want new", got.Status)
	}
}

func TestUnknownIncident(t *testing.T) {
	e := start(t)
	const name = "00000000-0000-0000-0000-000000000000"
	if _, err := e.c.Incident(ctx, name); !errors.Is(err, sentinel.ErrNotFound) {
		t.Errorf("Incident: %v, want ErrNotFound", err)
	}
	if _, err := e.c.IncidentAlerts(ctx, name); !errors.Is(err, sentinel.ErrNotFound) {
		t.Errorf("IncidentAlerts: %v, want ErrNotFound", err)
	}
}
