package enrichment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/store"
)

// HistoryName is vigil's own history provider's name.
const HistoryName = "vigil-history"

// Profiles is what the history provider reads: everything the store
// knows about an entity.
type Profiles interface {
	EntityProfileOf(ctx context.Context, value string) (store.EntityProfile, error)
}

// History is a provider that asks vigil itself: how often the entity was
// seen, in which items, how those ended, what other providers said of it,
// and whether it matched threat intelligence. It calls no one, so it has
// no quota, and its reports are never reused: history changes with every
// alert.
type History struct {
	st  Profiles
	now func() time.Time
}

// NewHistory returns the history provider over the store.
func NewHistory(st Profiles, now func() time.Time) *History {
	if now == nil {
		now = time.Now
	}
	return &History{st: st, now: now}
}

// Name implements enrich.Provider.
func (h *History) Name() string { return HistoryName }

// Supports implements enrich.Provider: every observable the service
// looks up.
func (h *History) Supports(dataType string) bool {
	switch dataType {
	case "ip", "domain", "fqdn", "url", "hash", "mail":
		return true
	}
	return false
}

// CacheTTL is zero: every lookup reads the history as it is now.
func (h *History) CacheTTL() time.Duration { return 0 }

// Enrich implements enrich.Provider.
func (h *History) Enrich(ctx context.Context, req enrich.Request) (enrich.Report, error) {
	p, err := h.st.EntityProfileOf(ctx, req.Data)
	if err != nil {
		return enrich.Report{}, fmt.Errorf("history of %s: %w", req.Data, err)
	}
	rep := enrich.Report{Provider: HistoryName, Request: req, At: h.now()}
	open, closed, removed := 0, 0, 0
	for _, it := range p.Items {
		switch it.State {
		case "Closed":
			closed++
		case "Removed":
			removed++
		default:
			open++
		}
	}
	tax := func(level, pred, value string) {
		rep.Taxonomies = append(rep.Taxonomies, enrich.Taxonomy{Level: level, Namespace: "vigil", Predicate: pred, Value: value})
	}
	var parts []string
	if len(p.Items) == 0 {
		tax(enrich.LevelInfo, "Seen", "never")
		parts = append(parts, "never seen before in vigil")
	} else {
		more := ""
		if p.Truncated {
			more = "+"
		}
		tax(enrich.LevelInfo, "Items", fmt.Sprintf("%d%s", len(p.Items), more))
		parts = append(parts, fmt.Sprintf("seen in %d%s items since %s (%d open, %d closed, %d removed), %d alert firings",
			len(p.Items), more, p.FirstSeen.UTC().Format("2006-01-02"), open, closed, removed, p.Sightings))
		if removed > 0 && open == 0 && closed == 0 {
			// Every earlier item was dismissed in triage: likely noise.
			tax(enrich.LevelSafe, "Outcome", fmt.Sprintf("%d removed", removed))
		}
	}
	worst, by := "", ""
	for _, e := range p.Enrichments {
		if e.Provider == HistoryName {
			continue
		}
		if rank(e.Verdict) > rank(worst) {
			worst, by = e.Verdict, e.Provider
		}
	}
	if worst != "" && worst != enrich.LevelInfo {
		tax(worst, "PastVerdict", by)
		parts = append(parts, fmt.Sprintf("%s said %s", by, worst))
	}
	if len(p.Matches) > 0 {
		conf := 0
		for _, m := range p.Matches {
			conf = max(conf, m.Confidence)
		}
		level := enrich.LevelSuspicious
		if conf >= 75 {
			level = enrich.LevelMalicious
		}
		tax(level, "TIMatches", fmt.Sprintf("%d", len(p.Matches)))
		parts = append(parts, fmt.Sprintf("%d threat-intelligence matches (confidence up to %d)", len(p.Matches), conf))
	}
	rep.Summary = "vigil history: " + strings.Join(parts, "; ")
	full := struct {
		store.EntityProfile
		Enrichments []store.Enrichment `json:"enrichments,omitempty"`
	}{EntityProfile: p}
	full.EntityProfile.Enrichments = nil // their reports are stored already
	rep.Full, _ = json.Marshal(full)
	return rep, nil
}

func rank(level string) int {
	switch level {
	case enrich.LevelSafe:
		return 1
	case enrich.LevelSuspicious:
		return 2
	case enrich.LevelMalicious:
		return 3
	case enrich.LevelInfo:
		return 0
	}
	return -1
}
