package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// alertIn is the native API's alert body. It is separate from alert.Alert
// so that fields the store sets (id, version, …) are rejected as unknown
// rather than silently accepted.
type alertIn struct {
	Source      string          `json:"source"`
	SourceID    string          `json:"source_id"`
	Product     string          `json:"product"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Severity    alert.Severity  `json:"severity"`
	Status      alert.Status    `json:"status"`
	Entities    []alert.Entity  `json:"entities"`
	FirstSeen   string          `json:"first_seen"`
	LastSeen    string          `json:"last_seen"`
	Raw         json.RawMessage `json:"raw"`
}

// ingestAnswer is the 200 body of every alert submission.
type ingestAnswer struct {
	Accepted int                  `json:"accepted"`
	Results  []store.IngestResult `json:"results"`
}

// postAlerts takes one alert object or an array of them. It answers 200
// only after the transaction holding them has committed.
func (s *Server) postAlerts(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	alerts, err := parseAlerts(body, s.clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.submit(w, r, alerts)
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, alerts []alert.Alert) {
	actor := auth.FromContext(r.Context())
	results, err := s.ingest.Submit(r.Context(), actor.String(), alerts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ingestAnswer{Accepted: len(results), Results: results})
}

// maxAlertsPerRequest bounds one request's batch.
const maxAlertsPerRequest = 5000

func parseAlerts(body []byte, now time.Time) ([]alert.Alert, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, validation.NewFieldError("body", "is empty; send an alert object or an array of them")
	}
	if trimmed[0] != '[' {
		a, err := parseAlert(trimmed, "", now)
		if err != nil {
			return nil, err
		}
		return []alert.Alert{a}, nil
	}
	// One streaming pass over the array: each element is decoded strictly
	// and its raw bytes are sliced out of the body by decoder offsets, so
	// the body is scanned twice in all rather than four times.
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil {
		return nil, jsonFieldError(err, "")
	}
	var out []alert.Alert
	for i := 0; dec.More(); i++ {
		if i >= maxAlertsPerRequest {
			return nil, validation.NewFieldError("body", "at most %d alerts per request", maxAlertsPerRequest)
		}
		prefix := fmt.Sprintf("[%d]", i)
		start := dec.InputOffset()
		var in alertIn
		if err := dec.Decode(&in); err != nil {
			return nil, jsonFieldError(err, prefix)
		}
		raw := bytes.TrimLeft(trimmed[start:dec.InputOffset()], " \t\r\n,")
		a, err := in.alert(raw, prefix, now)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if _, err := dec.Token(); err != nil {
		if errors.Is(err, io.EOF) {
			// The body ended inside the array, which is not "empty".
			err = io.ErrUnexpectedEOF
		}
		return nil, jsonFieldError(err, "")
	}
	if err := checkEnd(trimmed, dec, ""); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, validation.NewFieldError("body", "the array is empty")
	}
	return out, nil
}

func parseAlert(b []byte, prefix string, now time.Time) (alert.Alert, error) {
	var in alertIn
	if err := unmarshalStrict(b, &in, prefix); err != nil {
		return alert.Alert{}, err
	}
	return in.alert(b, prefix, now)
}

// alert converts the wire form; raw is the element as posted, kept as the
// raw payload unless the sender supplied its own.
func (in *alertIn) alert(raw []byte, prefix string, now time.Time) (alert.Alert, error) {
	a := alert.Alert{
		Source: in.Source, SourceID: in.SourceID, Product: in.Product, Title: in.Title, Description: in.Description,
		Severity: in.Severity, Status: in.Status, Entities: in.Entities, Raw: in.Raw,
	}
	if len(a.Raw) == 0 {
		a.Raw = json.RawMessage(raw)
	}
	var err error
	if a.FirstSeen, err = parseTime(in.FirstSeen, "first_seen"); err != nil {
		return a, validation.Prefix(prefix, err)
	}
	if a.LastSeen, err = parseTime(in.LastSeen, "last_seen"); err != nil {
		return a, validation.Prefix(prefix, err)
	}
	if err := a.Normalize(now); err != nil {
		return a, validation.Prefix(prefix, err)
	}
	return a, nil
}

func parseTime(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, validation.NewFieldError(field, "%q is not an RFC 3339 time", v)
	}
	return t.UTC(), nil
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	limit, after, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.AlertFilter{Source: q.Get("source"), Status: alert.Status(q.Get("status")),
		Severity: alert.Severity(q.Get("severity")), Text: q.Get("q"), After: after, Limit: limit}
	if f.Status != "" && !f.Status.Valid() {
		s.fail(w, r, validation.NewFieldError("status", "unknown status %q", f.Status))
		return
	}
	if f.Severity != "" && !f.Severity.Valid() {
		s.fail(w, r, validation.NewFieldError("severity", "unknown severity %q", f.Severity))
		return
	}
	alerts, err := s.store.ListAlerts(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(alerts, limit, func(a alert.Alert) int64 { return a.ID }))
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.store.GetAlert(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) alertVersions(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.store.AlertVersions(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": vs})
}
