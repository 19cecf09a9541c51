// Package alert is the normalized model of alerts and incidents that every
// source (Sentinel, Defender for Cloud, Graph, Alertmanager, PagerDuty
// events, Azure Monitor, the native API) is mapped into.
package alert

import (
	"encoding/json"
	"time"
)

// Severity is vigil's severity scale. Sentinel and Defender stop at High;
// Critical exists for senders such as PagerDuty and Azure Monitor (Sev0).
type Severity string

// Severities, lowest first.
const (
	SeverityInformational Severity = "informational"
	SeverityLow           Severity = "low"
	SeverityMedium        Severity = "medium"
	SeverityHigh          Severity = "high"
	SeverityCritical      Severity = "critical"
)

// Severities lists every valid severity, lowest first.
var Severities = []Severity{SeverityInformational, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// Rank orders severities: informational is 0, critical is 4, unknown is -1.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if s == v {
			return i
		}
	}
	return -1
}

// Status is the normalized lifecycle of an alert at its source. The
// spellings differ per API (Defender "Active" is Sentinel "New" is Graph
// "new" is legacy Graph "newAlert"); connectors map them here.
type Status string

// Statuses.
const (
	StatusNew        Status = "new"
	StatusInProgress Status = "in_progress"
	StatusResolved   Status = "resolved"
	StatusDismissed  Status = "dismissed"
)

// Statuses lists every valid status.
var Statuses = []Status{StatusNew, StatusInProgress, StatusResolved, StatusDismissed}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Open reports whether the alert still needs attention at its source.
func (s Status) Open() bool { return s == StatusNew || s == StatusInProgress }

// Alert is one alert as vigil stores it. Fields tagged with json are the
// native API's wire format.
type Alert struct {
	ID          int64           `json:"id,omitempty"`
	Source      string          `json:"source"`
	SourceID    string          `json:"source_id,omitempty"`
	Product     string          `json:"product,omitempty"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Severity    Severity        `json:"severity"`
	Status      Status          `json:"status"`
	Entities    []Entity        `json:"entities,omitempty"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastSeen    time.Time       `json:"last_seen"`
	Raw         json.RawMessage `json:"raw,omitempty"`
	// Firing identifies one firing of the alert where the sender has such
	// a thing (Alertmanager's startsAt, Azure Monitor's firedDateTime).
	// A re-send carries the same firing; a different one is a new firing,
	// which opens a new work item if the old one was closed.
	Firing string `json:"-"`
	// Grace holds back the alert's own work item while an incident that
	// contains it may still arrive (a Defender for Cloud alert while a
	// Sentinel workspace is synced): the alert joins the incident's item
	// if one appears within Grace, and gets an item of its own otherwise.
	Grace time.Duration `json:"-"`
	// Inhibited, set by the ingest's inhibition stage, suppresses the
	// alert's item: another firing alert inhibits it (Alertmanager's
	// inhibit_rules).
	Inhibited *Inhibition `json:"-"`

	// Set by the store.
	Version    int       `json:"version,omitempty"`
	SeenCount  int64     `json:"seen_count,omitempty"`
	WorkItemID int64     `json:"workitem_id,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

// Version is one entry of an alert's append-only history, as Sentinel's
// SecurityAlert table keeps a row per change.
type Version struct {
	AlertID     int64           `json:"alert_id"`
	Version     int             `json:"version"`
	ReceivedAt  time.Time       `json:"received_at"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Severity    Severity        `json:"severity"`
	Status      Status          `json:"status"`
	Entities    []Entity        `json:"entities,omitempty"`
	LastSeen    time.Time       `json:"last_seen"`
	Raw         json.RawMessage `json:"raw,omitempty"`
}

// Member is a reference from an incident to an alert of any source.
type Member struct {
	Source   string
	SourceID string
	// Status is the alert's status as the incident's service showed it
	// when the incident was read ("" when unknown).
	Status Status
}

// Inhibition says which inhibit rule and which firing alert (by its
// source id) inhibit an alert.
type Inhibition struct {
	Rule   int    // index in the configured inhibit rules
	Source string // the inhibiting alert's source id (fingerprint)
}

// InhibitRuleID is how an inhibition is recorded in place of the rule
// that suppressed an alert: rule ids are positive, inhibit rules negative.
func InhibitRuleID(rule int) int64 { return -int64(rule) - 1 }

// Incident groups alerts (many-to-many), as a Sentinel or Graph incident does.
type Incident struct {
	ID          int64           `json:"id,omitempty"`
	Source      string          `json:"source"`
	SourceID    string          `json:"source_id"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Severity    Severity        `json:"severity"`
	Status      Status          `json:"status"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastSeen    time.Time       `json:"last_seen"`
	Raw         json.RawMessage `json:"raw,omitempty"`
	// AlertRefs names the member alerts by their source id; the store
	// resolves them to alert rows of the same source.
	AlertRefs []string `json:"alerts,omitempty"`
	// Members names member alerts held under another source, with the
	// status the incident's own service shows for them. A Sentinel
	// incident of Defender for Cloud origin lists Defender alerts this way
	// (source "defender", the Defender alert name), so that one finding is
	// one alert in vigil, not a copy per service.
	Members []Member `json:"-"`
	// Ref is where the incident lives at its source (a Sentinel
	// incident's ARM id), so that a write-back can address it.
	Ref string `json:"ref,omitempty"`
	// NoWorkItem stores the incident without making a work item for it,
	// for teams that sync sources with each other but triage elsewhere.
	NoWorkItem bool `json:"-"`
	// LinkKey names the incident across the APIs that show it: a Sentinel
	// incident of a workspace in the Defender portal is also a Defender
	// XDR incident in Graph, and both views carry "xdr:<the XDR id>"
	// (Sentinel's providerIncidentId). The store keeps one incident, so
	// one work item, per link key.
	LinkKey string `json:"link_key,omitempty"`
	// Secondary marks a view that must not overwrite the incident when
	// another view already stores it under the same LinkKey: each
	// incident is read from, and written to, the one API the
	// configuration names. A secondary view still creates the incident
	// when it is the first to see it; the primary takes it over later.
	Secondary bool `json:"-"`

	Version    int       `json:"version,omitempty"`
	WorkItemID int64     `json:"workitem_id,omitempty"`
	AlertIDs   []int64   `json:"alert_ids,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}
