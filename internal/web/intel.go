package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/validation"
)

// ThreatIntel is the indicators page, feed health and the entity page
// behind the API.
type ThreatIntel interface {
	Search(ctx context.Context, actor auth.Actor, q store.IndicatorQuery) ([]store.IndicatorRow, int, error)
	Indicator(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error)
	Expire(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error)
	Allowlist(ctx context.Context, actor auth.Actor, typ, value, reason string) (store.IndicatorRow, error)
	Unallowlist(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error)
	Feeds(ctx context.Context, actor auth.Actor, interval time.Duration) ([]threatintel.FeedHealth, error)
	Entity(ctx context.Context, actor auth.Actor, value string) (threatintel.Entity, error)
}

func (s *Server) intelOff(w http.ResponseWriter) bool {
	if s.intel == nil {
		writeError(w, http.StatusNotFound, "not_found", "threat intelligence is not enabled on this server", nil)
		return true
	}
	return false
}

// listIndicators is GET /api/v1/indicators: ?q= (a substring of the
// value), type, feed, state (active, expired, allowlisted), limit and
// offset; the most recently changed first, with the total.
func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request) {
	if s.intelOff(w) {
		return
	}
	q := r.URL.Query()
	iq := store.IndicatorQuery{Text: q.Get("q"), Type: q.Get("type"), Feed: q.Get("feed"), State: q.Get("state"), Limit: 50}
	for _, f := range []struct {
		name string
		dst  *int
		min  int
	}{{"limit", &iq.Limit, 1}, {"offset", &iq.Offset, 0}} {
		if v := q.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < f.min || n > 100000 {
				s.fail(w, r, validation.NewFieldError(f.name, "must be an integer from %d to 100000, got %q", f.min, v))
				return
			}
			*f.dst = n
		}
	}
	if iq.Limit > 500 {
		s.fail(w, r, validation.NewFieldError("limit", "must be an integer from 1 to 500"))
		return
	}
	rows, total, err := s.intel.Search(r.Context(), actorOf(r), iq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if rows == nil {
		rows = []store.IndicatorRow{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"indicators": rows, "total": total, "limit": iq.Limit, "offset": iq.Offset})
}

// getIndicator is GET /api/v1/indicators/lookup?type=&value=: values are
// URLs and CIDR ranges, which do not fit in a path segment.
func (s *Server) getIndicator(w http.ResponseWriter, r *http.Request) {
	if s.intelOff(w) {
		return
	}
	row, err := s.intel.Indicator(r.Context(), actorOf(r), r.URL.Query().Get("type"), r.URL.Query().Get("value"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, row)
}

// indicatorAction is POST /api/v1/indicators/{action} with {type, value}
// (and reason, to allow-list): expire, allowlist or unallowlist.
func (s *Server) indicatorAction(w http.ResponseWriter, r *http.Request) {
	if s.intelOff(w) {
		return
	}
	var body struct {
		Type   string `json:"type"`
		Value  string `json:"value"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	var row store.IndicatorRow
	var err error
	actor := actorOf(r)
	switch r.PathValue("action") {
	case "expire":
		row, err = s.intel.Expire(r.Context(), actor, body.Type, body.Value)
	case "allowlist":
		row, err = s.intel.Allowlist(r.Context(), actor, body.Type, body.Value, body.Reason)
	case "unallowlist":
		row, err = s.intel.Unallowlist(r.Context(), actor, body.Type, body.Value)
	default:
		err = validation.NewFieldError("action", "unknown action %q (want expire, allowlist or unallowlist)", r.PathValue("action"))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, row)
}

// intelFeeds is GET /api/v1/intel/feeds: each feed's last run, counts
// and error.
func (s *Server) intelFeeds(w http.ResponseWriter, r *http.Request) {
	if s.intelOff(w) {
		return
	}
	fs, err := s.intel.Feeds(r.Context(), actorOf(r), s.feedInterval)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []threatintel.FeedHealth{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": fs})
}

// entity is GET /api/v1/entities?value=: everything about one value.
func (s *Server) entity(w http.ResponseWriter, r *http.Request) {
	if s.intelOff(w) {
		return
	}
	e, err := s.intel.Entity(r.Context(), actorOf(r), r.URL.Query().Get("value"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}
