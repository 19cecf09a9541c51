package rules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// NoiseStore is what the noise report reads.
type NoiseStore interface {
	NoiseStats(ctx context.Context, since time.Time, limit int) ([]store.NoiseRow, error)
}

// Suggestion thresholds: a kind of item is worth a suppression rule when
// it came often enough to be a pattern and almost all of it was noise.
const (
	SuggestMinItems = 5
	SuggestMinShare = 0.8
	// MaxSuggestions caps the rules the page proposes.
	MaxSuggestions = 5
	// SimilarDays is the default life of a proposed suppression: long
	// enough for a test campaign, short enough that a forgotten rule
	// does not hide a real attack for long.
	SimilarDays = 7
)

// NoiseReport is the noise of the last Days: one row per type, title,
// key entity and source, the noisiest first, and the suppression rules
// proposed for the noisiest.
type NoiseReport struct {
	Days        int              `json:"days"`
	Rows        []store.NoiseRow `json:"rows"`
	Suggestions []Suggestion     `json:"suggestions"`
}

// Suggestion is a proposed rule, disabled, for one noisy row.
type Suggestion struct {
	store.NoiseRow
	// Why says, in a sentence, what the rule is proposed for.
	Why  string                `json:"why"`
	Rule automation.Definition `json:"rule"`
}

// entityProperties maps an item's key entity kind ("host vm-web-01") to
// the vocabulary's list property that holds it.
var entityProperties = map[string]string{
	"host": "hosts", "ip": "ips", "account": "accounts", "url": "urls",
	"filehash": "file_hashes", "domain": "domains", "cloud_resource": "azure_resources",
}

// Similar proposes a rule that closes, as false positives until now plus
// SimilarDays, the alerts like an item: same title, same source and, when
// the item has one the vocabulary can test, the same key entity. It is
// "Suppress similar" on an item's page and the noise report's
// suggestion. The caller decides whether it starts enabled.
func Similar(title, source, keyEntity string, now time.Time, origin string) automation.Definition {
	rows := []automation.BuilderRow{
		{Property: "title", Operator: automation.OpEquals, Values: []string{title}},
		{Property: "source", Operator: automation.OpEquals, Values: []string{source}},
	}
	if kind, value, ok := strings.Cut(keyEntity, " "); ok {
		if prop, known := entityProperties[kind]; known && strings.TrimSpace(value) != "" {
			rows = append(rows, automation.BuilderRow{Property: prop, Operator: automation.OpEquals, Values: []string{strings.TrimSpace(value)}})
		}
	}
	exp := now.UTC().Add(SimilarDays * 24 * time.Hour).Truncate(time.Minute)
	return automation.Definition{Name: "Suppress: " + title, Description: origin,
		Triggers: []string{string(automation.AlertCreated)}, ExpiresAt: &exp,
		Builder: &automation.Builder{Match: "all", Rows: rows},
		Actions: []automation.ActionSpec{{Type: automation.ActClose, Classification: automation.FalsePositive, Reason: "suppressed similar"}}}
}

// Noise reports the noise of the items created in the last days (30 when
// 0), at most limit rows (100 when 0), with suppression rules proposed for
// the kinds that came at least SuggestMinItems times and were closed as
// false or benign positives at least SuggestMinShare of the time. Each
// proposal passes Check, so it can be saved as it is.
func (s *Service) Noise(ctx context.Context, actor auth.Actor, days, limit int) (NoiseReport, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return NoiseReport{}, err
	}
	ns, ok := s.st.(NoiseStore)
	if !ok {
		return NoiseReport{}, fmt.Errorf("noise statistics: %w", validation.ErrNotFound)
	}
	switch {
	case days == 0:
		days = 30
	case days < 0 || days > 366:
		return NoiseReport{}, validation.NewFieldError("days", "between 1 and 366")
	}
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return NoiseReport{}, validation.NewFieldError("limit", "between 1 and 1000")
	}
	now := s.clock.Now()
	rows, err := ns.NoiseStats(ctx, now.AddDate(0, 0, -days), limit)
	if err != nil {
		return NoiseReport{}, err
	}
	rep := NoiseReport{Days: days, Rows: rows, Suggestions: []Suggestion{}}
	for _, r := range rows {
		if len(rep.Suggestions) == MaxSuggestions {
			break
		}
		if r.Items < SuggestMinItems || r.NoiseShare < SuggestMinShare {
			continue
		}
		why := fmt.Sprintf("%d of %d items of %q from %s in %d days were closed as false or benign positives",
			r.Noisy(), r.Items, r.Title, r.Source, days)
		if r.KeyEntity != "" {
			why = fmt.Sprintf("%d of %d items of %q on %s from %s in %d days were closed as false or benign positives",
				r.Noisy(), r.Items, r.Title, r.KeyEntity, r.Source, days)
		}
		d := Similar(r.Title, r.Source, r.KeyEntity, now, "Proposed by the noise report: "+why+".")
		if err := s.Check(&d); err != nil {
			s.log.Warn("noise suggestion does not check; left out", "title", r.Title, "err", err)
			continue
		}
		rep.Suggestions = append(rep.Suggestions, Suggestion{NoiseRow: r, Why: why, Rule: d})
	}
	return rep, nil
}
