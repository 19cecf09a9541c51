package web

import (
	"context"
	"net/http"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// Enricher runs enrichment on items' entities.
type Enricher interface {
	Request(ctx context.Context, actor auth.Actor, id int64, value string, providers []string) (int, error)
	Enrichments(ctx context.Context, actor auth.Actor, id int64) ([]store.Enrichment, error)
	Providers() []string
}

func (s *Server) enricherOff(w http.ResponseWriter) bool {
	if s.enricher == nil {
		writeError(w, http.StatusNotFound, "not_found", "enrichment is not enabled on this server", nil)
		return true
	}
	return false
}

// enrichItem is POST /api/v1/workitems/{id}/enrich: queue lookups of the
// item's entities (or one, "entity") by the configured providers (or
// the named ones). The reports arrive as comments, mirrored to the
// item's sources, and in GET …/enrichments.
func (s *Server) enrichItem(w http.ResponseWriter, r *http.Request) {
	if s.enricherOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body struct {
		Entity    string   `json:"entity"`
		Providers []string `json:"providers"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	n, err := s.enricher.Request(r.Context(), actorOf(r), id, body.Entity, body.Providers)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": n, "providers": s.enricher.Providers()})
}

// itemEnrichments is GET /api/v1/workitems/{id}/enrichments.
func (s *Server) itemEnrichments(w http.ResponseWriter, r *http.Request) {
	if s.enricherOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	es, err := s.enricher.Enrichments(r.Context(), actorOf(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if es == nil {
		es = []store.Enrichment{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"enrichments": es})
}
