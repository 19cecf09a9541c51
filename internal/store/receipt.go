package store

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
)

// content is the part of an alert whose change makes a new version. The
// seen times and the raw payload are left out: every re-send carries new
// ones (Alertmanager's, PagerDuty's and Azure Monitor's re-sends differ
// in their timestamps only).
type content struct {
	product, title, description, severity, status, entities, firing string
}

func contentOf(a *Prepared) content {
	return content{product: a.Product, title: a.Title, description: a.Description, severity: string(a.Severity),
		status: string(a.Status), entities: a.entities, firing: a.Firing}
}

// settledWord is how the timeline says a settled status.
func settledWord(status string) string {
	if alert.Status(status) == alert.StatusDismissed {
		return "dismissed"
	}
	return "resolved"
}

// describeChange says in words what a receipt changed, for the timeline:
// a resolved notification reads "resolved at the source", never "fired
// again".
func describeChange(prev, next content, newFiring bool) string {
	var parts []string
	from, to := alert.Status(prev.status), alert.Status(next.status)
	switch {
	case newFiring && !from.Open():
		parts = append(parts, "fired again after it was "+settledWord(prev.status)+" at the source")
	case newFiring:
		parts = append(parts, "fired again (a new firing)")
	case from != to && !to.Open():
		parts = append(parts, settledWord(next.status)+" at the source")
	case from != to && to == alert.StatusInProgress:
		parts = append(parts, "set in progress at the source")
	case from != to:
		parts = append(parts, "set back to new at the source")
	}
	if prev.severity != next.severity {
		verb := "raised"
		if alert.Severity(next.severity).Rank() < alert.Severity(prev.severity).Rank() {
			verb = "lowered"
		}
		parts = append(parts, "severity "+verb+" from "+prev.severity+" to "+next.severity)
	}
	for _, f := range []struct {
		name    string
		was, is string
	}{{"title", prev.title, next.title}, {"description", prev.description, next.description},
		{"entities", prev.entities, next.entities}, {"product", prev.product, next.product}} {
		if f.was != f.is {
			parts = append(parts, f.name+" changed")
		}
	}
	if len(parts) == 0 {
		return "updated"
	}
	return strings.Join(parts, "; ")
}

// describeIncidentChange says in words what a re-read incident changed.
func describeIncidentChange(prevTitle, prevSev, prevStatus string, in alert.Incident, membersChanged bool) string {
	var parts []string
	from := alert.Status(prevStatus)
	switch {
	case from == in.Status:
	case !in.Status.Open():
		parts = append(parts, settledWord(string(in.Status))+" at the source")
	case !from.Open():
		parts = append(parts, "reopened at the source")
	case in.Status == alert.StatusInProgress:
		parts = append(parts, "set active at the source")
	default:
		parts = append(parts, "set back to new at the source")
	}
	if prevSev != string(in.Severity) {
		verb := "raised"
		if in.Severity.Rank() < alert.Severity(prevSev).Rank() {
			verb = "lowered"
		}
		parts = append(parts, "severity "+verb+" from "+prevSev+" to "+string(in.Severity))
	}
	if prevTitle != in.Title {
		parts = append(parts, "title changed")
	}
	if membersChanged {
		parts = append(parts, "alerts changed")
	}
	if len(parts) == 0 {
		return "updated"
	}
	return strings.Join(parts, "; ")
}

// pulled are the sources vigil reads the state of (pollers): their status
// is the source's own. Every other source pushes firings and resolutions.
var pulled = map[string]bool{"defender": true, "sentinel": true, "graph": true}

func pushed(source string) bool { return !pulled[source] }
