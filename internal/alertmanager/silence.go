package alertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/validation"
)

// rawSilence keeps the fields raw so that each error names its field.
type rawSilence struct {
	ID          json.RawMessage `json:"id"`
	Matchers    json.RawMessage `json:"matchers"`
	StartsAt    json.RawMessage `json:"startsAt"`
	EndsAt      json.RawMessage `json:"endsAt"`
	CreatedBy   json.RawMessage `json:"createdBy"`
	Comment     json.RawMessage `json:"comment"`
	Annotations json.RawMessage `json:"annotations"`
}

type rawMatcher struct {
	Name    json.RawMessage `json:"name"`
	Value   json.RawMessage `json:"value"`
	IsRegex json.RawMessage `json:"isRegex"`
	IsEqual json.RawMessage `json:"isEqual"`
}

// ParsePostableSilence decodes and validates the body of POST
// /api/v2/silences with Alertmanager's rules: the spec's required fields
// (matchers with at least one item, startsAt, endsAt, createdBy, comment),
// then silence.validateSilence (valid label names and values, regexes that
// compile, not every matcher matching the empty string, non-zero times)
// and the API handler's own checks (startsAt before endsAt, endsAt not in
// the past at now). Errors are *validation.FieldError with a JSON path.
func ParsePostableSilence(body []byte, now time.Time) (PostableSilence, error) {
	var in rawSilence
	if err := decodeObject(body, &in); err != nil {
		return PostableSilence{}, err
	}
	var out PostableSilence
	var err error
	if !isNull(in.ID) {
		if out.ID, err = jsonString(in.ID, "id"); err != nil {
			return PostableSilence{}, err
		}
	}
	if out.Matchers, err = parseAPIMatchers(in.Matchers); err != nil {
		return PostableSilence{}, err
	}
	if out.StartsAt, err = requiredTime(in.StartsAt, "startsAt"); err != nil {
		return PostableSilence{}, err
	}
	if out.EndsAt, err = requiredTime(in.EndsAt, "endsAt"); err != nil {
		return PostableSilence{}, err
	}
	if out.CreatedBy, err = requiredString(in.CreatedBy, "createdBy"); err != nil {
		return PostableSilence{}, err
	}
	if out.Comment, err = requiredString(in.Comment, "comment"); err != nil {
		return PostableSilence{}, err
	}
	if out.Annotations, err = labelSet(in.Annotations, "annotations"); err != nil {
		return PostableSilence{}, err
	}
	if !out.StartsAt.Before(out.EndsAt) {
		return PostableSilence{}, validation.NewFieldError("endsAt", "start time must be before end time")
	}
	if out.EndsAt.Before(now) {
		return PostableSilence{}, validation.NewFieldError("endsAt", "end time can't be in the past")
	}
	return out, nil
}

func parseAPIMatchers(raw json.RawMessage) (Matchers, error) {
	if isNull(raw) {
		return nil, validation.NewFieldError("matchers", "is required")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, validation.NewFieldError("matchers", "must be an array of matchers")
	}
	if len(elems) == 0 {
		return nil, validation.NewFieldError("matchers", "at least one matcher required")
	}
	ms := make(Matchers, 0, len(elems))
	allMatchEmpty := true
	for i, e := range elems {
		m, err := parseAPIMatcher(e)
		if err != nil {
			return nil, validation.Prefix(fmt.Sprintf("matchers[%d]", i), err)
		}
		// A silence whose every matcher matches "" would silence every
		// alert that lacks those labels, which is nearly all of them, so
		// it is refused. Alertmanager refuses only = and =~ matchers of
		// the empty string (silence.matchesEmpty); vigil also refuses a
		// lone != or !~, such as {team!~"db"}, which silences everything
		// without a team label. A silence needs one positive matcher.
		allMatchEmpty = allMatchEmpty && m.Matches("")
		ms = append(ms, m)
	}
	if allMatchEmpty {
		return nil, validation.NewFieldError("matchers", "at least one matcher must not match the empty string")
	}
	return ms, nil
}

func parseAPIMatcher(raw json.RawMessage) (Matcher, error) {
	var in rawMatcher
	if isNull(raw) || json.Unmarshal(raw, &in) != nil {
		return Matcher{}, validation.NewFieldError("", "must be a matcher object")
	}
	name, err := requiredKey(in.Name, "name")
	if err != nil {
		return Matcher{}, err
	}
	value, err := requiredKey(in.Value, "value")
	if err != nil {
		return Matcher{}, err
	}
	if isNull(in.IsRegex) {
		return Matcher{}, validation.NewFieldError("isRegex", "is required")
	}
	var isRegex bool
	if json.Unmarshal(in.IsRegex, &isRegex) != nil {
		return Matcher{}, validation.NewFieldError("isRegex", "must be a boolean")
	}
	isEqual := true
	if !isNull(in.IsEqual) && json.Unmarshal(in.IsEqual, &isEqual) != nil {
		return Matcher{}, validation.NewFieldError("isEqual", "must be a boolean")
	}
	if name == "" || !utf8.ValidString(name) {
		return Matcher{}, validation.NewFieldError("name", "invalid label name %q", name)
	}
	if !utf8.ValidString(value) {
		return Matcher{}, validation.NewFieldError("value", "invalid label value %q", value)
	}
	m, err := NewMatcher(typeOf(isRegex, isEqual), name, value)
	if err != nil {
		return Matcher{}, validation.NewFieldError("value", "%s", err)
	}
	return m, nil
}

// --- shared JSON field helpers ---

// decodeObject unmarshals a JSON object body into dst, reporting a
// non-object or malformed body against the field "body".
func decodeObject(body []byte, dst any) error {
	t := bytes.TrimSpace(body)
	if len(t) == 0 {
		return validation.NewFieldError("body", "is empty")
	}
	if t[0] != '{' {
		return validation.NewFieldError("body", "must be a JSON object")
	}
	if err := json.Unmarshal(t, dst); err != nil {
		return validation.NewFieldError("body", "is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func jsonString(raw json.RawMessage, field string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", validation.NewFieldError(field, "must be a string")
	}
	return s, nil
}

// requiredKey demands the key be present as a string (it may be empty).
func requiredKey(raw json.RawMessage, field string) (string, error) {
	if isNull(raw) {
		return "", validation.NewFieldError(field, "is required")
	}
	return jsonString(raw, field)
}

// requiredString demands a non-blank string.
func requiredString(raw json.RawMessage, field string) (string, error) {
	s, err := requiredKey(raw, field)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", validation.NewFieldError(field, "is required")
	}
	return s, nil
}

// optionalTime reads a date-time; absent, null, "" and Go's zero time
// ("0001-01-01T00:00:00Z", which Grafana and Alertmanager's clients send
// for "unset") give the zero time.
func optionalTime(raw json.RawMessage, field string) (time.Time, error) {
	if isNull(raw) {
		return time.Time{}, nil
	}
	s, err := jsonString(raw, field)
	if err != nil {
		return time.Time{}, validation.NewFieldError(field, "must be an RFC 3339 date-time string")
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, validation.NewFieldError(field, "%q is not an RFC 3339 date-time", s)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

func requiredTime(raw json.RawMessage, field string) (time.Time, error) {
	t, err := optionalTime(raw, field)
	if err != nil {
		return t, err
	}
	if t.IsZero() {
		return t, validation.NewFieldError(field, "is required")
	}
	return t, nil
}

// labelSet reads an object of strings; absent or null gives nil.
func labelSet(raw json.RawMessage, field string) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, validation.NewFieldError(field, "must be an object of strings")
	}
	out := make(map[string]string, len(m))
	// Sorted, so that the error names the same key every time.
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := m[k]
		var s string
		if !isNull(v) {
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, validation.NewFieldError(field, "value of %q must be a string", k)
			}
		}
		out[k] = s
	}
	return out, nil
}
