package simulator

import (
	"context"
	"math/rand/v2"
	"time"
)

// Scenario drives the simulated tenant as its users would: alerts keep
// arriving from a catalogue of real alert types, a subscription owner
// dismisses or resolves some in Defender for Cloud, and an analyst sets
// incidents Active or closes them in Sentinel. It is seeded, so a run is
// reproducible; Step performs one action, Run steps on a ticker.
type Scenario struct {
	sim *Simulator
	rng *rand.Rand
}

// Action is what one step did, for logs and tests.
type Action struct {
	Actor  string // "defender" (the alert source), "owner" (subscription owner), "analyst"
	Verb   string // "raise", "dismiss", "resolve", "inProgress", "activate-incident", "close-incident"
	Target string // alert or incident name
}

// NewScenario returns a scenario seeded from the simulator's seed.
func (s *Simulator) NewScenario() *Scenario {
	return &Scenario{sim: s, rng: rand.New(rand.NewPCG(s.opt.Seed, 0x5ce7a410))}
}

// classifications an analyst picks when closing, with realistic weights:
// most Defender for Cloud alerts that reach an analyst are true positives
// or benign.
var classifications = []struct {
	class, reason string
	weight        int
}{
	{"TruePositive", "SuspiciousActivity", 5},
	{"BenignPositive", "SuspiciousButExpected", 3},
	{"FalsePositive", "IncorrectAlertLogic", 2},
}

// Step performs one user action and reports it.
func (sc *Scenario) Step() Action {
	w := sc.sim.world
	sc.fillTelemetry() // telemetry.go
	roll := sc.rng.IntN(100)
	switch {
	case roll < 55:
		a := w.RaiseDefenderAlert(AlertSpec{})
		return Action{Actor: "defender", Verb: "raise", Target: a.Name}
	case roll < 80:
		// The subscription owner works in Defender for Cloud.
		var open []string
		for _, a := range w.DefenderAlerts() {
			if a.Status == DfCActive || a.Status == DfCInProgress {
				open = append(open, a.Name)
			}
		}
		if len(open) == 0 {
			break
		}
		name := open[sc.rng.IntN(len(open))]
		status, verb := DfCDismissed, "dismiss"
		switch sc.rng.IntN(3) {
		case 0:
			status, verb = DfCResolved, "resolve"
		case 1:
			status, verb = DfCInProgress, "inProgress"
		}
		if _, err := w.SetDefenderStatus(name, status); err == nil {
			return Action{Actor: "owner", Verb: verb, Target: name}
		}
	default:
		// The analyst works in Sentinel.
		var open []Incident
		for _, inc := range w.Incidents() {
			if inc.Status != IncidentClosed {
				open = append(open, inc)
			}
		}
		if len(open) == 0 {
			break
		}
		inc := open[sc.rng.IntN(len(open))]
		u := IncidentUpdate{Title: inc.Title, Description: inc.Description, Severity: inc.Severity, Status: IncidentActive,
			Owner: &Owner{Email: "analyst@contoso.com", AssignedTo: "SOC Analyst", UserPrincipalName: "analyst@contoso.com", ObjectID: "6b1b8b5e-2f1a-4c35-9a3e-6f0f3f5c2a11"}}
		verb := "activate-incident"
		if inc.Status == IncidentActive {
			c := sc.pickClassification()
			u.Status, u.Classification, u.ClassificationReason = IncidentClosed, c.class, c.reason
			u.ClassificationComment = "Closed in the Sentinel portal by the on-shift analyst."
			verb = "close-incident"
		}
		if _, _, err := w.UpdateIncident(inc.Name, "", u); err == nil {
			return Action{Actor: "analyst", Verb: verb, Target: inc.Name}
		}
	}
	a := w.RaiseDefenderAlert(AlertSpec{})
	return Action{Actor: "defender", Verb: "raise", Target: a.Name}
}

func (sc *Scenario) pickClassification() struct {
	class, reason string
	weight        int
} {
	total := 0
	for _, c := range classifications {
		total += c.weight
	}
	n := sc.rng.IntN(total)
	for _, c := range classifications {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return classifications[0]
}

// Run steps every interval until ctx is done.
func (sc *Scenario) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			act := sc.Step()
			sc.sim.log.Info("scenario", "actor", act.Actor, "verb", act.Verb, "target", act.Target)
		}
	}
}
