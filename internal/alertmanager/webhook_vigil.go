package alertmanager

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/compat"
	"github.com/vigil-soc/vigil/internal/validation"
)

// postableAlert is the spec's postableAlert, the shape compat reads.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// VigilAlerts maps the webhook's alerts to vigil alerts with exactly the
// conventions of POST /api/v2/alerts (compat.ParseAlertmanager): the
// fingerprint of the labels as SourceID, so that an alert received both
// ways dedups; title, severity and entities from the same labels and
// annotations; startsAt as the firing. The webhook's per-alert status is
// authoritative over endsAt, since Alertmanager decided it: resolved is
// resolved even if a skewed clock puts endsAt in the future. Errors name
// the field as "alerts[i].…". Grafana's own fingerprint is not used, for
// the same dedup reason.
func (w Webhook) VigilAlerts(now time.Time) ([]alert.Alert, error) {
	in := make([]postableAlert, len(w.Alerts))
	for i, a := range w.Alerts {
		in[i] = postableAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, GeneratorURL: a.GeneratorURL}
		if !a.EndsAt.IsZero() {
			end := a.EndsAt
			in[i].EndsAt = &end
		}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode webhook alerts: %w", err)
	}
	alerts, err := compat.ParseAlertmanager(body, now)
	if err != nil {
		return nil, validation.Prefix("alerts", err)
	}
	if len(alerts) != len(w.Alerts) {
		// compat keeps going past invalid elements and reports the first;
		// with no error the counts match, so this is a broken invariant.
		return nil, fmt.Errorf("webhook alerts: mapped %d of %d", len(alerts), len(w.Alerts))
	}
	for i := range alerts {
		if w.Alerts[i].Resolved() {
			alerts[i].Status = alert.StatusResolved
		} else {
			alerts[i].Status = alert.StatusNew
		}
	}
	return alerts, nil
}
