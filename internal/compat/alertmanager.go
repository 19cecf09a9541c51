package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// SourceAlertmanager is the alert source of alerts posted in Alertmanager's
// API v2 format.
const SourceAlertmanager = "alertmanager"

// amPostableAlert is one element of Alertmanager's postableAlerts. The
// fields stay raw so that each can be checked with an error naming it.
type amPostableAlert struct {
	Labels       amRepeated      `json:"labels"`
	Annotations  amRepeated      `json:"annotations"`
	StartsAt     json.RawMessage `json:"startsAt"`
	EndsAt       json.RawMessage `json:"endsAt"`
	GeneratorURL json.RawMessage `json:"generatorURL"`
}

// ParseAlertmanager maps the body of Alertmanager's POST /api/v2/alerts (a
// JSON array of postableAlert) to vigil alerts.
//
// Like Alertmanager, it keeps going past an invalid element: the returned
// slice holds every valid alert, in body order, and the error is the
// *validation.FieldError of the first invalid one (Field like "[2].labels").
// Alertmanager stores the valid alerts and answers 400, and Prometheus does
// not retry a 400, so a handler that wants the same behaviour stores the
// alerts it got before reporting the error. When the body itself is not a
// JSON array the slice is nil and Field is "body".
func ParseAlertmanager(body []byte, now time.Time) ([]alert.Alert, error) {
	if alerts, err, ok := parseAlertmanagerFast(body, now); ok {
		return alerts, err
	}
	return parseAlertmanagerSlow(body, now)
}

// parseAlertmanagerSlow decodes field by field so that every error names
// the field at fault.
func parseAlertmanagerSlow(body []byte, now time.Time) ([]alert.Alert, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fieldErr("body", "must be a JSON array of alerts, not %s", te.Value)
		}
		return nil, fieldErr("body", "%s", jsonSyntaxMessage(body, err))
	}
	if elems == nil {
		return nil, fieldErr("body", "must be a JSON array of alerts, not null")
	}
	alerts := make([]alert.Alert, 0, len(elems))
	var first error
	for i, raw := range elems {
		a, err := parseAlertmanagerAlert(raw, now)
		if err == nil {
			err = a.Normalize(now)
		}
		if err != nil {
			if first == nil {
				first = validation.Prefix(fmt.Sprintf("[%d]", i), err)
			}
			continue
		}
		alerts = append(alerts, a)
	}
	return alerts, first
}

func parseAlertmanagerAlert(raw json.RawMessage, now time.Time) (alert.Alert, error) {
	var in amPostableAlert
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return alert.Alert{}, fieldErr("", "must be an alert object, not null")
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return alert.Alert{}, fieldErr("", "must be an alert object, not %s", te.Value)
		}
		return alert.Alert{}, fieldErr("", "%s", err) // unreachable: the array decoded
	}

	// Alertmanager validates formats (the swagger layer) before content.
	startsAt, err := amTime(in.StartsAt, "startsAt")
	if err != nil {
		return alert.Alert{}, err
	}
	endsAt, err := amTime(in.EndsAt, "endsAt")
	if err != nil {
		return alert.Alert{}, err
	}
	if !isNull(in.GeneratorURL) {
		var s string
		if json.Unmarshal(in.GeneratorURL, &s) != nil {
			return alert.Alert{}, fieldErr("generatorURL", "must be a string")
		}
	}
	labels, err := amLabelSet(in.Labels, "labels")
	if err != nil {
		return alert.Alert{}, err
	}
	if labels == nil {
		return alert.Alert{}, fieldErr("labels", "is required")
	}
	annotations, err := amLabelSet(in.Annotations, "annotations")
	if err != nil {
		return alert.Alert{}, err
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	return buildAlertmanagerAlert(labels, annotations, startsAt, endsAt, raw, now)
}

// buildAlertmanagerAlert validates decoded fields and maps them to an alert.
func buildAlertmanagerAlert(labels, annotations map[string]string, startsAt, endsAt time.Time, raw json.RawMessage, now time.Time) (alert.Alert, error) {
	// Alertmanager drops empty-valued labels before validating and before
	// fingerprinting: in Prometheus an empty label is an absent label.
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}

	// Alertmanager's defaulting: a resolved-only notification starts when it
	// ends.
	if startsAt.IsZero() {
		startsAt = endsAt
		if startsAt.IsZero() {
			startsAt = now
		}
	}
	if !endsAt.IsZero() && endsAt.Before(startsAt) {
		return alert.Alert{}, fieldErr("endsAt", "must not be before startsAt")
	}
	if len(labels) == 0 {
		return alert.Alert{}, fieldErr("labels", "at least one label pair required")
	}
	if err := amValidateNames(labels, "labels", "label"); err != nil {
		return alert.Alert{}, err
	}
	if err := amValidateNames(annotations, "annotations", "annotation"); err != nil {
		return alert.Alert{}, err
	}

	a := alert.Alert{
		Source:      SourceAlertmanager,
		SourceID:    AlertmanagerFingerprint(labels),
		Product:     labels["job"],
		Title:       truncate(amTitle(labels, annotations), alert.MaxTitle),
		Description: truncate(amDescription(annotations), alert.MaxDescription),
		Severity:    amSeverity(labels["severity"]),
		Status:      alert.StatusNew,
		FirstSeen:   notAfter(startsAt, now).UTC(),
		LastSeen:    now,
		Entities:    amEntities(labels),
		Raw:         raw,
	}
	if a.Product == "" {
		a.Product = "Prometheus"
	}
	if !startsAt.IsZero() {
		// Prometheus re-sends a firing alert every minute with the same
		// startsAt; a new startsAt is a new firing.
		a.Firing = startsAt.UTC().Format(time.RFC3339Nano)
	}
	// Prometheus sends firing alerts with endsAt a few minutes ahead (their
	// validity), so only an end in the past means resolved.
	if !endsAt.IsZero() && !endsAt.After(now) {
		a.Status = alert.StatusResolved
	}
	return a, nil
}

// amRepeated keeps every occurrence of a field in one alert object, in
// order. encoding/json, and so Alertmanager and the fast path, merge a
// repeated "labels" (or "Labels") object into one map, and a null in
// between empties it; keeping only the last occurrence would give such an
// alert another fingerprint when a malformed neighbour sends the body down
// this path. Found by FuzzAlertmanager.
type amRepeated []json.RawMessage

func (r *amRepeated) UnmarshalJSON(b []byte) error {
	*r = append(*r, bytes.Clone(b))
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// amTime reads an optional date-time. Alertmanager's own client serialises
// an unset time as "0001-01-01T00:00:00.000Z", so the zero time counts as
// unset, as does an empty string.
func amTime(raw json.RawMessage, field string) (time.Time, error) {
	if isNull(raw) {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fieldErr(field, "must be an RFC 3339 date-time string")
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseRFC3339(s)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 date-time", s)
	}
	return t, nil
}

// amLabelSet decodes a labelSet (an object of strings), merging repeated
// occurrences as Go's decoder does for Alertmanager itself: a null value
// reads as the empty string, and a null object empties the set. It returns
// nil when the field is absent or ends null.
func amLabelSet(raws amRepeated, field string) (map[string]string, error) {
	var out map[string]string
	for _, raw := range raws {
		if isNull(raw) {
			out = nil
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fieldErr(field, "must be an object of strings")
		}
		if out == nil {
			out = make(map[string]string, len(m))
		}
		for k, v := range m {
			var s string
			if !isNull(v) {
				if err := json.Unmarshal(v, &s); err != nil {
					return nil, fieldErr(field, "value of %q must be a string", k)
				}
			}
			out[k] = s
		}
	}
	return out, nil
}

// amValidateNames applies Alertmanager's default (non-classic) rule: a name
// is any non-empty UTF-8 string. Prometheus 3 emits UTF-8 label names, and
// rejecting what Alertmanager accepts would drop alerts for good, since
// Prometheus does not retry a 400. Errors are reported in sorted order so
// that the message is stable.
func amValidateNames(m map[string]string, field, what string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if k == "" || !utf8.ValidString(k) {
			return fieldErr(field, "invalid %s name %q", what, k)
		}
	}
	return nil
}

// AlertmanagerFingerprint returns the fingerprint Alertmanager gives an
// alert with these labels (prometheus/common's LabelSet.Fingerprint: FNV-1a
// over the sorted name/value pairs, each followed by 0xff), as 16 hex
// digits. Using the same value lets an analyst match a vigil alert with the
// one in Alertmanager's UI, and re-sends of the same alert dedup.
func AlertmanagerFingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	h := fnv.New64a()
	for _, k := range names {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// amLocationLabels are the labels that name where an alert fires, in the
// order they are tried for a title.
var amLocationLabels = []string{"instance", "host", "hostname", "node", "nodename"}

func amTitle(labels, annotations map[string]string) string {
	if s := strings.TrimSpace(annotations["summary"]); s != "" {
		return s
	}
	name := strings.TrimSpace(labels["alertname"])
	if name == "" {
		// Without a name the labels are all there is to tell alerts apart.
		return formatLabels(labels)
	}
	for _, l := range amLocationLabels {
		if v := strings.TrimSpace(labels[l]); v != "" {
			return name + " on " + v
		}
	}
	if pod := labels["pod"]; pod != "" {
		return name + " on pod " + podName(labels)
	}
	if job := labels["job"]; job != "" {
		return name + " (" + job + ")"
	}
	return name
}

// amDescription falls back to "message", which the kube-prometheus mixins
// used before they adopted "description".
func amDescription(annotations map[string]string) string {
	if d := annotations["description"]; strings.TrimSpace(d) != "" {
		return d
	}
	return annotations["message"]
}

func formatLabels(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// amSeverity maps the conventional severity label. Rules without one, or
// with a house value vigil cannot know, land in the middle of the scale so
// that they are neither ignored nor paged as critical.
func amSeverity(s string) alert.Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return alert.SeverityCritical
	case "error", "high":
		return alert.SeverityHigh
	case "warning", "warn":
		return alert.SeverityMedium
	case "low":
		return alert.SeverityLow
	case "info", "informational", "none":
		return alert.SeverityInformational
	}
	return alert.SeverityMedium
}

func podName(labels map[string]string) string {
	if ns := labels["namespace"]; ns != "" {
		return ns + "/" + labels["pod"]
	}
	return labels["pod"]
}

func amEntities(labels map[string]string) []alert.Entity {
	var set entitySet
	for _, l := range amLocationLabels {
		set.add(locationEntities(labels[l])...)
	}
	// A pod is not a host: it is recorded as a cloud resource, namespaced
	// because pod names repeat across namespaces.
	if labels["pod"] != "" {
		set.add(alert.Entity{
			Kind:  alert.EntityCloudResource,
			Value: podName(labels),
			Attrs: map[string]string{"type": "kubernetes/pod"},
		})
	}
	return set.list
}
