package web

import (
	"net/http"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// keyList is the answer of GET /api/v1/integration-keys.
type keyList struct {
	Keys []store.IntegrationKey `json:"keys"`
}

// createdKey is the answer of POST /api/v1/integration-keys: the only
// time the secret is ever shown.
type createdKey struct {
	store.IntegrationKey
	Secret string `json:"secret"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	if s.keys == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration keys are not managed by this server", nil)
		return
	}
	keys, err := s.keys.IntegrationKeys(r.Context(), auth.FromContext(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if keys == nil {
		keys = []store.IntegrationKey{}
	}
	writeJSON(w, http.StatusOK, keyList{Keys: keys})
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	if s.keys == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration keys are not managed by this server", nil)
		return
	}
	var in struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, k, err := s.keys.CreateIntegrationKey(r.Context(), auth.FromContext(r.Context()), in.Name, in.Source)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/integration-keys")
	writeJSON(w, http.StatusCreated, createdKey{IntegrationKey: k, Secret: secret})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if s.keys == nil {
		writeError(w, http.StatusNotFound, "not_found", "integration keys are not managed by this server", nil)
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.keys.RevokeIntegrationKey(r.Context(), auth.FromContext(r.Context()), id); err != nil {
		s.fail(w, r, err)
		return
	}
	// The key is refused from now on, on this instance at once: a cached
	// lookup of it must not outlive the revocation.
	s.forgetKey(id)
	w.WriteHeader(http.StatusNoContent)
}

// forgetKey drops cached lookups of integration key id.
func (s *Server) forgetKey(id int64) {
	s.tokens.Range(func(k, v any) bool {
		if c := v.(cachedToken); c.actor.Kind == "key" && c.actor.ID == id {
			s.tokens.Delete(k)
		}
		return true
	})
}
