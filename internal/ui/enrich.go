package ui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Enricher runs enrichment on an item's entities.
type Enricher interface {
	Request(ctx context.Context, actor auth.Actor, id int64, value string, providers []string) (int, error)
	Enrichments(ctx context.Context, actor auth.Actor, id int64) ([]store.Enrichment, error)
	Providers() []string
}

// enrich is POST /items/{id}/enrich: look up every entity of the item,
// or the one named in the form, with the configured providers. The
// reports arrive as comments and badges a few seconds later.
func (u *UI) enrich(w http.ResponseWriter, r *http.Request, v *view) {
	if u.o.Enricher == nil {
		u.fail(w, r, v, fmt.Errorf("enrichment: %w", validation.ErrNotFound))
		return
	}
	id, err := pathID(r, "id")
	if err == nil {
		var n int
		n, err = u.o.Enricher.Request(r.Context(), v.Actor, id, r.PostFormValue("entity"), nil)
		if err == nil {
			u.setFlash(w, r, flash{Text: fmt.Sprintf("Enrichment queued: %d lookups. The reports arrive as comments.", n)})
		}
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}

// itemEnrichment is what the item page shows of enrichment: whether it
// can be run, the reports, and each entity's worst verdict (its badge).
type itemEnrichment struct {
	Enabled   bool
	Providers []string
	Reports   []store.Enrichment
	Verdicts  map[string]string // entity value → worst verdict
}

var verdictRank = map[string]int{"info": 0, "safe": 1, "suspicious": 2, "malicious": 3}

func (u *UI) itemEnrichment(v *view, itemID int64) itemEnrichment {
	out := itemEnrichment{Verdicts: map[string]string{}}
	if u.o.Enricher == nil || v == nil || v.req == nil {
		return out
	}
	out.Enabled, out.Providers = len(u.o.Enricher.Providers()) > 0, u.o.Enricher.Providers()
	rs, err := u.o.Enricher.Enrichments(v.req.Context(), v.Actor, itemID)
	if err != nil {
		u.log.Warn("item page: enrichments", "item", itemID, "err", err)
		return out
	}
	out.Reports = rs
	for _, r := range rs {
		if cur, ok := out.Verdicts[r.Data]; !ok || verdictRank[r.Verdict] > verdictRank[cur] {
			out.Verdicts[r.Data] = r.Verdict
		}
	}
	return out
}

func (u *UI) enrichFuncs() template.FuncMap {
	return template.FuncMap{"itemEnrichment": u.itemEnrichment, "itemMatches": u.itemMatches, "feedHealth": u.feedHealth, "entityURL": entityURL,
		"intelOn": func() bool { return u.o.IntelAdmin != nil }, "silencesOn": func() bool { return u.o.Silences != nil }}
}

// Intel lists an item's threat-intelligence matches.
type Intel interface {
	Matches(ctx context.Context, actor auth.Actor, itemID int64) ([]store.TIMatch, error)
}

// itemMatches is the item page's threat-intelligence panel.
func (u *UI) itemMatches(v *view, itemID int64) []store.TIMatch {
	if u.o.Intel == nil || v == nil || v.req == nil {
		return nil
	}
	ms, err := u.o.Intel.Matches(v.req.Context(), v.Actor, itemID)
	if err != nil {
		u.log.Warn("item page: threat-intelligence matches", "item", itemID, "err", err)
		return nil
	}
	return ms
}
