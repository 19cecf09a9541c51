package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/compat"
)

// AlertmanagerWebhookPath is where Alertmanager's webhook_config (and
// Grafana's webhook contact point) deliver notifications.
const AlertmanagerWebhookPath = "/api/v1/webhooks/alertmanager"

// groupGrace holds the alerts of a notification back from items of their
// own: the group's incident, stored right after them, takes them in.
const groupGrace = 2 * time.Minute

// alertmanagerWebhook takes Alertmanager's webhook notification (version
// "4") or Grafana's. Its alerts are stored as Alertmanager alerts (the
// same alert as through POST /api/v2/alerts, by fingerprint), and its
// group (groupKey) as one incident holding them: one group, one item and
// one page. A re-send changes nothing; a resolved notification resolves
// the alerts, and the incident with them.
func (s *Server) alertmanagerWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.clock.Now()
	wh, err := alertmanager.ParseWebhook(body, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	alerts, err := wh.VigilAlerts(now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	actor := auth.FromContext(r.Context())
	refs := make([]string, 0, len(alerts))
	sev := alert.SeverityInformational
	first, last := now, time.Time{}
	for i := range alerts {
		alerts[i].Grace = groupGrace
		refs = append(refs, alerts[i].SourceID)
		if alerts[i].Severity.Rank() > sev.Rank() {
			sev = alerts[i].Severity
		}
		first = minT(first, alerts[i].FirstSeen)
		last = maxT(last, alerts[i].LastSeen)
	}
	if len(alerts) > 0 {
		if _, err := s.ingest.Submit(r.Context(), actor.String(), alerts); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	status := alert.StatusNew
	if wh.Status == "resolved" {
		status = alert.StatusResolved
	}
	inc := alert.Incident{Source: compat.SourceAlertmanager, SourceID: groupID(wh.GroupKey), Title: groupTitle(wh),
		Description: groupDescription(wh), Severity: sev, Status: status, FirstSeen: first, LastSeen: maxT(last, first),
		AlertRefs: refs, Raw: body, Ref: wh.ExternalURL}
	if err := inc.Normalize(now); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.incidents.UpsertIncident(r.Context(), s.items.Process(), actor.String(), inc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "alerts": len(alerts), "incident": res})
}

// groupID is the incident's source id: the groupKey, or its hash when it
// is longer than a source id may be (group keys embed every group label).
func groupID(key string) string {
	if len(key) <= alert.MaxSourceID-7 {
		return "group:" + key
	}
	sum := sha256.Sum256([]byte(key))
	return "group:sha256:" + hex.EncodeToString(sum[:])
}

// groupTitle is the group's title as Alertmanager's default templates
// make it: the alert name and the group labels.
func groupTitle(wh alertmanager.Webhook) string {
	name := wh.CommonLabels["alertname"]
	if name == "" {
		name = wh.GroupLabels["alertname"]
	}
	if name == "" {
		name = "Alertmanager group"
	}
	var extra []string
	for _, k := range sortedKeys(wh.GroupLabels) {
		if k != "alertname" {
			extra = append(extra, k+"="+wh.GroupLabels[k])
		}
	}
	if len(extra) > 0 {
		name += " (" + strings.Join(extra, ", ") + ")"
	}
	return name
}

func groupDescription(wh alertmanager.Webhook) string {
	d := wh.CommonAnnotations["summary"]
	if d == "" {
		d = wh.CommonAnnotations["description"]
	}
	src := "Alertmanager"
	if wh.Grafana {
		src = "Grafana"
	}
	return strings.TrimSpace(fmt.Sprintf("%s group %s from receiver %q. %s", src, wh.GroupKey, wh.Receiver, d))
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func minT(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
