package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// SourceAzureMonitor is the alert source of Azure Monitor action-group
// webhooks in the common alert schema.
const SourceAzureMonitor = "azuremonitor"

// AzureMonitorSchemaID is the schemaId of the common alert schema. Action
// groups send other shapes unless "Enable the common alert schema" is on.
const AzureMonitorSchemaID = "azureMonitorCommonAlertSchema"

type azBody struct {
	SchemaID string `json:"schemaId"`
	Data     *struct {
		Essentials *azEssentials `json:"essentials"`
	} `json:"data"`
}

type azEssentials struct {
	AlertID            string   `json:"alertId"`
	AlertRule          string   `json:"alertRule"`
	Severity           string   `json:"severity"`
	SignalType         string   `json:"signalType"`
	MonitorCondition   string   `json:"monitorCondition"`
	MonitoringService  string   `json:"monitoringService"`
	AlertTargetIDs     []string `json:"alertTargetIDs"`
	ConfigurationItems []string `json:"configurationItems"`
	FiredDateTime      string   `json:"firedDateTime"`
	ResolvedDateTime   string   `json:"resolvedDateTime"`
	Description        string   `json:"description"`
}

var azSeverities = map[string]alert.Severity{
	"sev0": alert.SeverityCritical,
	"sev1": alert.SeverityHigh,
	"sev2": alert.SeverityMedium,
	"sev3": alert.SeverityLow,
	"sev4": alert.SeverityInformational,
}

const azEss = "data.essentials."

// ParseAzureMonitor maps an Azure Monitor action-group webhook body in the
// common alert schema to a vigil alert. Errors are *validation.FieldError
// naming the JSON path, e.g. "data.essentials.alertId". alertContext is not
// mapped (its shape differs per signal type); it stays in Raw.
func ParseAzureMonitor(body []byte, now time.Time) (alert.Alert, error) {
	var in azBody
	if err := json.Unmarshal(body, &in); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return alert.Alert{}, fieldErr("body", "%s", jsonSyntaxMessage(body, err))
		}
		if te.Field == "" {
			return alert.Alert{}, fieldErr("body", "must be a JSON object, not %s", te.Value)
		}
		return alert.Alert{}, fieldErr(te.Field, "%s", typeMessage(te))
	}
	switch {
	case in.SchemaID == "":
		return alert.Alert{}, fieldErr("schemaId", "is required; enable the common alert schema on the action group's webhook")
	case in.SchemaID != AzureMonitorSchemaID:
		return alert.Alert{}, fieldErr("schemaId", "must be %q, not %q; enable the common alert schema on the action group's webhook", AzureMonitorSchemaID, in.SchemaID)
	case in.Data == nil:
		return alert.Alert{}, fieldErr("data", "is required")
	case in.Data.Essentials == nil:
		return alert.Alert{}, fieldErr("data.essentials", "is required")
	}
	e := in.Data.Essentials
	switch {
	case strings.TrimSpace(e.AlertID) == "":
		return alert.Alert{}, fieldErr(azEss+"alertId", "is required")
	// The title is the rule name alone; without it Normalize would blame
	// "title", a field the sender never saw.
	case strings.TrimSpace(e.AlertRule) == "":
		return alert.Alert{}, fieldErr(azEss+"alertRule", "is required")
	}

	a := alert.Alert{
		Source:      SourceAzureMonitor,
		SourceID:    e.AlertID,
		Product:     "Azure Monitor",
		Title:       truncate(e.AlertRule, alert.MaxTitle),
		Description: truncate(e.Description, alert.MaxDescription),
		Severity:    alert.SeverityMedium,
		Status:      alert.StatusNew,
		Raw:         bytes.Clone(body),
	}
	if s := strings.TrimSpace(e.MonitoringService); s != "" {
		a.Product += " " + s
	}
	if e.Severity != "" {
		sev, ok := azSeverities[strings.ToLower(e.Severity)]
		if !ok {
			return alert.Alert{}, fieldErr(azEss+"severity", "unknown severity %q (want Sev0 to Sev4)", e.Severity)
		}
		a.Severity = sev
	}
	switch strings.ToLower(e.MonitorCondition) {
	case "", "fired":
	case "resolved":
		a.Status = alert.StatusResolved
	default:
		return alert.Alert{}, fieldErr(azEss+"monitorCondition", "unknown condition %q (want Fired or Resolved)", e.MonitorCondition)
	}

	fired, err := azTime(e.FiredDateTime, "firedDateTime")
	if err != nil {
		return alert.Alert{}, err
	}
	resolved, err := azTime(e.ResolvedDateTime, "resolvedDateTime")
	if err != nil {
		return alert.Alert{}, err
	}
	a.LastSeen = now
	if !resolved.IsZero() {
		if !fired.IsZero() && resolved.Before(fired) {
			return alert.Alert{}, fieldErr(azEss+"resolvedDateTime", "is before firedDateTime")
		}
		a.LastSeen = notAfter(resolved, now).UTC()
	}
	a.FirstSeen = a.LastSeen
	if !fired.IsZero() {
		a.FirstSeen = notAfter(fired, a.LastSeen).UTC()
		a.Firing = fired.UTC().Format(time.RFC3339Nano)
	}
	a.Entities = azEntities(e)

	if err := a.Normalize(now); err != nil {
		return alert.Alert{}, azFieldError(err)
	}
	return a, nil
}

// azTime parses an essentials time. Azure writes UTC with a "Z"; a value
// without a zone is read as UTC rather than rejected.
func azTime(s, field string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := parseLenientTime(s)
	if err != nil {
		return time.Time{}, fieldErr(azEss+field, "%q is not an ISO 8601 date-time", s)
	}
	return t, nil
}

func azEntities(e *azEssentials) []alert.Entity {
	var set entitySet
	for _, id := range e.AlertTargetIDs {
		set.add(armEntity(id)...)
	}
	for _, ci := range e.ConfigurationItems {
		ci = strings.TrimSpace(ci)
		// Log search alerts (Log Alerts V2) put full resource ids here
		// rather than host names.
		if strings.HasPrefix(ci, "/") {
			set.add(armEntity(ci)...)
			continue
		}
		for _, ent := range locationEntities(ci) {
			// A configuration item is a resource name, never a URL; only
			// its host meaning is kept.
			if ent.Kind == alert.EntityHost || ent.Kind == alert.EntityIP {
				set.add(ent)
			}
		}
	}
	return set.list
}

// armEntity makes a cloud_resource entity of an Azure Resource Manager id.
// ARM ids are case-insensitive and Azure is inconsistent about their case
// (the fixture's target says "resourcegroups", its alert id "providers/
// Microsoft..."), so the value is lower-cased for pivoting to work.
func armEntity(id string) []alert.Entity {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return nil
	}
	ent := alert.Entity{Kind: alert.EntityCloudResource, Value: id}
	if t := armType(id); t != "" {
		ent.Attrs = map[string]string{"type": t}
	}
	return []alert.Entity{ent}
}

// armType returns the resource type of a lower-cased ARM id, e.g.
// "microsoft.compute/virtualmachines", or "" if it has none.
func armType(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	last := -1
	for i, s := range segs {
		if s == "providers" {
			last = i
		}
	}
	if last >= 0 && last+2 < len(segs) {
		t := segs[last+1]
		for i := last + 2; i < len(segs); i += 2 {
			t += "/" + segs[i]
		}
		return t
	}
	switch {
	case len(segs) == 2 && segs[0] == "subscriptions":
		return "microsoft.resources/subscriptions"
	case len(segs) == 4 && segs[0] == "subscriptions" && segs[2] == "resourcegroups":
		return "microsoft.resources/resourcegroups"
	}
	return ""
}

// azFieldNames maps vigil's field names back to the payload's.
var azFieldNames = map[string]string{
	"title":       azEss + "alertRule",
	"source_id":   azEss + "alertId",
	"description": azEss + "description",
	"entities":    azEss + "alertTargetIDs",
}

func azFieldError(err error) error {
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	if i := strings.IndexAny(field, ".["); i > 0 {
		field = field[:i]
	}
	if f, ok := azFieldNames[field]; ok {
		return fieldErr(f, "%s", fe.Message)
	}
	return err
}
