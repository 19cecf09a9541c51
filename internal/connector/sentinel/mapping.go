package sentinel

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/alert"
)

// defenderProducts are the productName values of Sentinel alerts that come
// from Defender for Cloud (the old name and the new one).
var defenderProducts = []string{"Azure Security Center", "Microsoft Defender for Cloud"}

// defenderSource is the Defender connector's source name; a Defender for
// Cloud alert is held under it, whichever service it was read from.
const defenderSource = "defender"

// Map converts an incident and its alerts. Alerts that Defender for Cloud
// raised become members under source "defender" (the Defender alert name)
// and are not returned: they are the Defender connector's, and one finding
// must be one alert in vigil. Every other alert is returned as a Sentinel
// alert and named as a member.
//
// alerts must be the incident's whole alert list; nil means "not read",
// and leaves the incident's stored members alone.
func Map(inc *armsecurityinsights.Incident, alerts []*armsecurityinsights.SecurityAlert) (alert.Incident, []alert.Alert, error) {
	if inc == nil || inc.Name == nil || *inc.Name == "" || inc.Properties == nil {
		return alert.Incident{}, nil, fmt.Errorf("sentinel incident without name or properties")
	}
	p := inc.Properties
	out := alert.Incident{
		Source: Source, SourceID: *inc.Name, Title: str(p.Title), Description: str(p.Description),
		Severity: incidentSeverity(p.Severity), Status: incidentStatus(p.Status, p.Classification),
		FirstSeen: firstTime(p.FirstActivityTimeUTC, p.CreatedTimeUTC),
		LastSeen:  firstTime(p.LastActivityTimeUTC, p.LastModifiedTimeUTC),
	}
	if out.LastSeen.Before(out.FirstSeen) {
		out.LastSeen = out.FirstSeen
	}
	// A workspace in the Defender portal shows each incident in Graph's
	// security/incidents too; providerIncidentId is its id there.
	if id := str(p.ProviderIncidentID); id != "" {
		out.LinkKey = LinkKey(id)
	}
	raw, err := json.Marshal(inc)
	if err != nil {
		return out, nil, fmt.Errorf("sentinel incident %s: %w", *inc.Name, err)
	}
	out.Raw = raw

	var own []alert.Alert
	if alerts != nil {
		out.Members = make([]alert.Member, 0, len(alerts))
	}
	for _, a := range alerts {
		if a == nil || a.Name == nil || *a.Name == "" {
			return out, nil, fmt.Errorf("sentinel incident %s: an alert without a name", *inc.Name)
		}
		var ap armsecurityinsights.SecurityAlertProperties
		if a.Properties != nil {
			ap = *a.Properties
		}
		status := alertStatus(ap.Status)
		if id := str(ap.ProviderAlertID); id != "" && isDefender(str(ap.ProductName)) {
			out.Members = append(out.Members, alert.Member{Source: defenderSource, SourceID: id, Status: status})
			continue
		}
		out.Members = append(out.Members, alert.Member{Source: Source, SourceID: *a.Name, Status: status})
		m, err := mapAlert(a, status)
		if err != nil {
			return out, nil, fmt.Errorf("sentinel incident %s: %w", *inc.Name, err)
		}
		own = append(own, m)
	}
	return out, own, nil
}

func mapAlert(a *armsecurityinsights.SecurityAlert, status alert.Status) (alert.Alert, error) {
	var p armsecurityinsights.SecurityAlertProperties
	if a.Properties != nil {
		p = *a.Properties
	}
	out := alert.Alert{
		Source: Source, SourceID: *a.Name, Product: str(p.ProductName),
		Title: str(p.AlertDisplayName), Description: str(p.Description),
		Severity: alertSeverity(p.Severity), Status: status,
		FirstSeen: firstTime(p.StartTimeUTC, p.TimeGenerated),
		LastSeen:  firstTime(p.EndTimeUTC, p.ProcessingEndTime),
	}
	if out.Title == "" {
		out.Title = str(p.FriendlyName)
	}
	if out.LastSeen.Before(out.FirstSeen) {
		out.LastSeen = out.FirstSeen
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return out, fmt.Errorf("sentinel alert %s: %w", *a.Name, err)
	}
	out.Raw = raw
	return out, nil
}

func isDefender(product string) bool {
	for _, p := range defenderProducts {
		if strings.EqualFold(p, product) {
			return true
		}
	}
	return false
}

// incidentStatus maps an incident's status. A closed incident is
// dismissed when it was closed as a false or benign positive (nothing to
// fix), resolved otherwise.
func incidentStatus(s *armsecurityinsights.IncidentStatus, c *armsecurityinsights.IncidentClassification) alert.Status {
	switch {
	case s == nil:
		return alert.StatusNew
	case strings.EqualFold(string(*s), string(armsecurityinsights.IncidentStatusActive)):
		return alert.StatusInProgress
	case strings.EqualFold(string(*s), string(armsecurityinsights.IncidentStatusClosed)):
		if c != nil && (strings.EqualFold(string(*c), string(armsecurityinsights.IncidentClassificationFalsePositive)) ||
			strings.EqualFold(string(*c), string(armsecurityinsights.IncidentClassificationBenignPositive))) {
			return alert.StatusDismissed
		}
		return alert.StatusResolved
	}
	return alert.StatusNew
}

// alertStatus maps a Sentinel alert's status through the one spelling
// table in package alert; "" when it is missing or unknown.
func alertStatus(s *armsecurityinsights.AlertStatus) alert.Status {
	if s == nil {
		return ""
	}
	st, _ := alert.StatusFrom(alert.SentinelAlert, string(*s))
	return st
}

func incidentSeverity(s *armsecurityinsights.IncidentSeverity) alert.Severity {
	if s == nil {
		return alert.SeverityMedium
	}
	return severity(string(*s))
}

func alertSeverity(s *armsecurityinsights.AlertSeverity) alert.Severity {
	if s == nil {
		return alert.SeverityMedium
	}
	return severity(string(*s))
}

// severity maps Sentinel's scale, which stops at High; anything unknown
// is Medium, as the service's default.
func severity(s string) alert.Severity {
	switch strings.ToLower(s) {
	case "high":
		return alert.SeverityHigh
	case "low":
		return alert.SeverityLow
	case "informational":
		return alert.SeverityInformational
	}
	return alert.SeverityMedium
}

// Snapshot is what the sync engine needs of an incident to notice and
// explain a change made in Sentinel ("incident 42 closed in Sentinel as
// TruePositive"), and the etag to write with.
type Snapshot struct {
	Name                  string
	ARMID                 string
	Number                int32
	Status                string
	Classification        string
	ClassificationReason  string
	ClassificationComment string
	OwnerEmail            string
	OwnerObjectID         string
	ETag                  string
	LastModified          time.Time
	// Created is when Sentinel created the incident.
	Created time.Time
}

// Describe takes a snapshot of an incident; a nil incident, or one without
// properties, gives what is known (possibly the zero Snapshot).
func Describe(inc *armsecurityinsights.Incident) Snapshot {
	if inc == nil {
		return Snapshot{}
	}
	s := Snapshot{Name: str(inc.Name), ARMID: str(inc.ID), ETag: str(inc.Etag)}
	p := inc.Properties
	if p == nil {
		return s
	}
	if p.IncidentNumber != nil {
		s.Number = *p.IncidentNumber
	}
	if p.Status != nil {
		s.Status = string(*p.Status)
	}
	if p.Classification != nil {
		s.Classification = string(*p.Classification)
	}
	if p.ClassificationReason != nil {
		s.ClassificationReason = string(*p.ClassificationReason)
	}
	s.ClassificationComment = str(p.ClassificationComment)
	if p.Owner != nil {
		s.OwnerEmail, s.OwnerObjectID = str(p.Owner.Email), str(p.Owner.ObjectID)
	}
	if p.LastModifiedTimeUTC != nil {
		s.LastModified = p.LastModifiedTimeUTC.UTC()
	}
	if p.CreatedTimeUTC != nil {
		s.Created = p.CreatedTimeUTC.UTC()
	}
	return s
}

// ref names the incident for people: its number when known, else its name.
func (s Snapshot) ref() string {
	if s.Number > 0 {
		return fmt.Sprintf("incident %d", s.Number)
	}
	return "incident " + s.Name
}

func firstTime(ts ...*time.Time) time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return t.UTC()
		}
	}
	return time.Time{}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// LinkKey is the link key (alert.Incident.LinkKey) of the Defender XDR
// incident id that Sentinel calls providerIncidentId and Graph calls id.
func LinkKey(xdrID string) string { return "xdr:" + xdrID }
