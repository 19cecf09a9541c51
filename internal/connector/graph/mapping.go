package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Dismissed vs resolved. Graph has no dismissed status: an analyst who
// finds an alert harmless resolves it with a falsePositive or
// informationalExpectedActivity (benign positive) classification, where
// Defender for Cloud would dismiss it and Sentinel would close it as
// FalsePositive or BenignPositive. vigil's Dismissed means exactly that
// ("not a threat, nothing to fix"), and its Resolved means a real or
// undetermined threat was dealt with, so a resolved alert with a benign
// classification maps to Dismissed. It also makes the round trip hold:
// vigil writes Dismissed back as resolved plus a benign classification,
// and reads it back as Dismissed.
//
// One gap stays: a Defender for Cloud alert dismissed in Defender for Cloud
// shows in Graph as resolved with classification unknown, so through
// Graph it reads as Resolved; the Defender connector reads it as
// Dismissed.

// benignV2 are the alerts_v2 classifications that make a resolved alert
// dismissed.
var benignV2 = map[string]bool{"falsepositive": true, "informationalexpectedactivity": true}

// benignLegacy are the legacy feedback values that do.
var benignLegacy = map[string]bool{"falsepositive": true, "benignpositive": true}

// Status maps an alerts_v2 status and classification to vigil's status.
// Graph's "unknown" (old alerts) and members it may add later map to New,
// so that such an alert still gets looked at.
func Status(status, classification string) alert.Status {
	return mapStatus(alert.Graph, status, benignV2[strings.ToLower(classification)])
}

// LegacyStatus maps a legacy status and feedback to vigil's status.
func LegacyStatus(status, feedback string) alert.Status {
	return mapStatus(alert.GraphLegacy, status, benignLegacy[strings.ToLower(feedback)])
}

func mapStatus(api alert.API, s string, benign bool) alert.Status {
	st, ok := alert.StatusFrom(api, s)
	switch {
	case !ok:
		return alert.StatusNew
	case st == alert.StatusResolved && benign:
		return alert.StatusDismissed
	}
	return st
}

// Severity maps Graph's severity (both APIs spell it alike); unknown and
// anything new map to medium, so that they are neither buried nor paged.
func Severity(s string) alert.Severity {
	switch strings.ToLower(s) {
	case "informational":
		return alert.SeverityInformational
	case "low":
		return alert.SeverityLow
	case "high":
		return alert.SeverityHigh
	}
	return alert.SeverityMedium
}

// products names the product behind each serviceSource as alerts'
// productName does, so that Product reads the same whether or not an
// alert has productName yet, and matches the Defender connector's.
var products = map[string]string{
	"microsoftdefenderforendpoint":   "Microsoft Defender for Endpoint",
	"microsoftdefenderforidentity":   "Microsoft Defender for Identity",
	"microsoftdefenderforcloudapps":  "Microsoft Defender for Cloud Apps",
	"microsoftdefenderforoffice365":  "Microsoft Defender for Office 365",
	"microsoft365defender":           "Microsoft Defender XDR",
	"azureadidentityprotection":      "Microsoft Entra ID Protection",
	"microsoftappgovernance":         "App Governance",
	"datalossprevention":             "Microsoft Purview Data Loss Prevention",
	"microsoftdefenderforcloud":      "Microsoft Defender for Cloud",
	"microsoftsentinel":              "Microsoft Sentinel",
	"microsoftinsiderriskmanagement": "Microsoft Purview Insider Risk Management",
}

// legacyProducts does the same for the legacy API's provider keywords.
var legacyProducts = map[string]string{
	"asc":                                "Microsoft Defender for Cloud",
	"microsoft defender atp":             "Microsoft Defender for Endpoint",
	"azure advanced threat protection":   "Microsoft Defender for Identity",
	"mcas":                               "Microsoft Defender for Cloud Apps",
	"ipc":                                "Microsoft Entra ID Protection",
	"office 365 security and compliance": "Microsoft Defender for Office 365",
}

// Map converts an alerts_v2 alert; its id is the source id.
func Map(a AlertV2) (alert.Alert, error) {
	if strings.TrimSpace(a.ID) == "" {
		return alert.Alert{}, errors.New("graph alert without id")
	}
	out := alert.Alert{
		Source: Source, SourceID: a.ID, Product: a.ProductName,
		Title: a.Title, Description: a.Description,
		Severity: Severity(a.Severity), Status: Status(a.Status, a.Classification),
		Entities: evidenceEntities(a.Evidence),
	}
	if out.Product == "" {
		out.Product = or(products[strings.ToLower(a.ServiceSource)], a.ServiceSource)
	}
	// LastSeen is Graph's change marker (lastUpdateDateTime), as the
	// Defender connector uses Defender's processing end time: a poller
	// comparing it sees classification, assignment and comment changes
	// too, not only new activity.
	out.FirstSeen, out.LastSeen = seen(
		[]time.Time{a.FirstActivityDateTime, a.CreatedDateTime},
		[]time.Time{a.LastUpdateDateTime, a.LastActivityDateTime, a.CreatedDateTime})
	raw, err := rawOf(a.Raw, a)
	if err != nil {
		return out, fmt.Errorf("graph alert %s: %w", a.ID, err)
	}
	out.Raw = raw
	return out, nil
}

// MapLegacy converts a legacy alert; its id (for Defender for Cloud, the
// alert name) is the source id.
func MapLegacy(a LegacyAlert) (alert.Alert, error) {
	if strings.TrimSpace(a.ID) == "" {
		return alert.Alert{}, errors.New("legacy graph alert without id")
	}
	p := a.VendorInformation.Provider
	out := alert.Alert{
		Source: Source, SourceID: a.ID, Product: or(legacyProducts[strings.ToLower(p)], p),
		Title: a.Title, Description: a.Description,
		Severity: Severity(a.Severity), Status: LegacyStatus(a.Status, a.Feedback),
		Entities: legacyEntities(a),
	}
	out.FirstSeen, out.LastSeen = seen(
		[]time.Time{a.EventDateTime.Time, a.CreatedDateTime.Time},
		[]time.Time{a.LastModifiedDateTime.Time, a.ClosedDateTime.Time, a.CreatedDateTime.Time})
	raw, err := rawOf(a.Raw, a)
	if err != nil {
		return out, fmt.Errorf("legacy graph alert %s: %w", a.ID, err)
	}
	out.Raw = raw
	return out, nil
}

// DefenderForCloud is the serviceSource of alerts_v2 alerts that Defender
// for Cloud raised; LegacyASC is the legacy API's provider for them.
const (
	DefenderForCloud = "microsoftDefenderForCloud"
	LegacyASC        = "ASC"
)

// DefenderAlertName returns the Defender for Cloud alert an alerts_v2
// alert is (its providerAlertId, the Defender alert's name), or "" when
// another product raised it. With the Defender connector running, that
// alert is the finding in vigil: one finding is one alert, not a copy per
// API that shows it.
func DefenderAlertName(a AlertV2) string {
	if !strings.EqualFold(a.ServiceSource, DefenderForCloud) {
		return ""
	}
	return strings.TrimSpace(a.ProviderAlertID)
}

// LegacyDefenderAlertName does the same for a legacy alert of provider
// ASC: the Defender alert's name is the legacy id, and the portal link in
// sourceMaterials names it too (".../alertId/{name}/..."), which is
// preferred when present.
func LegacyDefenderAlertName(a LegacyAlert) string {
	if !strings.EqualFold(strings.TrimSpace(a.VendorInformation.Provider), LegacyASC) {
		return ""
	}
	for _, link := range a.SourceMaterials {
		if name := alertIDInLink(link); name != "" {
			return name
		}
	}
	return strings.TrimSpace(a.ID)
}

// alertIDInLink reads the alert name from a Defender for Cloud portal link
// (https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/{name}/subscriptionId/...).
func alertIDInLink(link string) string {
	_, rest, ok := strings.Cut(link, "/alertId/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	if name, err := url.PathUnescape(name); err == nil && name != "" && !strings.ContainsAny(name, "?#&= ") {
		return name
	}
	return ""
}

// seen picks the first non-zero time of each list, in UTC, never letting
// last come before first.
func seen(firsts, lasts []time.Time) (first, last time.Time) {
	pick := func(ts []time.Time) time.Time {
		for _, t := range ts {
			if !t.IsZero() {
				return t.UTC()
			}
		}
		return time.Time{}
	}
	first, last = pick(firsts), pick(lasts)
	if last.Before(first) {
		last = first
	}
	return first, last
}

func rawOf(raw json.RawMessage, v any) (json.RawMessage, error) {
	if len(raw) > 0 {
		return raw, nil
	}
	return json.Marshal(v)
}

// entities collects entities without repeats: a file is often both
// fileEvidence and a process's image.
type entities struct {
	list []alert.Entity
	seen map[string]bool
}

func (es *entities) add(kind alert.EntityKind, value string, attrs map[string]string) {
	value = strings.TrimSpace(value)
	key := string(kind) + "\x00" + strings.ToLower(value)
	if value == "" || es.seen[key] {
		return
	}
	if es.seen == nil {
		es.seen = map[string]bool{}
	}
	es.seen[key] = true
	es.list = append(es.list, alert.Entity{Kind: kind, Value: value, Attrs: attrs})
}

func (es *entities) file(f *FileDetails) {
	if f == nil {
		return
	}
	es.add(alert.EntityFileHash, f.SHA256, map[string]string{"algorithm": "SHA256"})
	es.add(alert.EntityFileHash, f.SHA1, map[string]string{"algorithm": "SHA1"})
}

// evidenceEntities maps the evidence kinds vigil models; the others
// (registry keys, mailboxes, processes' accounts, ...) stay in Raw.
func evidenceEntities(ev []Evidence) []alert.Entity {
	var es entities
	for _, e := range ev {
		switch e.Kind() {
		case "ipEvidence":
			es.add(alert.EntityIP, e.IPAddress, nil)
		case "deviceEvidence":
			es.add(alert.EntityHost, or(e.DeviceDNSName, e.HostName), nil)
		case "userEvidence":
			if u := e.UserAccount; u != nil {
				es.add(alert.EntityAccount, account(u.UserPrincipalName, u.DomainName, u.AccountName), accountAttrs(u.UserPrincipalName, u.UserSID))
			}
		case "urlEvidence":
			es.add(alert.EntityURL, e.URL, nil)
		case "fileEvidence":
			es.file(e.FileDetails)
		case "processEvidence":
			es.file(e.ImageFile)
		case "azureResourceEvidence":
			es.add(alert.EntityCloudResource, strings.ToLower(e.ResourceID), nil)
		}
	}
	return es.list
}

func legacyEntities(a LegacyAlert) []alert.Entity {
	var es entities
	for _, h := range a.HostStates {
		es.add(alert.EntityHost, or(h.FQDN, h.NetBiosName), nil)
		es.add(alert.EntityIP, h.PublicIPAddress, nil)
		es.add(alert.EntityIP, h.PrivateIPAddress, nil)
	}
	for _, u := range a.UserStates {
		es.add(alert.EntityAccount, account(u.UserPrincipalName, u.DomainName, u.AccountName), accountAttrs(u.UserPrincipalName, ""))
		es.add(alert.EntityIP, u.LogonIP, nil)
	}
	for _, n := range a.NetworkConnections {
		es.add(alert.EntityIP, n.SourceAddress, nil)
		es.add(alert.EntityIP, n.DestinationAddress, nil)
		es.add(alert.EntityDomain, n.DestinationDomain, nil)
		es.add(alert.EntityURL, n.DestinationURL, nil)
	}
	for _, f := range a.FileStates {
		if f.FileHash != nil {
			var attrs map[string]string
			if t := f.FileHash.HashType; t != "" && !strings.EqualFold(t, "unknown") {
				attrs = map[string]string{"algorithm": strings.ToUpper(t)}
			}
			es.add(alert.EntityFileHash, f.FileHash.HashValue, attrs)
		}
	}
	for _, r := range a.SecurityResources {
		if strings.HasPrefix(r.Resource, "/subscriptions/") {
			es.add(alert.EntityCloudResource, strings.ToLower(r.Resource), nil)
		}
	}
	return es.list
}

// account names an account by its UPN, else DOMAIN\name, else its name.
func account(upn, domain, name string) string {
	switch {
	case upn != "":
		return upn
	case domain != "" && name != "":
		return domain + `\` + name
	}
	return name
}

func accountAttrs(upn, sid string) map[string]string {
	m := map[string]string{}
	if upn != "" {
		m["upn"] = upn
	}
	if sid != "" {
		m["sid"] = sid
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
