package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Field limits keep one bad sender from filling the database.
const (
	MaxSource      = 64
	MaxTitle       = 512
	MaxDescription = 32 << 10
	MaxEntities    = 200
	MaxSourceID    = 512
)

// Normalize validates a and fills defaults in place: trims text, defaults
// status to new and the seen times to now, and validates entities. Errors
// are *validation.FieldError naming the offending field.
func (a *Alert) Normalize(now time.Time) error {
	a.Source = strings.ToLower(strings.TrimSpace(a.Source))
	a.Title = strings.TrimSpace(a.Title)
	a.SourceID = strings.TrimSpace(a.SourceID)
	switch {
	case a.Source == "":
		return validation.NewFieldError("source", "is required")
	case len(a.Source) > MaxSource:
		return validation.NewFieldError("source", "must be at most %d characters", MaxSource)
	case a.Title == "":
		return validation.NewFieldError("title", "is required")
	case len(a.Title) > MaxTitle:
		return validation.NewFieldError("title", "must be at most %d characters", MaxTitle)
	case len(a.Description) > MaxDescription:
		return validation.NewFieldError("description", "must be at most %d bytes", MaxDescription)
	case len(a.SourceID) > MaxSourceID:
		return validation.NewFieldError("source_id", "must be at most %d characters", MaxSourceID)
	case len(a.Entities) > MaxEntities:
		return validation.NewFieldError("entities", "at most %d entities", MaxEntities)
	}
	if a.Severity == "" {
		a.Severity = SeverityMedium
	}
	a.Severity = Severity(strings.ToLower(strings.TrimSpace(string(a.Severity))))
	if !a.Severity.Valid() {
		return validation.NewFieldError("severity", "unknown severity %q (want one of informational, low, medium, high, critical)", a.Severity)
	}
	a.Status = Status(strings.ToLower(strings.TrimSpace(string(a.Status))))
	if a.Status == "" {
		a.Status = StatusNew
	}
	if !a.Status.Valid() {
		return validation.NewFieldError("status", "unknown status %q (want one of new, in_progress, resolved, dismissed)", a.Status)
	}
	for i := range a.Entities {
		if err := a.Entities[i].Validate(); err != nil {
			return validation.Prefix(fmt.Sprintf("entities[%d]", i), err)
		}
	}
	a.Entities = dedupEntities(a.Entities)
	if a.LastSeen.IsZero() {
		// A sender whose clock runs a little ahead must not be rejected.
		a.LastSeen = now
		if a.FirstSeen.After(now) {
			a.LastSeen = a.FirstSeen
		}
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	if a.LastSeen.Before(a.FirstSeen) {
		return validation.NewFieldError("last_seen", "is before first_seen")
	}
	return nil
}

// DedupKey is the per-source unique key of an alert: its source id when the
// source has one, otherwise a fingerprint of what identifies it. The store
// enforces uniqueness of (source, DedupKey) with a database constraint.
func (a *Alert) DedupKey() string {
	if a.SourceID != "" {
		return "id:" + a.SourceID
	}
	return "fp:" + a.Fingerprint()
}

// Fingerprint hashes the fields that identify an alert when its source gives
// no id: product, title and the sorted entities. Severity, status,
// description and times are left out on purpose, because they change while
// the alert is the same alert.
func (a *Alert) Fingerprint() string {
	parts := make([]string, 0, len(a.Entities))
	for _, e := range a.Entities {
		parts = append(parts, string(e.Kind)+"="+e.Value)
	}
	slices.Sort(parts)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", a.Source, a.Product, a.Title)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Normalize validates an incident and fills defaults in place.
func (in *Incident) Normalize(now time.Time) error {
	in.Source = strings.ToLower(strings.TrimSpace(in.Source))
	in.SourceID = strings.TrimSpace(in.SourceID)
	in.Title = strings.TrimSpace(in.Title)
	switch {
	case in.Source == "":
		return validation.NewFieldError("source", "is required")
	case len(in.Source) > MaxSource:
		return validation.NewFieldError("source", "must be at most %d characters", MaxSource)
	case in.SourceID == "":
		return validation.NewFieldError("source_id", "is required: incidents are identified by their source's id")
	case len(in.SourceID) > MaxSourceID:
		return validation.NewFieldError("source_id", "must be at most %d characters", MaxSourceID)
	case in.Title == "":
		return validation.NewFieldError("title", "is required")
	case len(in.Title) > MaxTitle:
		return validation.NewFieldError("title", "must be at most %d characters", MaxTitle)
	case len(in.Description) > MaxDescription:
		return validation.NewFieldError("description", "must be at most %d bytes", MaxDescription)
	case len(in.AlertRefs) > 1000:
		return validation.NewFieldError("alerts", "at most 1000 alerts per incident")
	}
	if in.Severity == "" {
		in.Severity = SeverityMedium
	}
	if !in.Severity.Valid() {
		return validation.NewFieldError("severity", "unknown severity %q (want one of informational, low, medium, high, critical)", in.Severity)
	}
	if in.Status == "" {
		in.Status = StatusNew
	}
	if !in.Status.Valid() {
		return validation.NewFieldError("status", "unknown status %q (want one of new, in_progress, resolved, dismissed)", in.Status)
	}
	for i, r := range in.AlertRefs {
		switch {
		case strings.TrimSpace(r) == "":
			return validation.NewFieldError(fmt.Sprintf("alerts[%d]", i), "must not be empty")
		case len(r) > MaxSourceID:
			// A member is named by its source id, which is never longer.
			return validation.NewFieldError(fmt.Sprintf("alerts[%d]", i), "must be at most %d characters", MaxSourceID)
		}
	}
	if in.LastSeen.IsZero() {
		in.LastSeen = now
	}
	if in.FirstSeen.IsZero() {
		in.FirstSeen = in.LastSeen
	}
	return nil
}

// dedupEntities drops repeated (kind, value) pairs, keeping the first, so
// that the fingerprint and enrichment see each observable once.
func dedupEntities(es []Entity) []Entity {
	if len(es) < 2 {
		return es
	}
	seen := make(map[string]bool, len(es))
	out := es[:0]
	for _, e := range es {
		k := string(e.Kind) + "\x00" + e.Value
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
