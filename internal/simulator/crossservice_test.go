package simulator_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// xsStatuses reads the three statuses of a raised alert from the world.
func xsStatuses(t *testing.T, srv *simulator.Server, r dfcRaised) (dfc, sentinelAlert, incident string) {
	t.Helper()
	w := srv.Sim.World()
	a, ok := w.DefenderAlertByName(r.Name)
	if !ok {
		t.Fatalf("defender alert %s missing", r.Name)
	}
	sa, ok := w.SentinelAlertByID(r.SentinelAlertID)
	if !ok || a.SentinelAlertID != r.SentinelAlertID {
		t.Fatalf("sentinel alert %s missing", r.SentinelAlertID)
	}
	inc, ok := w.IncidentByName(r.IncidentName)
	if !ok || a.IncidentName != r.IncidentName || !slices.Contains(inc.AlertIDs, r.SentinelAlertID) {
		t.Fatalf("incident %s missing or without its alert", r.IncidentName)
	}
	return a.Status, sa.Status, inc.Status
}

// xsIncidentStatus sets an incident's status as an analyst in the Sentinel
// portal does.
func xsIncidentStatus(t *testing.T, srv *simulator.Server, incident string, body map[string]string) {
	t.Helper()
	resp, b := send(t, srv, "POST", "/sim/v1/sentinel/incidents/"+incident+"/status", "", body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("incident status: %d %s", resp.StatusCode, b)
	}
}

// TestCrossService is the documented table, row by row: who acts, and
// what each service then shows. A Defender for Cloud state change reaches
// the Sentinel alert but not the incident; closing the incident resolves
// its alerts in both services; setting it Active changes nothing else.
func TestCrossService(t *testing.T) {
	srv := start(t, simulator.Options{})
	ctx := context.Background()
	c := dfcClient(t, srv, nil, nil)
	rows := []struct {
		initiator, action string
		do                func(t *testing.T, r dfcRaised)
		dfc, alert, inc   string
	}{
		{"DfC", "new alert", func(*testing.T, dfcRaised) {}, "Active", "New", "New"},
		{"DfC", "set In progress", func(t *testing.T, r dfcRaised) {
			_, loc, name := dfcIDParts(t, r.ID)
			if _, err := c.UpdateSubscriptionLevelStateToInProgress(ctx, loc, name, nil); err != nil {
				t.Fatal(err)
			}
		}, "InProgress", "InProgress", "New"},
		{"DfC", "dismiss", func(t *testing.T, r dfcRaised) {
			rg, loc, name := dfcIDParts(t, r.ID)
			if _, err := c.UpdateResourceGroupLevelStateToDismiss(ctx, rg, loc, name, nil); err != nil {
				t.Fatal(err)
			}
		}, "Dismissed", "Dismissed", "New"},
		{"DfC", "resolve", func(t *testing.T, r dfcRaised) {
			_, loc, name := dfcIDParts(t, r.ID)
			if _, err := c.UpdateSubscriptionLevelStateToResolve(ctx, loc, name, nil); err != nil {
				t.Fatal(err)
			}
		}, "Resolved", "Resolved", "New"},
		{"Sentinel", "set incident Active", func(t *testing.T, r dfcRaised) {
			xsIncidentStatus(t, srv, r.IncidentName, map[string]string{"Status": "Active"})
		}, "Active", "New", "Active"},
		{"Sentinel", "close incident", func(t *testing.T, r dfcRaised) {
			xsIncidentStatus(t, srv, r.IncidentName, map[string]string{"Status": "Closed", "Classification": "TruePositive"})
		}, "Resolved", "Resolved", "Closed"},
	}
	for _, row := range rows {
		t.Run(row.initiator+" "+row.action, func(t *testing.T) {
			r := dfcRaise(t, srv, nil)
			row.do(t, r)
			dfc, alert, inc := xsStatuses(t, srv, r)
			if dfc != row.dfc || alert != row.alert || inc != row.inc {
				t.Errorf("DfC %s, Sentinel alert %s, incident %s; want %s, %s, %s", dfc, alert, inc, row.dfc, row.alert, row.inc)
			}
			// Defender for Cloud's API shows the same status as its state.
			_, loc, name := dfcIDParts(t, r.ID)
			got, err := c.GetSubscriptionLevel(ctx, loc, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(*got.Properties.Status) != row.dfc {
				t.Errorf("API status %s, want %s", *got.Properties.Status, row.dfc)
			}
		})
	}
}

// TestCrossServiceMultiAlertIncident relates more alerts to one incident:
// a Defender for Cloud change to one of them still leaves the incident
// alone, and closing the incident resolves every alert it holds. The
// related alerts' own incidents are not touched.
func TestCrossServiceMultiAlertIncident(t *testing.T) {
	srv := start(t, simulator.Options{})
	ctx := context.Background()
	c := dfcClient(t, srv, nil, nil)
	w := srv.Sim.World()
	primary := dfcRaise(t, srv, nil)
	b := dfcRaise(t, srv, nil)
	// An alert without an incident of its own.
	cr := dfcRaise(t, srv, map[string]any{"noIncident": true})
	if cr.IncidentName != "" {
		t.Fatalf("noIncident alert has incident %s", cr.IncidentName)
	}
	for _, r := range []dfcRaised{b, cr} {
		resp, body := send(t, srv, "POST", "/sim/v1/sentinel/incidents/"+primary.IncidentName+"/alerts/"+r.SentinelAlertID, "", nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("relate: %d %s", resp.StatusCode, body)
		}
	}
	// Relating twice keeps one link; unknown names are 404s.
	if resp, _ := send(t, srv, "POST", "/sim/v1/sentinel/incidents/"+primary.IncidentName+"/alerts/"+b.SentinelAlertID, "", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("relate again: %d", resp.StatusCode)
	}
	if resp, _ := send(t, srv, "POST", "/sim/v1/sentinel/incidents/"+primary.IncidentName+"/alerts/no-such-alert", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("relate unknown alert: %d, want 404", resp.StatusCode)
	}
	if resp, _ := send(t, srv, "POST", "/sim/v1/sentinel/incidents/no-such-incident/alerts/"+b.SentinelAlertID, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("relate to unknown incident: %d, want 404", resp.StatusCode)
	}
	inc, _ := w.IncidentByName(primary.IncidentName)
	if want := []string{primary.SentinelAlertID, b.SentinelAlertID, cr.SentinelAlertID}; !slices.Equal(inc.AlertIDs, want) {
		t.Fatalf("incident alerts %v, want %v", inc.AlertIDs, want)
	}

	// Dismissing one alert in Defender for Cloud: its Sentinel alert
	// follows, the incident does not.
	_, loc, name := dfcIDParts(t, b.ID)
	if _, err := c.UpdateSubscriptionLevelStateToDismiss(ctx, loc, name, nil); err != nil {
		t.Fatal(err)
	}
	if sa, _ := w.SentinelAlertByID(b.SentinelAlertID); sa.Status != simulator.SentinelAlertDismissed {
		t.Errorf("dismissed alert's Sentinel alert %s", sa.Status)
	}
	if inc, _ := w.IncidentByName(primary.IncidentName); inc.Status != simulator.IncidentNew {
		t.Errorf("incident %s after a DfC dismiss, want New", inc.Status)
	}

	// Setting it Active changes no alert.
	xsIncidentStatus(t, srv, primary.IncidentName, map[string]string{"Status": "Active"})
	for _, r := range []dfcRaised{primary, cr} {
		if a, _ := w.DefenderAlertByName(r.Name); a.Status != simulator.DfCActive {
			t.Errorf("alert %s is %s after the incident went Active", r.Name, a.Status)
		}
	}

	// Closing it resolves all three, in Sentinel and in Defender for Cloud.
	xsIncidentStatus(t, srv, primary.IncidentName, map[string]string{"Status": "Closed", "Classification": "TruePositive"})
	for _, r := range []dfcRaised{primary, b, cr} {
		a, _ := w.DefenderAlertByName(r.Name)
		sa, _ := w.SentinelAlertByID(r.SentinelAlertID)
		if a.Status != simulator.DfCResolved || sa.Status != simulator.SentinelAlertResolved {
			t.Errorf("alert %s: DfC %s, Sentinel %s; want Resolved, Resolved", r.Name, a.Status, sa.Status)
		}
		_, loc, name := dfcIDParts(t, r.ID)
		if got, err := c.GetSubscriptionLevel(ctx, loc, name, nil); err != nil || *got.Properties.Status != "Resolved" {
			t.Errorf("alert %s through the API: %v", r.Name, err)
		}
	}
	if inc, _ := w.IncidentByName(primary.IncidentName); inc.Status != simulator.IncidentClosed || inc.Classification != "TruePositive" {
		t.Errorf("incident %s %s, want Closed TruePositive", inc.Status, inc.Classification)
	}
	// b's own incident still stands: closing another incident that holds
	// its alert does not close it.
	if own, _ := w.IncidentByName(b.IncidentName); own.Status != simulator.IncidentNew {
		t.Errorf("b's own incident is %s, want New", own.Status)
	}

	// Closing without a classification is refused, as Sentinel does.
	other := dfcRaise(t, srv, nil)
	resp, body := send(t, srv, "POST", "/sim/v1/sentinel/incidents/"+other.IncidentName+"/status", "", map[string]string{"Status": "Closed"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("close without classification: %d %s, want 400", resp.StatusCode, body)
	}
	if dfc, alert, inc := xsStatuses(t, srv, other); dfc != "Active" || alert != "New" || inc != "New" {
		t.Errorf("a refused close changed state: %s %s %s", dfc, alert, inc)
	}
}

// TestCrossServiceRefusedUpdateCreatesNothing: a PUT the service refuses
// (closing without a classification, an unknown status) must not leave
// a new incident behind, nor change an existing one.
func TestCrossServiceRefusedUpdateCreatesNothing(t *testing.T) {
	w := simulator.New(simulator.Options{Preload: 1}).World()
	const name = "6c7e2f4a-2b1d-4c3e-9f8a-7b6c5d4e3f2a"
	for _, u := range []simulator.IncidentUpdate{
		{Title: "t", Severity: "High", Status: simulator.IncidentClosed},
		{Title: "t", Severity: "High", Status: "Open"},
	} {
		if _, _, err := w.UpdateIncident(name, "", u); err == nil {
			t.Errorf("%+v accepted", u)
		}
		if _, ok := w.IncidentByName(name); ok {
			t.Errorf("refused %+v created the incident", u)
		}
	}
	existing := w.Incidents()[0]
	if _, _, err := w.UpdateIncident(existing.Name, existing.ETag, simulator.IncidentUpdate{Status: simulator.IncidentClosed}); err == nil {
		t.Error("close without classification accepted")
	}
	if inc, _ := w.IncidentByName(existing.Name); inc.Status != simulator.IncidentNew || inc.ETag != existing.ETag || len(w.Incidents()) != 1 {
		t.Errorf("a refused update changed the world: %s %s, %d incidents", inc.Status, inc.ETag, len(w.Incidents()))
	}
}
