package simulator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Status spellings, exactly as each API writes them.
const (
	// Defender for Cloud alert status.
	DfCActive     = "Active"
	DfCInProgress = "InProgress"
	DfCDismissed  = "Dismissed"
	DfCResolved   = "Resolved"
	// Sentinel alert status.
	SentinelAlertNew        = "New"
	SentinelAlertInProgress = "InProgress"
	SentinelAlertResolved   = "Resolved"
	SentinelAlertDismissed  = "Dismissed"
	// Sentinel incident status.
	IncidentNew    = "New"
	IncidentActive = "Active"
	IncidentClosed = "Closed"
)

// Errors the REST layers map to their services' answers.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("etag conflict")
	ErrInvalidInput = errors.New("invalid input")
)

// DefenderAlert is a Defender for Cloud security alert.
type DefenderAlert struct {
	Name               string // also its systemAlertId
	Location           string
	ResourceGroup      string
	AlertType          string
	DisplayName        string
	Description        string
	Severity           string // High, Medium, Low, Informational
	Intent             string
	Status             string // Active, InProgress, Dismissed, Resolved
	StartTime          time.Time
	EndTime            time.Time
	TimeGenerated      time.Time
	ProcessingEndTime  time.Time
	ResourceID         string // the affected Azure resource
	CompromisedEntity  string
	Entities           []map[string]any
	ExtendedProperties map[string]string
	RemediationSteps   []string
	Techniques         []string

	SentinelAlertID string // the Sentinel alert it appears as
	IncidentName    string // the incident created for it, 1:1
	GraphAlertID    string // the Graph alerts_v2 id
}

// SentinelAlert is a SecurityAlert as Sentinel holds it.
type SentinelAlert struct {
	ID              string // systemAlertId (GUID)
	ProviderAlertID string // the Defender for Cloud alert name
	ProductName     string
	AlertType       string
	DisplayName     string
	Description     string
	Severity        string
	Status          string // New, InProgress, Resolved, Dismissed
	Tactics         []string
	StartTime       time.Time
	EndTime         time.Time
	TimeGenerated   time.Time
	Entities        []map[string]any
}

// Owner is an incident's owner.
type Owner struct {
	ObjectID          string `json:"objectId,omitempty"`
	Email             string `json:"email,omitempty"`
	AssignedTo        string `json:"assignedTo,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	OwnerType         string `json:"ownerType,omitempty"`
}

// Comment is an incident comment.
type Comment struct {
	Name    string
	Message string
	Author  string
	Created time.Time
	ETag    string
}

// Relation links an incident to another resource (a bookmark, an entity).
type Relation struct {
	Name        string
	RelatedID   string
	RelatedName string
	RelatedType string
	RelatedKind string
	ETag        string
}

// Task is an incident task.
type Task struct {
	Name        string
	Title       string
	Description string
	Status      string // New, Completed
	Created     time.Time
	Modified    time.Time
	CreatedBy   map[string]any
	ETag        string
}

// Incident is a Sentinel incident.
type Incident struct {
	Name                  string // GUID
	Number                int
	Title                 string
	Description           string
	Severity              string
	Status                string // New, Active, Closed
	Classification        string
	ClassificationReason  string
	ClassificationComment string
	Owner                 Owner
	Labels                []map[string]any
	Created               time.Time
	LastModified          time.Time
	FirstActivity         time.Time
	LastActivity          time.Time
	ETag                  string
	ProviderName          string
	ProviderIncidentID    string
	RelatedRuleIDs        []string
	AlertIDs              []string // Sentinel alert ids
	Comments              []Comment
	Relations             []Relation
	Tasks                 []Task
}

// World is the shared state of the simulated services and the rules that
// connect them, as Microsoft documents them, gaps included.
type World struct {
	mu    sync.Mutex
	opt   Options
	clock clock.Clock
	rng   *rand.Rand

	defender       map[string]*DefenderAlert
	defenderOrder  []string
	sentinelAlerts map[string]*SentinelAlert
	incidents      map[string]*Incident
	incidentOrder  []string
	nextNumber     int
	seq            uint64
	observers      []func(Event)

	// graph is Graph-only state (alerts of other service sources, Graph
	// annotations such as assignedTo and classification, the alerts_v2
	// order); see graph.go. Guarded by mu; the zero value is ready.
	graph     graphState
	telemetry telemetryState // Log Analytics tables (telemetry.go)
	ti        tiState        // uploaded threat intelligence (tiupload.go)
}

// Event reports a change, for the Graph and DevOps layers and for tests.
type Event struct {
	Kind string // "defender.status", "incident.update", ...
	ID   string
}

func newWorld(o Options, clk clock.Clock) *World {
	return &World{
		opt: o, clock: clk, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		defender: map[string]*DefenderAlert{}, sentinelAlerts: map[string]*SentinelAlert{},
		incidents: map[string]*Incident{}, nextNumber: 1,
	}
}

// Lock and Unlock guard direct reads of the world's maps by the REST layers.
func (w *World) Lock()   { w.mu.Lock() }
func (w *World) Unlock() { w.mu.Unlock() }

// Observe registers fn to be called, with the lock held, on each change.
func (w *World) Observe(fn func(Event)) {
	w.mu.Lock()
	w.observers = append(w.observers, fn)
	w.mu.Unlock()
}

func (w *World) emit(kind, id string) {
	for _, fn := range w.observers {
		fn(Event{Kind: kind, ID: id})
	}
}

// guid returns a deterministic GUID from the world's seeded generator.
func (w *World) guid() string {
	a, b := w.rng.Uint64(), w.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0x0fff, (uint16(b>>48)&0x3fff)|0x8000, b&0xffffffffffff)
}

// etag returns a new Sentinel-style etag, quoted as the service sends it.
func (w *World) etag() string {
	w.seq++
	return fmt.Sprintf("\"%08x-0000-0000-0000-%012x\"", uint32(w.rng.Uint64()), w.seq)
}

// now is the world's clock, with the 7 decimal digits ARM services print.
func (w *World) now() time.Time { return w.clock.Now().UTC().Truncate(100 * time.Nanosecond) }

// AlertSpec describes a Defender for Cloud alert to raise; zero fields are
// filled from the catalogue with the world's seeded generator.
type AlertSpec struct {
	AlertType   string `json:"alertType,omitempty"`
	DisplayName string `json:"alertDisplayName,omitempty"`
	Description string `json:"description,omitempty"`
	Severity    string `json:"severity,omitempty"`
	Intent      string `json:"intent,omitempty"`
	ResourceID  string `json:"resourceId,omitempty"`
	Host        string `json:"host,omitempty"`
	IP          string `json:"ip,omitempty"`
	Account     string `json:"account,omitempty"`
	// NoIncident raises the alert without its Sentinel incident.
	NoIncident bool `json:"noIncident,omitempty"`
}

// RaiseDefenderAlert raises a Defender for Cloud alert. As the Defender for
// Cloud data connector and its Microsoft incident-creation rule do, it
// appears in Sentinel as an alert (status New) and, 1:1, as an incident
// (status New), and in Graph alerts_v2 with serviceSource
// microsoftDefenderForCloud.
func (w *World) RaiseDefenderAlert(spec AlertSpec) *DefenderAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.newDefenderAlert(spec)
	w.defender[a.Name] = a
	w.defenderOrder = append(w.defenderOrder, a.Name)

	sa := &SentinelAlert{
		ID: w.guid(), ProviderAlertID: a.Name, ProductName: "Azure Security Center", AlertType: a.AlertType,
		DisplayName: a.DisplayName, Description: a.Description, Severity: a.Severity, Status: SentinelAlertNew,
		Tactics: []string{a.Intent}, StartTime: a.StartTime, EndTime: a.EndTime, TimeGenerated: a.TimeGenerated,
		Entities: a.Entities,
	}
	w.sentinelAlerts[sa.ID] = sa
	a.SentinelAlertID = sa.ID
	a.GraphAlertID = "dc" + strings.ReplaceAll(a.Name, "-", "")[0:30]
	if !spec.NoIncident {
		inc := w.newIncident(a.DisplayName, a.Description, a.Severity, "Azure Sentinel")
		inc.AlertIDs = []string{sa.ID}
		inc.FirstActivity, inc.LastActivity = a.StartTime, a.EndTime
		inc.RelatedRuleIDs = []string{w.workspaceID() + "/providers/Microsoft.SecurityInsights/alertRules/" + defenderRuleID}
		a.IncidentName = inc.Name
	}
	w.emit("defender.raise", a.Name)
	return a
}

// defenderRuleID is the id of the built-in "Create incidents based on
// Microsoft Defender for Cloud alerts" rule in the simulated workspace.
const defenderRuleID = "b5a1e3c2-1f5e-4a6b-9c8d-2e7f6a5b4c3d"

func (w *World) newIncident(title, desc, severity, provider string) *Incident {
	now := w.now()
	inc := &Incident{
		Name: w.guid(), Number: w.nextNumber, Title: title, Description: desc, Severity: severity, Status: IncidentNew,
		Created: now, LastModified: now, FirstActivity: now, LastActivity: now, ETag: w.etag(), ProviderName: provider,
		Labels: []map[string]any{},
	}
	inc.ProviderIncidentID = fmt.Sprint(inc.Number)
	w.nextNumber++
	w.incidents[inc.Name] = inc
	w.incidentOrder = append(w.incidentOrder, inc.Name)
	return inc
}

func (w *World) workspaceID() string {
	return "/subscriptions/" + w.opt.SubscriptionID + "/resourceGroups/" + w.opt.ResourceGroup +
		"/providers/Microsoft.OperationalInsights/workspaces/" + w.opt.Workspace
}

// SetDefenderStatus changes a Defender for Cloud alert's status, as its
// subscription owner does in the portal or through the API. The change
// reaches the Sentinel alert and Graph, but NOT the Sentinel incident:
// that gap is documented by Microsoft and is what vigil's reconciler
// closes.
func (w *World) SetDefenderStatus(name, status string) (*DefenderAlert, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.defender[name]
	if !ok {
		return nil, fmt.Errorf("defender alert %s: %w", name, ErrNotFound)
	}
	switch status {
	case DfCActive, DfCInProgress, DfCDismissed, DfCResolved:
	default:
		return nil, fmt.Errorf("status %q: %w", status, ErrInvalidInput)
	}
	a.Status = status
	a.ProcessingEndTime = w.now()
	if sa := w.sentinelAlerts[a.SentinelAlertID]; sa != nil {
		sa.Status = dfcToSentinelAlert(status)
	}
	w.emit("defender.status", name)
	return a, nil
}

func dfcToSentinelAlert(s string) string {
	switch s {
	case DfCInProgress:
		return SentinelAlertInProgress
	case DfCDismissed:
		return SentinelAlertDismissed
	case DfCResolved:
		return SentinelAlertResolved
	}
	return SentinelAlertNew
}

// IncidentUpdate is a PUT of an incident's mutable properties.
type IncidentUpdate struct {
	Title                 string
	Description           string
	Severity              string
	Status                string
	Classification        string
	ClassificationReason  string
	ClassificationComment string
	Owner                 *Owner
	Labels                []map[string]any
}

// UpdateIncident applies a PUT with optimistic concurrency: a non-empty
// etag that is not the current one fails with ErrConflict, as the real
// service answers 409. Setting the incident Active changes nothing else;
// closing it resolves its alerts and their Defender for Cloud alerts.
// create is true when the incident did not exist (a PUT creates it).
func (w *World) UpdateIncident(name, etag string, u IncidentUpdate) (inc *Incident, created bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Validate before creating: a refused PUT must not leave an incident.
	switch u.Status {
	case IncidentNew, IncidentActive, IncidentClosed:
	default:
		return nil, false, fmt.Errorf("status %q: %w", u.Status, ErrInvalidInput)
	}
	if u.Status == IncidentClosed && u.Classification == "" {
		return nil, false, fmt.Errorf("classification is required to close an incident: %w", ErrInvalidInput)
	}
	inc, ok := w.incidents[name]
	if !ok {
		if etag != "" && etag != "*" {
			return nil, false, fmt.Errorf("incident %s: %w", name, ErrNotFound)
		}
		inc = w.newIncident(u.Title, u.Description, u.Severity, "Azure Sentinel")
		delete(w.incidents, inc.Name)
		w.incidentOrder = w.incidentOrder[:len(w.incidentOrder)-1]
		inc.Name = name
		w.incidents[name] = inc
		w.incidentOrder = append(w.incidentOrder, name)
		created = true
	} else if etag != "" && etag != "*" && etag != inc.ETag {
		return inc, false, fmt.Errorf("incident %s: %w", name, ErrConflict)
	}
	wasClosed := inc.Status == IncidentClosed
	inc.Title, inc.Description, inc.Severity, inc.Status = u.Title, u.Description, u.Severity, u.Status
	inc.Classification, inc.ClassificationReason, inc.ClassificationComment = u.Classification, u.ClassificationReason, u.ClassificationComment
	if u.Owner != nil {
		inc.Owner = *u.Owner
	}
	if u.Labels != nil {
		// labelType is read-only: a label written back under the name of
		// one Sentinel assigned keeps its type.
		for _, l := range u.Labels {
			for _, old := range inc.Labels {
				if old["labelName"] == l["labelName"] && old["labelType"] != nil {
					l["labelType"] = old["labelType"]
				}
			}
		}
		inc.Labels = u.Labels
	}
	inc.LastModified = w.now()
	inc.ETag = w.etag()
	if inc.Status == IncidentClosed && !wasClosed {
		// Closing the incident resolves its alerts, and the Defender for
		// Cloud alerts behind them.
		for _, id := range inc.AlertIDs {
			sa := w.sentinelAlerts[id]
			if sa == nil {
				continue
			}
			sa.Status = SentinelAlertResolved
			for _, a := range w.defender {
				if a.SentinelAlertID == id {
					a.Status = DfCResolved
					a.ProcessingEndTime = inc.LastModified
					w.emit("defender.status", a.Name)
				}
			}
		}
	}
	w.emit("incident.update", name)
	return inc, created, nil
}

// PortalEditIncident is a concurrent analyst edit in the portal: it bumps
// the etag (and the severity, as an analyst re-triaging would), so that a
// client holding the old etag gets a conflict.
func (w *World) PortalEditIncident(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	inc, ok := w.incidents[name]
	if !ok {
		return fmt.Errorf("incident %s: %w", name, ErrNotFound)
	}
	inc.Labels = append(inc.Labels, map[string]any{"labelName": "edited-in-portal", "labelType": "User"})
	inc.LastModified = w.now()
	inc.ETag = w.etag()
	w.emit("incident.update", name)
	return nil
}

// RelateAlert adds a Sentinel alert to an incident, as an analyst relating
// alerts does, making multi-alert incidents. The alert's own incident, if
// it had one of its own, keeps it too (Sentinel allows both).
func (w *World) RelateAlert(incidentName, sentinelAlertID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	inc, ok := w.incidents[incidentName]
	if !ok {
		return fmt.Errorf("incident %s: %w", incidentName, ErrNotFound)
	}
	if _, ok := w.sentinelAlerts[sentinelAlertID]; !ok {
		return fmt.Errorf("alert %s: %w", sentinelAlertID, ErrNotFound)
	}
	if !slices.Contains(inc.AlertIDs, sentinelAlertID) {
		inc.AlertIDs = append(inc.AlertIDs, sentinelAlertID)
		inc.LastModified = w.now()
		inc.ETag = w.etag()
	}
	w.emit("incident.update", incidentName)
	return nil
}

// Snapshots, for the REST layers and tests. They return copies.

// DefenderAlertByName returns a copy of one alert.
func (w *World) DefenderAlertByName(name string) (DefenderAlert, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.defender[name]
	if !ok {
		return DefenderAlert{}, false
	}
	return *a, true
}

// DefenderAlerts returns all alerts, oldest first.
func (w *World) DefenderAlerts() []DefenderAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]DefenderAlert, 0, len(w.defenderOrder))
	for _, n := range w.defenderOrder {
		out = append(out, *w.defender[n])
	}
	return out
}

// SentinelAlertByID returns a copy of one Sentinel alert.
func (w *World) SentinelAlertByID(id string) (SentinelAlert, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.sentinelAlerts[id]
	if !ok {
		return SentinelAlert{}, false
	}
	return *a, true
}

// IncidentByName returns a copy of one incident.
func (w *World) IncidentByName(name string) (Incident, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	inc, ok := w.incidents[name]
	if !ok {
		return Incident{}, false
	}
	return copyIncident(inc), true
}

// Incidents returns all incidents, oldest first.
func (w *World) Incidents() []Incident {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Incident, 0, len(w.incidentOrder))
	for _, n := range w.incidentOrder {
		out = append(out, copyIncident(w.incidents[n]))
	}
	return out
}

func copyIncident(in *Incident) Incident {
	c := *in
	c.AlertIDs = slices.Clone(in.AlertIDs)
	c.Comments = slices.Clone(in.Comments)
	c.Relations = slices.Clone(in.Relations)
	c.Tasks = slices.Clone(in.Tasks)
	c.Labels = slices.Clone(in.Labels)
	c.RelatedRuleIDs = slices.Clone(in.RelatedRuleIDs)
	return c
}

// WithIncident runs fn on the live incident under the lock, bumping its
// etag and modification time when fn reports a change. The REST layer
// uses it for comments, relations and tasks.
func (w *World) WithIncident(name string, fn func(inc *Incident) (changed bool, err error)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	inc, ok := w.incidents[name]
	if !ok {
		return fmt.Errorf("incident %s: %w", name, ErrNotFound)
	}
	changed, err := fn(inc)
	if err != nil {
		return err
	}
	if changed {
		inc.LastModified = w.now()
		inc.ETag = w.etag()
		w.emit("incident.update", name)
	}
	return nil
}

// NewGUID returns a seeded GUID, for the REST layers' new resources.
func (w *World) NewGUID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.guid()
}

// NewETag returns a fresh etag.
func (w *World) NewETag() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.etag()
}
