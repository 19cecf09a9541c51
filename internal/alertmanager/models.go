package alertmanager

import (
	"encoding/json"
	"time"
)

// The API v2 models, named after api_v2_openapi.yaml's definitions. Each
// MarshalJSON writes every required field, with [] and {} rather than null,
// because the spec's required arrays and labelSets reject null and amtool's
// go-swagger client validates responses.

// Alert states (alertStatus.state) and silence states (silenceStatus.state).
const (
	AlertStateUnprocessed = "unprocessed"
	AlertStateActive      = "active"
	AlertStateSuppressed  = "suppressed"

	SilenceStateExpired = "expired"
	SilenceStateActive  = "active"
	SilenceStatePending = "pending"
)

// ReceiverReference is the spec's receiverReference: {name}.
type ReceiverReference struct {
	Name string `json:"name"`
}

// Receiver is the spec's receiver (GET /api/v2/receivers).
type Receiver struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// AlertStatus is the spec's alertStatus.
type AlertStatus struct {
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	MutedBy     []string `json:"mutedBy"`
}

// MarshalJSON writes nil lists as [].
func (s AlertStatus) MarshalJSON() ([]byte, error) {
	type plain AlertStatus
	p := plain(s)
	p.SilencedBy = orEmpty(p.SilencedBy)
	p.InhibitedBy = orEmpty(p.InhibitedBy)
	p.MutedBy = orEmpty(p.MutedBy)
	if p.State == "" {
		p.State = AlertStateUnprocessed
	}
	return json.Marshal(p)
}

// GettableAlert is the spec's gettableAlert (GET /api/v2/alerts).
type GettableAlert struct {
	Labels       map[string]string   `json:"labels"`
	Annotations  map[string]string   `json:"annotations"`
	Receivers    []ReceiverReference `json:"receivers"`
	Fingerprint  string              `json:"fingerprint"`
	StartsAt     time.Time           `json:"startsAt"`
	UpdatedAt    time.Time           `json:"updatedAt"`
	EndsAt       time.Time           `json:"endsAt"`
	Status       AlertStatus         `json:"status"`
	GeneratorURL string              `json:"generatorURL,omitempty"`
}

// MarshalJSON fills the fingerprint when unset and writes nil maps and
// lists as {} and [].
func (a GettableAlert) MarshalJSON() ([]byte, error) {
	type plain GettableAlert
	p := plain(a)
	p.Labels = orEmptyMap(p.Labels)
	p.Annotations = orEmptyMap(p.Annotations)
	if p.Receivers == nil {
		p.Receivers = []ReceiverReference{}
	}
	if p.Fingerprint == "" {
		p.Fingerprint = Fingerprint(p.Labels)
	}
	p.StartsAt, p.UpdatedAt, p.EndsAt = p.StartsAt.UTC(), p.UpdatedAt.UTC(), p.EndsAt.UTC()
	return json.Marshal(p)
}

// AlertGroup is the spec's alertGroup (GET /api/v2/alerts/groups).
type AlertGroup struct {
	Labels      map[string]string `json:"labels"`
	RouteLabels map[string]string `json:"routeLabels"`
	Receiver    ReceiverReference `json:"receiver"`
	Alerts      []GettableAlert   `json:"alerts"`
}

// MarshalJSON writes nil maps and lists as {} and [].
func (g AlertGroup) MarshalJSON() ([]byte, error) {
	type plain AlertGroup
	p := plain(g)
	p.Labels = orEmptyMap(p.Labels)
	p.RouteLabels = orEmptyMap(p.RouteLabels)
	if p.Alerts == nil {
		p.Alerts = []GettableAlert{}
	}
	return json.Marshal(p)
}

// SilenceStatus is the spec's silenceStatus.
type SilenceStatus struct {
	State string `json:"state"`
}

// PostableSilence is the spec's postableSilence (POST /api/v2/silences).
// ID is set when the client updates an existing silence.
type PostableSilence struct {
	ID          string            `json:"id,omitempty"`
	Matchers    Matchers          `json:"matchers"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	CreatedBy   string            `json:"createdBy"`
	Comment     string            `json:"comment"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// GettableSilence is the spec's gettableSilence.
type GettableSilence struct {
	ID          string            `json:"id"`
	Status      SilenceStatus     `json:"status"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Matchers    Matchers          `json:"matchers"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	CreatedBy   string            `json:"createdBy"`
	Comment     string            `json:"comment"`
	Annotations map[string]string `json:"annotations"`
}

// MarshalJSON writes annotations (required by the spec) as {} when nil and
// times in UTC. Status is written as set; use WithState to fill it.
func (s GettableSilence) MarshalJSON() ([]byte, error) {
	type plain GettableSilence
	p := plain(s)
	p.Annotations = orEmptyMap(p.Annotations)
	if p.Matchers == nil {
		p.Matchers = Matchers{}
	}
	p.UpdatedAt, p.StartsAt, p.EndsAt = p.UpdatedAt.UTC(), p.StartsAt.UTC(), p.EndsAt.UTC()
	return json.Marshal(p)
}

// State is the silence's state at now, as Alertmanager computes it: pending
// before startsAt, expired strictly after endsAt, active in between (both
// ends included).
func (s GettableSilence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilenceStatePending
	case now.After(s.EndsAt):
		return SilenceStateExpired
	}
	return SilenceStateActive
}

// WithState returns s with Status.State computed at now, for rendering.
func (s GettableSilence) WithState(now time.Time) GettableSilence {
	s.Status = SilenceStatus{State: s.State(now)}
	return s
}

// NewGettableSilence turns an accepted postable silence into the stored
// shape. Like Alertmanager's silence store it moves a startsAt in the past
// to now, so that a silence never claims to have muted what came before it.
func NewGettableSilence(p PostableSilence, id string, now time.Time) GettableSilence {
	s := GettableSilence{
		ID:          id,
		UpdatedAt:   now,
		Matchers:    p.Matchers,
		StartsAt:    p.StartsAt,
		EndsAt:      p.EndsAt,
		CreatedBy:   p.CreatedBy,
		Comment:     p.Comment,
		Annotations: p.Annotations,
	}
	if s.StartsAt.Before(now) {
		s.StartsAt = now
	}
	return s.WithState(now)
}

// Matches reports whether the silence's matchers match an alert's labels.
// It does not look at the state.
func (s GettableSilence) Matches(labels map[string]string) bool {
	return len(s.Matchers) > 0 && s.Matchers.Matches(labels)
}

// PostSilenceResponse is the 200 body of POST /api/v2/silences.
type PostSilenceResponse struct {
	SilenceID string `json:"silenceID"`
}

// AlertmanagerStatus is the spec's alertmanagerStatus (GET /api/v2/status).
type AlertmanagerStatus struct {
	Cluster     ClusterStatus      `json:"cluster"`
	VersionInfo VersionInfo        `json:"versionInfo"`
	Config      AlertmanagerConfig `json:"config"`
	Uptime      time.Time          `json:"uptime"`
}

// ClusterStatus is the spec's clusterStatus; Status is ready, settling or
// disabled. vigil is not a gossip cluster, so "disabled" is the honest one.
type ClusterStatus struct {
	Name   string       `json:"name,omitempty"`
	Status string       `json:"status"`
	Peers  []PeerStatus `json:"peers,omitempty"`
}

// PeerStatus is the spec's peerStatus.
type PeerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// VersionInfo is the spec's versionInfo; every field is required.
type VersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// AlertmanagerConfig is the spec's alertmanagerConfig: the configuration
// as YAML text.
type AlertmanagerConfig struct {
	Original string `json:"original"`
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
