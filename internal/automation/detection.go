package automation

import (
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Detection names what raised an alert, for the reports' detection
// quality: the analytic rule and the alert type, read from the raw payload
// in the rules' own vocabulary (analytic_rule_ids, alert_type, labels).
//
// The rule is the first analytic rule id the source names (Sentinel), else
// Alertmanager's alertname label, else the alert's title: a Sentinel
// scheduled rule's alerts are titled by the rule, and Defender's by their
// detection. The type is the alert type where the source names one, else
// the product, else the source.
func Detection(a *alert.Alert, in *alert.Incident) (rule, alertType string) {
	if a == nil && in == nil {
		return "", ""
	}
	act := newActivation(&Event{Alert: a, Incident: in})
	f := act.facts()
	switch {
	case len(f.ruleIDs) > 0:
		rule = ruleName(f.ruleIDs[0])
	case f.labels["alertname"] != "":
		rule = f.labels["alertname"]
	case a != nil:
		rule = a.Title
	default:
		rule = in.Title
	}
	switch {
	case len(f.alertTypes) > 0:
		alertType = f.alertTypes[0]
	case len(f.products) > 0:
		alertType = f.products[0]
	case a != nil && a.Product != "":
		alertType = a.Product
	case a != nil:
		alertType = a.Source
	default:
		alertType = in.Source
	}
	return rule, alertType
}

// ruleName shortens an analytic rule's ARM id to its GUID, the part a
// person can match against the Sentinel portal.
func ruleName(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}
