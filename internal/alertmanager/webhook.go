package alertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Alert and group statuses in webhook payloads.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// WebhookVersion is the version of Alertmanager's webhook message that
// ParseWebhook reads.
const WebhookVersion = "4"

// Webhook is one notification from Alertmanager's webhook_config, or from
// Grafana Alerting's webhook contact point (Grafana true), which sends the
// same fields and a few more.
type Webhook struct {
	Receiver, Status, GroupKey, ExternalURL      string
	GroupLabels, CommonLabels, CommonAnnotations map[string]string
	Alerts                                       []WebhookAlert
	Grafana                                      bool
	TruncatedAlerts                              int
	Version                                      string // "4"; Grafana sends "1"
	NotificationReason                           string // Alertmanager 0.29+, when sent
	OrgID                                        int64  // Grafana
	State, Title, Message                        string // Grafana, deprecated there
}

// WebhookAlert is one element of the payload's alerts[].
type WebhookAlert struct {
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time // zero when not resolved
	GeneratorURL string
	Fingerprint  string

	// Grafana only.
	Values       map[string]float64
	ValueString  string
	SilenceURL   string
	DashboardURL string
	PanelURL     string
	ImageURL     string
}

// Resolved reports whether the alert is resolved in this notification.
func (a WebhookAlert) Resolved() bool { return a.Status == StatusResolved }

type rawWebhook struct {
	Receiver           json.RawMessage `json:"receiver"`
	Status             json.RawMessage `json:"status"`
	Alerts             json.RawMessage `json:"alerts"`
	GroupLabels        json.RawMessage `json:"groupLabels"`
	CommonLabels       json.RawMessage `json:"commonLabels"`
	CommonAnnotations  json.RawMessage `json:"commonAnnotations"`
	ExternalURL        json.RawMessage `json:"externalURL"`
	Version            json.RawMessage `json:"version"`
	GroupKey           json.RawMessage `json:"groupKey"`
	TruncatedAlerts    json.RawMessage `json:"truncatedAlerts"`
	NotificationReason json.RawMessage `json:"notification_reason"`
	OrgID              json.RawMessage `json:"orgId"`
	State              json.RawMessage `json:"state"`
	Title              json.RawMessage `json:"title"`
	Message            json.RawMessage `json:"message"`
}

type rawWebhookAlert struct {
	Status       json.RawMessage `json:"status"`
	Labels       json.RawMessage `json:"labels"`
	Annotations  json.RawMessage `json:"annotations"`
	StartsAt     json.RawMessage `json:"startsAt"`
	EndsAt       json.RawMessage `json:"endsAt"`
	GeneratorURL json.RawMessage `json:"generatorURL"`
	Fingerprint  json.RawMessage `json:"fingerprint"`
	Values       json.RawMessage `json:"values"`
	ValueString  json.RawMessage `json:"valueString"`
	SilenceURL   json.RawMessage `json:"silenceURL"`
	DashboardURL json.RawMessage `json:"dashboardURL"`
	PanelURL     json.RawMessage `json:"panelURL"`
	ImageURL     json.RawMessage `json:"imageURL"`
}

// ParseWebhook decodes a webhook receiver body. It is strict about what
// vigil relies on (the version, groupKey, each alert's labels and
// startsAt, the types of the fields it reads) and ignores fields it does
// not know, so that a newer Alertmanager or Grafana still gets through.
// Errors are *validation.FieldError named by JSON path, such as
// "alerts[2].startsAt"; Alertmanager does not retry a 400, so they must be
// for bodies that would never succeed.
func ParseWebhook(body []byte, now time.Time) (Webhook, error) {
	var in rawWebhook
	if err := decodeObject(body, &in); err != nil {
		return Webhook{}, err
	}
	var w Webhook
	var err error
	str := func(raw json.RawMessage, field string, dst *string) {
		if err == nil && !isNull(raw) {
			*dst, err = jsonString(raw, field)
		}
	}
	str(in.Version, "version", &w.Version)
	str(in.Receiver, "receiver", &w.Receiver)
	str(in.Status, "status", &w.Status)
	str(in.ExternalURL, "externalURL", &w.ExternalURL)
	str(in.GroupKey, "groupKey", &w.GroupKey)
	str(in.NotificationReason, "notification_reason", &w.NotificationReason)
	str(in.State, "state", &w.State)
	str(in.Title, "title", &w.Title)
	str(in.Message, "message", &w.Message)
	if err != nil {
		return Webhook{}, err
	}

	// Grafana's payload is recognised by its orgId; its version is "1".
	if !isNull(in.OrgID) {
		w.Grafana = true
		if w.OrgID, err = wholeNumber(in.OrgID, "orgId"); err != nil {
			return Webhook{}, err
		}
	} else if w.Version != WebhookVersion {
		if w.Version == "" {
			return Webhook{}, validation.NewFieldError("version", "is required (Alertmanager's webhook version %q)", WebhookVersion)
		}
		return Webhook{}, validation.NewFieldError("version", "unsupported version %q, want %q", w.Version, WebhookVersion)
	}
	if w.GroupKey == "" {
		return Webhook{}, validation.NewFieldError("groupKey", "is required")
	}
	if w.Status != "" && w.Status != StatusFiring && w.Status != StatusResolved {
		return Webhook{}, validation.NewFieldError("status", "must be %q or %q, not %q", StatusFiring, StatusResolved, w.Status)
	}
	if !isNull(in.TruncatedAlerts) {
		n, err := wholeNumber(in.TruncatedAlerts, "truncatedAlerts")
		if err != nil {
			return Webhook{}, err
		}
		if n < 0 || n > math.MaxInt32 {
			return Webhook{}, validation.NewFieldError("truncatedAlerts", "must be a count, not %d", n)
		}
		w.TruncatedAlerts = int(n)
	}
	for _, f := range []struct {
		raw   json.RawMessage
		name  string
		field *map[string]string
	}{
		{in.GroupLabels, "groupLabels", &w.GroupLabels},
		{in.CommonLabels, "commonLabels", &w.CommonLabels},
		{in.CommonAnnotations, "commonAnnotations", &w.CommonAnnotations},
	} {
		m, err := labelSet(f.raw, f.name)
		if err != nil {
			return Webhook{}, err
		}
		*f.field = orEmptyMap(m)
	}

	if isNull(in.Alerts) {
		return Webhook{}, validation.NewFieldError("alerts", "is required")
	}
	var elems []json.RawMessage
	if json.Unmarshal(in.Alerts, &elems) != nil {
		return Webhook{}, validation.NewFieldError("alerts", "must be an array of alerts")
	}
	w.Alerts = make([]WebhookAlert, 0, len(elems))
	firing := false
	for i, e := range elems {
		a, err := parseWebhookAlert(e, now)
		if err != nil {
			return Webhook{}, validation.Prefix(fmt.Sprintf("alerts[%d]", i), err)
		}
		firing = firing || a.Status == StatusFiring
		w.Alerts = append(w.Alerts, a)
	}
	if w.Status == "" && len(w.Alerts) > 0 {
		w.Status = StatusResolved
		if firing {
			w.Status = StatusFiring
		}
	}
	return w, nil
}

func parseWebhookAlert(raw json.RawMessage, now time.Time) (WebhookAlert, error) {
	var in rawWebhookAlert
	if isNull(raw) || json.Unmarshal(raw, &in) != nil {
		return WebhookAlert{}, validation.NewFieldError("", "must be an alert object")
	}
	var a WebhookAlert
	var err error
	str := func(raw json.RawMessage, field string, dst *string) {
		if err == nil && !isNull(raw) {
			*dst, err = jsonString(raw, field)
		}
	}
	str(in.Status, "status", &a.Status)
	str(in.GeneratorURL, "generatorURL", &a.GeneratorURL)
	str(in.Fingerprint, "fingerprint", &a.Fingerprint)
	str(in.ValueString, "valueString", &a.ValueString)
	str(in.SilenceURL, "silenceURL", &a.SilenceURL)
	str(in.DashboardURL, "dashboardURL", &a.DashboardURL)
	str(in.PanelURL, "panelURL", &a.PanelURL)
	str(in.ImageURL, "imageURL", &a.ImageURL)
	if err != nil {
		return WebhookAlert{}, err
	}
	if a.Labels, err = labelSet(in.Labels, "labels"); err != nil {
		return WebhookAlert{}, err
	}
	// Prometheus treats an empty label as an absent one; Alertmanager never
	// sends them, and dropping them keeps fingerprints stable.
	for k, v := range a.Labels {
		if v == "" {
			delete(a.Labels, k)
		}
	}
	if len(a.Labels) == 0 {
		return WebhookAlert{}, validation.NewFieldError("labels", "at least one label pair required")
	}
	if err := checkNames(a.Labels, "labels", "label"); err != nil {
		return WebhookAlert{}, err
	}
	if a.Annotations, err = labelSet(in.Annotations, "annotations"); err != nil {
		return WebhookAlert{}, err
	}
	a.Annotations = orEmptyMap(a.Annotations)
	if err := checkNames(a.Annotations, "annotations", "annotation"); err != nil {
		return WebhookAlert{}, err
	}
	if a.StartsAt, err = requiredTime(in.StartsAt, "startsAt"); err != nil {
		return WebhookAlert{}, err
	}
	if a.EndsAt, err = optionalTime(in.EndsAt, "endsAt"); err != nil {
		return WebhookAlert{}, err
	}
	// Alertmanager never sends this; vigil's POST /api/v2/alerts path
	// refuses it too, so both paths agree.
	if !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return WebhookAlert{}, validation.NewFieldError("endsAt", "must not be before startsAt")
	}
	switch a.Status {
	case StatusFiring, StatusResolved:
	case "":
		a.Status = StatusFiring
		if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
			a.Status = StatusResolved
		}
	default:
		return WebhookAlert{}, validation.NewFieldError("status", "must be %q or %q, not %q", StatusFiring, StatusResolved, a.Status)
	}
	if a.Fingerprint == "" {
		a.Fingerprint = Fingerprint(a.Labels)
	}
	if !isNull(in.Values) {
		var vals map[string]*float64
		if json.Unmarshal(in.Values, &vals) != nil {
			return WebhookAlert{}, validation.NewFieldError("values", "must be an object of numbers")
		}
		a.Values = make(map[string]float64, len(vals))
		for k, v := range vals {
			if v != nil {
				a.Values[k] = *v
			}
		}
	}
	return a, nil
}

// checkNames applies Alertmanager's UTF-8 rule: any non-empty name.
func checkNames(m map[string]string, field, what string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if k == "" {
			return validation.NewFieldError(field, "invalid %s name %q", what, k)
		}
	}
	return nil
}

// wholeNumber reads a JSON integer.
func wholeNumber(raw json.RawMessage, field string) (int64, error) {
	var n json.Number
	// json.Number also takes a quoted number; the contracts say number.
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		return 0, validation.NewFieldError(field, "must be a number, not a string")
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, validation.NewFieldError(field, "must be a number")
	}
	i, err := n.Int64()
	if err != nil {
		return 0, validation.NewFieldError(field, "must be a whole number, not %s", n)
	}
	return i, nil
}
