package web

import (
	"net/http"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// listAudit answers GET /api/v1/audit: the audit log, newest first, a page
// at a time, optionally one action's or one actor's entries.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	// authenticate checked the role; check again here, as the domain
	// services do, so that a mistake in the route table cannot open it.
	if err := auth.FromContext(r.Context()).Check(auth.ActionAdmin); err != nil {
		s.fail(w, r, err)
		return
	}
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	entries, err := s.store.ListAudit(r.Context(), store.AuditFilter{Action: q.Get("action"), Actor: q.Get("actor"), After: after, Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(entries, limit, func(e store.AuditEntry) int64 { return e.ID }))
}
