package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// amTyped is a postableAlert decoded in one pass. Prometheus sends many
// alerts per request, so the common, well-formed body is decoded this way;
// only a body that fails to decode goes through the slower field-by-field
// path, whose errors name the offending field.
type amTyped struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL *string           `json:"generatorURL"`
}

// parseAlertmanagerFast decodes the array with one streaming decoder and
// slices each element's raw bytes out of the body by decoder offsets. ok is
// false when the body does not decode into the typed form; the caller then
// uses the precise path.
func parseAlertmanagerFast(body []byte, now time.Time) (alerts []alert.Alert, first error, ok bool) {
	trimmed := bytes.Trim(body, " \t\r\n") // JSON whitespace only: \f or \v after the array is garbage
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, nil, false
	}
	for i := 0; dec.More(); i++ {
		start := dec.InputOffset()
		var in amTyped
		if err := dec.Decode(&in); err != nil {
			return nil, nil, false
		}
		// A copy: the alert outlives the request body buffer.
		raw := json.RawMessage(bytes.Clone(bytes.TrimLeft(trimmed[start:dec.InputOffset()], " \t\r\n,")))
		if bytes.Equal(raw, []byte("null")) {
			return nil, nil, false
		}
		a, err := amFromTyped(&in, raw, now)
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
	if _, err := dec.Token(); err != nil || dec.More() {
		return nil, nil, false
	}
	// Only whitespace may follow the array (and trimmed holds none). A
	// second Token call is no test: it fails on "]}" or "]]" as on the
	// end of input, which let such a body through. The precise path
	// names the offending byte.
	if dec.InputOffset() != int64(len(trimmed)) {
		return nil, nil, false
	}
	if alerts == nil {
		alerts = []alert.Alert{}
	}
	return alerts, first, true
}

func amFromTyped(in *amTyped, raw json.RawMessage, now time.Time) (alert.Alert, error) {
	startsAt, err := amTimeString(in.StartsAt, "startsAt")
	if err != nil {
		return alert.Alert{}, err
	}
	endsAt, err := amTimeString(in.EndsAt, "endsAt")
	if err != nil {
		return alert.Alert{}, err
	}
	if in.Labels == nil {
		return alert.Alert{}, fieldErr("labels", "is required")
	}
	if in.Annotations == nil {
		in.Annotations = map[string]string{}
	}
	return buildAlertmanagerAlert(in.Labels, in.Annotations, startsAt, endsAt, raw, now)
}

// amTimeString is amTime for an already decoded string.
func amTimeString(s *string, field string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := parseRFC3339(*s)
	if err != nil {
		return time.Time{}, fieldErr(field, "%q is not an RFC 3339 date-time", *s)
	}
	return t, nil
}
