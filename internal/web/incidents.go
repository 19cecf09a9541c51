package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// incidentIn is the native API's incident body.
type incidentIn struct {
	Source      string          `json:"source"`
	SourceID    string          `json:"source_id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Severity    alert.Severity  `json:"severity"`
	Status      alert.Status    `json:"status"`
	FirstSeen   string          `json:"first_seen"`
	LastSeen    string          `json:"last_seen"`
	Alerts      []string        `json:"alerts"`
	Raw         json.RawMessage `json:"raw"`
}

// postIncident stores one incident and links its member alerts, named by
// their source ids within the incident's source.
func (s *Server) postIncident(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := parseIncident(body, s.clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	actor := auth.FromContext(r.Context())
	res, err := s.incidents.UpsertIncident(r.Context(), s.items.Process(), actor.String(), inc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// parseIncident reads the body of POST /api/v1/incidents into a normalized
// incident. Errors are *validation.FieldError naming the field. It is apart
// from the handler so that FuzzParseIncident can reach it without a store.
func parseIncident(body []byte, now time.Time) (alert.Incident, error) {
	var in incidentIn
	if err := unmarshalStrict(body, &in, ""); err != nil {
		return alert.Incident{}, err
	}
	inc := alert.Incident{Source: in.Source, SourceID: in.SourceID, Title: in.Title, Description: in.Description,
		Severity: in.Severity, Status: in.Status, AlertRefs: in.Alerts, Raw: in.Raw}
	if len(inc.Raw) == 0 {
		inc.Raw = json.RawMessage(body)
	}
	var err error
	if inc.FirstSeen, err = parseTime(in.FirstSeen, "first_seen"); err != nil {
		return alert.Incident{}, err
	}
	if inc.LastSeen, err = parseTime(in.LastSeen, "last_seen"); err != nil {
		return alert.Incident{}, err
	}
	if err := inc.Normalize(now); err != nil {
		return alert.Incident{}, err
	}
	return inc, nil
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.incidents.ListIncidents(r.Context(), r.URL.Query().Get("source"), after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(list, limit, func(in alert.Incident) int64 { return in.ID }))
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := s.incidents.GetIncident(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) incidentVersions(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.incidents.IncidentVersions(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]store.IncidentVersion{"items": vs})
}
