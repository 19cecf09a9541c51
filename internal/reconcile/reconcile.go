// Package reconcile closes the gap Microsoft leaves between Defender for
// Cloud and Sentinel: a Defender for Cloud alert's state change reaches
// the Sentinel alert but not the incident. For each open Sentinel incident
// of Defender for Cloud origin, Decide looks at the latest state of its
// alerts and says what the incident should become, and why.
//
// The rules:
//   - every alert Dismissed → close the incident as BenignPositive;
//   - every alert Resolved, or a mix of Resolved and Dismissed → close it
//     as TruePositive (a resolved alert was a real finding, so a mixed
//     incident held at least one);
//   - any alert still New or InProgress → leave the incident open; if one
//     is InProgress while the incident is New, set the incident Active;
//   - an incident already Active with an alert InProgress → nothing.
//
// Decide is a pure function so that a pass over a whole workspace is cheap
// (see BenchmarkPass) and every decision can be recorded with its inputs.
package reconcile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Sentinel incident statuses.
const (
	IncidentNew    = "New"
	IncidentActive = "Active"
	IncidentClosed = "Closed"
)

// Action is what the reconciler does to an incident.
type Action string

// Actions.
const (
	None     Action = ""
	Activate Action = "activate"
	Close    Action = "close"
)

// Alert is the latest state of one of an incident's alerts, in vigil's
// normalized spelling (Defender "Active" is "new").
type Alert struct {
	ID     string
	Status alert.Status
}

// Incident is an open Sentinel incident with its alerts.
type Incident struct {
	ID     string
	Status string // New, Active or Closed
	Alerts []Alert
}

// Decision says what to do with one incident, why, and on which inputs.
type Decision struct {
	IncidentID           string
	Action               Action
	Classification       string // TruePositive or BenignPositive, when closing
	ClassificationReason string
	// Comment is the closure comment written on the Sentinel incident.
	Comment string
	// Why explains the decision for the timeline, naming the rule.
	Why string
	// Inputs are the states the decision was taken on.
	IncidentStatus string
	Alerts         []Alert
}

// Decide applies the rules to one incident.
func Decide(inc Incident) Decision {
	d := Decision{IncidentID: inc.ID, IncidentStatus: inc.Status, Alerts: inc.Alerts}
	if inc.Status == IncidentClosed {
		d.Why = "incident is already closed"
		return d
	}
	if len(inc.Alerts) == 0 {
		d.Why = "incident has no alerts; nothing to follow"
		return d
	}
	var n, inProgress, dismissed, resolved int
	for _, a := range inc.Alerts {
		switch a.Status {
		case alert.StatusNew:
			n++
		case alert.StatusInProgress:
			inProgress++
		case alert.StatusDismissed:
			dismissed++
		case alert.StatusResolved:
			resolved++
		}
	}
	total := len(inc.Alerts)
	switch {
	case n+inProgress > 0:
		// Still being worked at the source: the incident stays open.
		if inProgress > 0 && inc.Status == IncidentNew {
			d.Action = Activate
			d.Why = fmt.Sprintf("%s is in progress in Defender for Cloud while the incident is New", plural(inProgress, "alert"))
			return d
		}
		d.Why = fmt.Sprintf("%s still open in Defender for Cloud (%d new, %d in progress)", plural(n+inProgress, "alert"), n, inProgress)
		if inc.Status == IncidentActive && inProgress > 0 {
			d.Why = "incident is already Active and an alert is in progress"
		}
		return d
	case dismissed == total:
		d.Action, d.Classification, d.ClassificationReason = Close, "BenignPositive", "SuspiciousButExpected"
		d.Why = fmt.Sprintf("all %s dismissed in Defender for Cloud", plural(total, "alert"))
	default:
		d.Action, d.Classification, d.ClassificationReason = Close, "TruePositive", "SuspiciousActivity"
		if dismissed == 0 {
			d.Why = fmt.Sprintf("all %s resolved in Defender for Cloud", plural(total, "alert"))
		} else {
			d.Why = fmt.Sprintf("all %d alerts closed in Defender for Cloud (%d resolved, %d dismissed); a resolved alert was a real finding", total, resolved, dismissed)
		}
	}
	d.Comment = closureComment(d, inc)
	return d
}

// closureComment is written on the Sentinel incident when vigil closes it,
// so that an analyst reading Sentinel alone learns who closed it and why.
// Its form: "Closed by vigil: <why>. Alerts: <id> (<status>), …".
func closureComment(d Decision, inc Incident) string {
	parts := make([]string, len(inc.Alerts))
	for i, a := range inc.Alerts {
		parts[i] = fmt.Sprintf("%s (%s)", a.ID, a.Status)
	}
	sort.Strings(parts)
	return fmt.Sprintf("Closed by vigil as %s: %s. Alerts: %s.", d.Classification, d.Why, strings.Join(parts, ", "))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Pass decides every incident and returns the decisions that change
// something, in input order.
func Pass(incidents []Incident) []Decision {
	var out []Decision
	for _, inc := range incidents {
		if d := Decide(inc); d.Action != None {
			out = append(out, d)
		}
	}
	return out
}
