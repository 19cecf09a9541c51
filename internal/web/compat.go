package web

import (
	"errors"
	"net/http"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/compat"
)

// alertmanager accepts Alertmanager's POST /api/v2/alerts body, so that a
// Prometheus server can list vigil as an Alertmanager. As Alertmanager
// does, valid alerts are stored even when others in the body are invalid,
// and the answer is then 400 naming the first invalid field: Prometheus
// does not retry a 400, so rejecting the whole body would lose the valid
// alerts for good.
func (s *Server) alertmanager(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	alerts, perr := compat.ParseAlertmanager(body, s.clock.Now())
	if len(alerts) > 0 {
		actor := auth.FromContext(r.Context())
		if _, err := s.ingest.Submit(r.Context(), actor.String(), alerts); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if perr != nil {
		s.fail(w, r, perr)
		return
	}
	// Alertmanager answers 200 with an empty body.
	w.WriteHeader(http.StatusOK)
}

// pagerDutyMaxEvent is PagerDuty's own cap on one event. The body is read
// before its routing_key can be checked, so an unauthenticated sender
// gets no further than this.
const pagerDutyMaxEvent = 512 << 10

// pagerduty accepts PagerDuty Events API v2 events. As with PagerDuty, the
// routing_key is the credential: an integration key made for PagerDuty
// or, deprecated, an API token allowed to ingest.
func (s *Server) pagerduty(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, min(s.maxBody, pagerDutyMaxEvent))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev, err := compat.ParsePagerDuty(body, s.clock.Now())
	if err != nil {
		var pe *compat.PagerDutyError
		if errors.As(err, &pe) {
			writeJSON(w, http.StatusBadRequest, pe)
			return
		}
		s.fail(w, r, err)
		return
	}
	actor, ok := s.actorFor(r.Context(), ev.RoutingKey)
	if ok && actor.Kind == "key" && actor.Source != auth.SourcePagerDuty {
		ok = false // a key made for another sender
	}
	if ok {
		s.deprecated(actor, "a PagerDuty routing_key")
	}
	if !ok || actor.Check(auth.ActionIngest) != nil {
		// PagerDuty's answer for a key that names no integration.
		writeJSON(w, http.StatusBadRequest, &compat.PagerDutyError{
			Status: "invalid event", Message: "Event object is invalid", Errors: []string{"Invalid routing key"}})
		return
	}
	ctx := auth.WithActor(r.Context(), actor)
	switch ev.Action {
	case compat.PagerDutyTrigger:
		if _, err := s.ingest.Submit(ctx, actor.String(), []alert.Alert{ev.Alert}); err != nil {
			s.fail(w, r, err)
			return
		}
	default:
		// An acknowledge or resolve for an unknown key is accepted and
		// dropped, as PagerDuty does.
		if _, err := s.ingest.SetStatus(ctx, compat.SourcePagerDuty, ev.DedupKey, ev.Status(), actor.String(),
			"PagerDuty event "+ev.Action); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	w.Write(compat.PagerDutyAccepted(ev.DedupKey))
}

// azureMonitor accepts an Azure Monitor action group webhook in the common
// alert schema.
func (s *Server) azureMonitor(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := compat.ParseAzureMonitor(body, s.clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.submit(w, r, []alert.Alert{a})
}
