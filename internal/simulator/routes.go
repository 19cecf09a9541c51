package simulator

import (
	"errors"
	"net/http"
	"strings"
)

// routes registers every simulated endpoint. Each service's REST surface
// lives in its own file and registers itself here.
func (s *Simulator) routes() {
	// Entra ID.
	s.handle("POST /{tenant}/oauth2/v2.0/token", "entra.token", "", s.token)
	s.handle("GET /{tenant}/v2.0/.well-known/openid-configuration", "entra.openid", "", s.openIDConfiguration)
	s.handle("GET /common/discovery/instance", "entra.discovery", "", s.instanceDiscovery)
	s.handle("GET /{tenant}/oauth2/v2.0/authorize", "entra.authorize", "", s.authorizeEndpoint)
	s.handle("GET /{tenant}/discovery/v2.0/keys", "entra.keys", "", s.keys)

	s.sentinelRoutes()
	s.defenderRoutes()
	s.assessmentRoutes() // assessments.go: Defender for Cloud recommendations and governance
	s.graphRoutes()
	s.devopsRoutes()
	s.logAnalyticsRoutes()
	s.tiUploadRoutes()
	s.identityRoutes() // subscriptions.go: az CLI, managed identity, certificates
	s.controlRoutes()
}

// controlRoutes is the simulator's own API under /sim/v1: tests and the
// demo act as portal users through it. It needs no token.
func (s *Simulator) controlRoutes() {
	s.handle("POST /sim/v1/defender/alerts", "sim.defender.raise", "", func(w http.ResponseWriter, r *http.Request) {
		var spec AlertSpec
		if err := decodeJSON(r, &spec); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object: " + err.Error()})
			return
		}
		a := s.world.RaiseDefenderAlert(spec)
		writeJSON(w, http.StatusCreated, map[string]any{
			"id": s.defenderAlertID(a), "name": a.Name, "sentinelAlertId": a.SentinelAlertID,
			"incidentName": a.IncidentName, "graphAlertId": a.GraphAlertID,
		})
	})
	// A subscription owner acting in the Defender for Cloud portal.
	s.handle("POST /sim/v1/defender/alerts/{name}/{action}", "sim.defender.action", "", func(w http.ResponseWriter, r *http.Request) {
		status, ok := map[string]string{"activate": DfCActive, "inProgress": DfCInProgress, "dismiss": DfCDismissed, "resolve": DfCResolved}[r.PathValue("action")]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "action must be activate, inProgress, dismiss or resolve"})
			return
		}
		if _, err := s.world.SetDefenderStatus(r.PathValue("name"), status); err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// An analyst acting in the Sentinel portal.
	s.handle("POST /sim/v1/sentinel/incidents/{name}/status", "sim.sentinel.status", "", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Status, Classification, ClassificationReason, ClassificationComment string
		}
		if err := decodeJSON(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		inc, ok := s.world.IncidentByName(r.PathValue("name"))
		if !ok {
			simError(w, ErrNotFound)
			return
		}
		_, _, err := s.world.UpdateIncident(inc.Name, "", IncidentUpdate{Title: inc.Title, Description: inc.Description,
			Severity: inc.Severity, Status: body.Status, Classification: body.Classification,
			ClassificationReason: body.ClassificationReason, ClassificationComment: body.ClassificationComment})
		if err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.handle("POST /sim/v1/sentinel/incidents/{name}/alerts/{alert}", "sim.sentinel.relate", "", func(w http.ResponseWriter, r *http.Request) {
		if err := s.world.RelateAlert(r.PathValue("name"), r.PathValue("alert")); err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.handle("POST /sim/v1/sentinel/incidents/{name}/portal-edit", "sim.sentinel.edit", "", func(w http.ResponseWriter, r *http.Request) {
		if err := s.world.PortalEditIncident(r.PathValue("name")); err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.handle("POST /sim/v1/faults", "sim.faults", "", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decodeJSON(r, &f); err != nil || f.Endpoint == "" || f.Kind == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {endpoint, kind, status, retry_after, latency_ms, times}"})
			return
		}
		s.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	})
	s.handle("DELETE /sim/v1/faults", "sim.faults.clear", "", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	// An administrator of the tenant: users who can sign in to the
	// registered app, with their app roles, and its redirect URIs.
	s.handle("POST /sim/v1/entra/users", "sim.entra.users.add", "", func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			Email string   `json:"email"`
			Name  string   `json:"name"`
			Roles []string `json:"roles"`
		}
		if err := decodeJSON(r, &u); err != nil || !strings.Contains(u.Email, "@") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {email, name, roles}"})
			return
		}
		writeJSON(w, http.StatusCreated, s.AddUser(u.Email, u.Name, u.Roles...))
	})
	s.handle("GET /sim/v1/entra/users", "sim.entra.users.list", "", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": s.Users()})
	})
	s.handle("POST /sim/v1/entra/redirect-uris", "sim.entra.redirects.add", "", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			URI string `json:"uri"`
		}
		if err := decodeJSON(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {uri}"})
			return
		}
		if err := s.AddRedirectURI(body.URI); err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.handle("POST /sim/v1/tokens/expire", "sim.tokens.expire", "", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireTokens()})
	})
}

func simError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrInvalidInput):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}
