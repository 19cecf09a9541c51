package twoway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestReconcilerOnTheTenant runs the reconciler's rules end to end: alerts
// change in Defender for Cloud, one sync cycle runs, and the Sentinel
// incident in the simulated tenant is what the table says.
func TestReconcilerOnTheTenant(t *testing.T) {
	const (
		A = simulator.DfCActive
		P = simulator.DfCInProgress
		D = simulator.DfCDismissed
		R = simulator.DfCResolved
	)
	tests := []struct {
		name           string
		alerts         []string // Defender statuses set after the first cycle, one per alert
		incidentActive bool     // an analyst set the incident Active first
		wantStatus     string
		wantClass      string
		wantWhy        string
	}{
		{"dismissed closes as BenignPositive", []string{D}, false, simulator.IncidentClosed, "BenignPositive", "all 1 alert dismissed"},
		{"resolved closes as TruePositive", []string{R}, false, simulator.IncidentClosed, "TruePositive", "all 1 alert resolved"},
		{"in progress while New sets Active", []string{P}, false, simulator.IncidentActive, "", "in progress in Defender for Cloud while the incident is New"},
		{"still new leaves it", []string{A}, false, simulator.IncidentNew, "", ""},
		{"already Active and in progress: nothing", []string{P}, true, simulator.IncidentActive, "", ""},
		{"several alerts, one still new: open", []string{D, A}, false, simulator.IncidentNew, "", ""},
		{"several alerts, one in progress: Active, not closed", []string{R, P}, false, simulator.IncidentActive, "", "in progress"},
		{"several alerts all dismissed: BenignPositive", []string{D, D, D}, false, simulator.IncidentClosed, "BenignPositive", "all 3 alerts dismissed"},
		{"mixed resolved and dismissed: TruePositive", []string{R, D}, false, simulator.IncidentClosed, "TruePositive", "1 resolved, 1 dismissed"},
	}
	h := newHarness(t)
	type setup struct {
		alerts   []string
		incident string
	}
	cases := make([]setup, len(tests))
	for i, tt := range tests {
		names, inc := h.raise(len(tt.alerts))
		cases[i] = setup{names, inc}
		if tt.incidentActive {
			if err := h.sim.Sim.World().WithIncident(inc, func(in *simulator.Incident) (bool, error) {
				in.Status = simulator.IncidentActive
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.cycle() // vigil learns every incident and alert
	for i, tt := range tests {
		for j, st := range tt.alerts {
			if st != A {
				h.setDefender(cases[i].alerts[j], st)
			}
		}
	}
	h.cycle() // one cycle: poll, reconcile, write
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := h.incident(cases[i].incident)
			if inc.Status != tt.wantStatus || inc.Classification != tt.wantClass {
				t.Errorf("incident = %s %s, want %s %s", inc.Status, inc.Classification, tt.wantStatus, tt.wantClass)
			}
			it := h.itemOf(cases[i].incident)
			var decided string
			for _, e := range h.timeline(it.ID) {
				if strings.HasPrefix(e.Message, "reconciler:") {
					decided = e.Message
					if raw, _ := json.Marshal(e.Data); !strings.Contains(string(raw), `"alerts":{`) {
						t.Errorf("decision %q is recorded without its inputs: %v", e.Message, e.Data)
					}
				}
			}
			switch {
			case tt.wantWhy == "" && decided != "":
				t.Errorf("timeline has decision %q, want none", decided)
			case tt.wantWhy != "" && !strings.Contains(decided, tt.wantWhy):
				t.Errorf("decision = %q, want one saying %q", decided, tt.wantWhy)
			}
			if tt.wantStatus == simulator.IncidentClosed && !strings.Contains(inc.ClassificationComment, "Closed by vigil") {
				t.Errorf("closure comment = %q", inc.ClassificationComment)
			}
		})
	}

	// The next cycle sees the closed incidents and makes their items
	// follow; nothing is decided or written twice.
	outboxBefore, _ := h.db.ListOutbox(context.Background(), "", 0, 0, 500)
	h.cycle()
	h.cycle()
	outboxAfter, _ := h.db.ListOutbox(context.Background(), "", 0, 0, 500)
	if len(outboxAfter) != len(outboxBefore) {
		t.Errorf("outbox grew from %d to %d messages on quiet cycles: something echoes", len(outboxBefore), len(outboxAfter))
	}
	for i, tt := range tests {
		it := h.itemOf(cases[i].incident)
		if closed := tt.wantStatus == simulator.IncidentClosed; closed != (it.State == "Closed") {
			t.Errorf("%s: work item is %s", tt.name, it.State)
		}
	}
}
