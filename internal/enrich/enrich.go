package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Taxonomy levels, as Cortex names them, from least to most severe.
const (
	LevelInfo       = "info"
	LevelSafe       = "safe"
	LevelSuspicious = "suspicious"
	LevelMalicious  = "malicious"
)

// ErrAuth marks a provider's refusal of its credentials (401/403): permanent,
// retrying does not help until the key is fixed.
var ErrAuth = errors.New("enrich: credentials refused")

// Request is one observable to enrich. DataType uses Cortex's names: ip,
// domain, fqdn, url, hash, mail, …
type Request struct {
	DataType string `json:"dataType"`
	Data     string `json:"data"`
}

// Taxonomy is one finding, after Cortex's summary taxonomies.
// Level is one of info|safe|suspicious|malicious.
type Taxonomy struct {
	Level     string `json:"level"`
	Namespace string `json:"namespace"`
	Predicate string `json:"predicate"`
	Value     string `json:"value"`
}

// Report is a provider's answer about one observable.
type Report struct {
	Provider   string          `json:"provider"`
	Request    Request         `json:"request"`
	Taxonomies []Taxonomy      `json:"taxonomies"`
	Full       json.RawMessage `json:"full,omitempty"` // the provider's full report
	Summary    string          `json:"summary"`        // one line for a comment
	At         time.Time       `json:"at"`
}

// levelRank orders levels; unknown levels rank as info so that a provider
// inventing its own level can never raise an alarm by accident.
func levelRank(level string) int {
	switch level {
	case LevelSafe:
		return 1
	case LevelSuspicious:
		return 2
	case LevelMalicious:
		return 3
	}
	return 0
}

// ValidLevel reports whether level is one of Cortex's four levels.
func ValidLevel(level string) bool {
	switch level {
	case LevelInfo, LevelSafe, LevelSuspicious, LevelMalicious:
		return true
	}
	return false
}

// Verdict is the worst taxonomy level of a report (malicious > suspicious >
// safe > info); info for a report without taxonomies.
func (r Report) Verdict() string {
	best := LevelInfo
	for _, t := range r.Taxonomies {
		if levelRank(t.Level) > levelRank(best) {
			best = t.Level
		}
	}
	return best
}

// Provider enriches observables.
type Provider interface {
	Name() string
	Supports(dataType string) bool
	Enrich(ctx context.Context, req Request) (Report, error)
}

// Quota is a provider's limits (VirusTotal public: 4/min and 500/day), used
// by the caller's queue. Zero means unlimited.
type Quota struct{ PerMinute, PerDay int }

// Quoted is a provider with limits.
type Quoted interface{ Quota() Quota }
