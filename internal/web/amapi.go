package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/compat"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Silencer keeps Alertmanager's silences as suppression rules.
type Silencer interface {
	Silences(ctx context.Context, actor auth.Actor) ([]alertmanager.GettableSilence, error)
	Silence(ctx context.Context, actor auth.Actor, id string) (alertmanager.GettableSilence, error)
	SaveSilence(ctx context.Context, actor auth.Actor, p alertmanager.PostableSilence) (string, error)
	ExpireSilence(ctx context.Context, actor auth.Actor, id string) error
	SilenceID(ctx context.Context, ruleID int64) string
}

// LabelledAlerts lists the Alertmanager alerts with their payloads.
type LabelledAlerts interface {
	LabelledAlerts(ctx context.Context, source string, fn func(store.LabelledAlert) error) error
}

// amReceiver is the one receiver vigil is to Alertmanager's tools.
const amReceiver = "vigil"

// amFail answers an API v2 error in Alertmanager's shape (a JSON string),
// which amtool decodes; the status follows vigil's errors.
func (s *Server) amFail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	var fe *validation.FieldError
	var forbidden *validation.ForbiddenError
	switch {
	case errors.As(err, &fe):
		status = http.StatusBadRequest
	case errors.Is(err, validation.ErrNotFound):
		status = http.StatusNotFound
	case errors.As(err, &forbidden):
		status = http.StatusForbidden
	default:
		s.log.Error("alertmanager api", "path", r.URL.Path, "err", err)
		alertmanager.WriteError(w, status, "internal error")
		return
	}
	alertmanager.WriteError(w, status, err.Error())
}

func (s *Server) amOff(w http.ResponseWriter) bool {
	if s.silences == nil || s.labelled == nil {
		alertmanager.WriteError(w, http.StatusNotFound, "the Alertmanager API is not enabled on this server")
		return true
	}
	return false
}

// amAlerts reads the unresolved Alertmanager alerts as the API shows them.
func (s *Server) amAlerts(ctx context.Context, now time.Time) ([]alertmanager.GettableAlert, error) {
	var out []alertmanager.GettableAlert
	silenceOf := map[int64]string{}
	err := s.labelled.LabelledAlerts(ctx, compat.SourceAlertmanager, func(a store.LabelledAlert) error {
		var p struct {
			Labels       map[string]string `json:"labels"`
			Annotations  map[string]string `json:"annotations"`
			StartsAt     time.Time         `json:"startsAt"`
			EndsAt       time.Time         `json:"endsAt"`
			GeneratorURL string            `json:"generatorURL"`
		}
		_ = json.Unmarshal(a.Raw, &p) // a payload vigil stored; a bad one shows without labels
		g := alertmanager.GettableAlert{Labels: p.Labels, Annotations: p.Annotations, Fingerprint: a.Fingerprint,
			StartsAt: p.StartsAt, EndsAt: p.EndsAt, UpdatedAt: a.UpdatedAt, GeneratorURL: p.GeneratorURL,
			Receivers: []alertmanager.ReceiverReference{{Name: amReceiver}}}
		if g.StartsAt.IsZero() {
			g.StartsAt = a.FirstSeen
		}
		if g.EndsAt.IsZero() {
			// Alertmanager's resolve_timeout: an alert that says nothing
			// of its end is taken to end five minutes after it was seen.
			g.EndsAt = a.LastSeen.Add(5 * time.Minute)
		}
		g.Status = alertmanager.AlertStatus{State: alertmanager.AlertStateActive}
		if a.SuppressedBy < 0 {
			// Inhibited (see internal/inhibit): the rule, by its place in
			// the configuration.
			g.Status.State = alertmanager.AlertStateSuppressed
			g.Status.InhibitedBy = []string{fmt.Sprintf("inhibit_rules[%d]", -a.SuppressedBy-1)}
		} else if a.SuppressedBy != 0 {
			id, ok := silenceOf[a.SuppressedBy]
			if !ok {
				id = s.silences.SilenceID(ctx, a.SuppressedBy)
				silenceOf[a.SuppressedBy] = id
			}
			g.Status.State = alertmanager.AlertStateSuppressed
			if id != "" {
				g.Status.SilencedBy = []string{id}
			} else {
				g.Status.MutedBy = []string{"rule"} // suppressed by another rule
			}
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// amGetAlerts is GET /api/v2/alerts (amtool alert query).
func (s *Server) amGetAlerts(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	q, err := alertmanager.ParseAlertQuery(r.URL.Query())
	if err != nil {
		alertmanager.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.clock.Now()
	all, err := s.amAlerts(r.Context(), now)
	if err != nil {
		s.amFail(w, r, err)
		return
	}
	out := make([]alertmanager.GettableAlert, 0, len(all))
	for _, a := range all {
		if q.Keep(a, now) {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// amGetGroups is GET /api/v2/alerts/groups: the alerts grouped by their
// alert name, the grouping most configurations use.
func (s *Server) amGetGroups(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	q, err := alertmanager.ParseAlertQuery(r.URL.Query())
	if err != nil {
		alertmanager.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.clock.Now()
	all, err := s.amAlerts(r.Context(), now)
	if err != nil {
		s.amFail(w, r, err)
		return
	}
	kept := all[:0]
	for _, a := range all {
		if q.Keep(a, now) {
			kept = append(kept, a)
		}
	}
	groups := alertmanager.GroupAlerts(kept, []string{"alertname"}, amReceiver)
	out := make([]alertmanager.AlertGroup, 0, len(groups))
	for _, g := range groups {
		if q.KeepGroup(g) {
			out = append(out, g)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// amGetSilences is GET /api/v2/silences (amtool silence query).
func (s *Server) amGetSilences(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	q, err := alertmanager.ParseSilenceQuery(r.URL.Query())
	if err != nil {
		alertmanager.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	all, err := s.silences.Silences(r.Context(), actorOf(r))
	if err != nil {
		s.amFail(w, r, err)
		return
	}
	now := s.clock.Now()
	out := make([]alertmanager.GettableSilence, 0, len(all))
	for _, sil := range all {
		if q.Keep(sil, now) {
			out = append(out, sil)
		}
	}
	alertmanager.SortSilences(out, now)
	writeJSON(w, http.StatusOK, out)
}

// amPostSilence is POST /api/v2/silences (amtool silence add).
func (s *Server) amPostSilence(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		alertmanager.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := alertmanager.ParsePostableSilence(body, s.clock.Now())
	if err != nil {
		alertmanager.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	id, err := s.silences.SaveSilence(r.Context(), actorOf(r), p)
	if err != nil {
		s.amFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, alertmanager.PostSilenceResponse{SilenceID: id})
}

// amGetSilence is GET /api/v2/silence/{silenceID}.
func (s *Server) amGetSilence(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	sil, err := s.silences.Silence(r.Context(), actorOf(r), r.PathValue("silenceID"))
	if err != nil {
		s.amFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sil)
}

// amDeleteSilence is DELETE /api/v2/silence/{silenceID} (amtool silence
// expire).
func (s *Server) amDeleteSilence(w http.ResponseWriter, r *http.Request) {
	if s.amOff(w) {
		return
	}
	if err := s.silences.ExpireSilence(r.Context(), actorOf(r), r.PathValue("silenceID")); err != nil {
		s.amFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// amStatus is GET /api/v2/status (amtool config show, check of reach).
func (s *Server) amStatus(w http.ResponseWriter, r *http.Request) {
	host, _ := os.Hostname()
	writeJSON(w, http.StatusOK, alertmanager.AlertmanagerStatus{
		Cluster:     alertmanager.ClusterStatus{Name: host, Status: "disabled"},
		VersionInfo: alertmanager.VersionInfo{Version: "vigil-" + s.version, Revision: s.version, Branch: "main", BuildUser: "vigil", BuildDate: "", GoVersion: runtime.Version()},
		Config:      alertmanager.AlertmanagerConfig{Original: "# vigil speaks Alertmanager's API v2; its routing is vigil's services (see docs/alertmanager.md)\nroute:\n  receiver: vigil\nreceivers:\n  - name: vigil\n"},
		Uptime:      s.started,
	})
}

// amReceivers is GET /api/v2/receivers.
func (s *Server) amReceivers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []alertmanager.Receiver{{Name: amReceiver}})
}
