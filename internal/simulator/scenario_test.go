package simulator_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestScenarioReproducible checks that a seeded scenario takes the same
// actions every run, and that its users' actions obey the services' rules.
func TestScenarioReproducible(t *testing.T) {
	run := func() []simulator.Action {
		sim := simulator.New(simulator.Options{Seed: 42, Clock: clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))})
		sc := sim.NewScenario()
		var acts []simulator.Action
		for range 200 {
			acts = append(acts, sc.Step())
		}
		// The rules hold after the run: a Defender alert whose incident is
		// closed is resolved; a dismissed Defender alert's incident was not
		// moved by the dismissal alone (it is New, Active or analyst-closed).
		w := sim.World()
		for _, a := range w.DefenderAlerts() {
			inc, ok := w.IncidentByName(a.IncidentName)
			if !ok {
				t.Fatalf("alert %s has no incident", a.Name)
			}
			sa, _ := w.SentinelAlertByID(a.SentinelAlertID)
			if inc.Status == simulator.IncidentClosed && (a.Status != simulator.DfCResolved || sa.Status != simulator.SentinelAlertResolved) {
				t.Errorf("incident %s closed but alert is %s / %s", inc.Name, a.Status, sa.Status)
			}
		}
		return acts
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("two runs with the same seed differ")
	}
	verbs := map[string]int{}
	for _, act := range a {
		verbs[act.Verb]++
	}
	for _, v := range []string{"raise", "dismiss", "resolve", "inProgress", "activate-incident", "close-incident"} {
		if verbs[v] == 0 {
			t.Errorf("200 steps never did %q (%v)", v, verbs)
		}
	}
}
