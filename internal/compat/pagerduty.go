package compat

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/redact"
	"github.com/vigil-soc/vigil/internal/validation"
)

// SourcePagerDuty is the alert source of events sent in PagerDuty's Events
// API v2 format.
const SourcePagerDuty = "pagerduty"

// PagerDuty event actions.
const (
	PagerDutyTrigger     = "trigger"
	PagerDutyAcknowledge = "acknowledge"
	PagerDutyResolve     = "resolve"
)

// Event is one PagerDuty Events API v2 event.
type Event struct {
	// RoutingKey is the sender's integration key; in vigil it carries an
	// API token, which the handler must check.
	RoutingKey string
	// DedupKey names the alert the event is about: the sender's, or one
	// generated for a trigger without it, which the 202 body must return.
	DedupKey string
	Action   string // trigger, acknowledge or resolve
	// Alert is set for trigger only; its SourceID is DedupKey.
	Alert alert.Alert
}

// Status is the status an event puts its alert in: new for trigger,
// in_progress for acknowledge, resolved for resolve.
func (e Event) Status() alert.Status {
	switch e.Action {
	case PagerDutyAcknowledge:
		return alert.StatusInProgress
	case PagerDutyResolve:
		return alert.StatusResolved
	}
	return alert.StatusNew
}

// PagerDutyError is a rejected event, shaped as the Events API's 400 body
// so that senders' error handling and logs keep working.
type PagerDutyError struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Errors  []string `json:"errors,omitempty"`
	// Field is the event field of the first error, in PagerDuty's dotted
	// form ("payload.summary"), or "body" when the JSON was unreadable. It
	// is for logs and is not part of the response body.
	Field string `json:"-"`
}

func (e *PagerDutyError) Error() string {
	if len(e.Errors) == 0 {
		return e.Message
	}
	return e.Message + ": " + strings.Join(e.Errors, "; ")
}

// Unwrap exposes the error as a *validation.FieldError, so that a handler
// that forgets to special-case it still answers 400 rather than 500.
func (e *PagerDutyError) Unwrap() error {
	field := e.Field
	if field == "" {
		field = "body"
	}
	msg := e.Message
	if len(e.Errors) > 0 {
		msg = strings.Join(e.Errors, "; ")
	}
	return &validation.FieldError{Field: field, Message: msg}
}

// PagerDuty's error wording, so that the 400 bodies read like theirs.
const (
	pdInvalidStatus        = "invalid event"
	pdInvalidMessage       = "Event object is invalid"
	pdUnrecognizedStatus   = "Unrecognized object"
	pdUnrecognizedMessage  = "Event object format is unrecognized"
	pdJSONParseError       = "JSON parse error"
	pdMissingFmt           = "'%s' is missing or blank"
	pdAcceptedStatus       = "success"
	pdAcceptedMessage      = "Event processed"
	pdGeneratedDedupKeyLen = 16 // bytes, 32 hex digits like PagerDuty's own
)

// pdSeverities maps the spec's severity enum; it is matched exactly, as the
// spec lists it.
var pdSeverities = map[string]alert.Severity{
	"critical": alert.SeverityCritical,
	"error":    alert.SeverityHigh,
	"warning":  alert.SeverityMedium,
	"info":     alert.SeverityInformational,
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Client      string     `json:"client"`
	ClientURL   string     `json:"client_url"`
	Payload     *pdPayload `json:"payload"`
}

type pdPayload struct {
	Summary       string          `json:"summary"`
	Timestamp     string          `json:"timestamp"`
	Severity      string          `json:"severity"`
	Source        string          `json:"source"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// pdErrors collects every problem with an event, as PagerDuty lists them
// all.
type pdErrors struct{ e *PagerDutyError }

func (p *pdErrors) add(field, format string, args ...any) {
	if p.e == nil {
		p.e = &PagerDutyError{Status: pdInvalidStatus, Message: pdInvalidMessage, Field: field}
	}
	p.e.Errors = append(p.e.Errors, fmt.Sprintf(format, args...))
}

func (p *pdErrors) missing(field string) { p.add(field, pdMissingFmt, field) }

// ParsePagerDuty maps the body of PagerDuty's POST /v2/enqueue to an Event.
// Errors are always *PagerDutyError. routing_key only has to be non-empty:
// vigil API tokens stand in for PagerDuty's 32-character integration keys.
func ParsePagerDuty(body []byte, now time.Time) (Event, error) {
	var in pdEvent
	if err := json.Unmarshal(body, &in); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || te.Field == "" {
			// Not JSON, or JSON that is not an object.
			return Event{}, &PagerDutyError{
				Status: pdUnrecognizedStatus, Message: pdUnrecognizedMessage,
				Errors: []string{pdJSONParseError}, Field: "body",
			}
		}
		return Event{}, &PagerDutyError{
			Status: pdInvalidStatus, Message: pdInvalidMessage,
			Errors: []string{fmt.Sprintf("'%s' is invalid (%s)", te.Field, typeMessage(te))},
			Field:  te.Field,
		}
	}

	var errs pdErrors
	ev := Event{
		RoutingKey: strings.TrimSpace(in.RoutingKey),
		DedupKey:   strings.TrimSpace(in.DedupKey),
		Action:     in.EventAction,
	}
	if ev.RoutingKey == "" {
		errs.missing("routing_key")
	}
	switch in.EventAction {
	case "":
		errs.missing("event_action")
	case PagerDutyTrigger:
		pdCheckPayload(in.Payload, &errs)
	case PagerDutyAcknowledge, PagerDutyResolve:
		if ev.DedupKey == "" {
			errs.missing("dedup_key")
		}
	default:
		errs.add("event_action", "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
	}
	if errs.e != nil {
		return Event{}, errs.e
	}
	if ev.Action != PagerDutyTrigger {
		return ev, nil
	}

	if ev.DedupKey == "" {
		ev.DedupKey = newDedupKey()
	}
	a, err := pdAlert(in, ev.DedupKey, body, now)
	if err != nil {
		return Event{}, err
	}
	ev.Alert = a
	return ev, nil
}

// pdCheckPayload checks what the spec requires of a trigger's payload.
func pdCheckPayload(p *pdPayload, errs *pdErrors) {
	if p == nil {
		errs.missing("payload")
		return
	}
	if strings.TrimSpace(p.Summary) == "" {
		errs.missing("payload.summary")
	}
	if strings.TrimSpace(p.Source) == "" {
		errs.missing("payload.source")
	}
	if p.Severity == "" {
		errs.missing("payload.severity")
	} else if _, ok := pdSeverities[p.Severity]; !ok {
		errs.add("payload.severity", "'payload.severity' is invalid (must be one of: critical, error, warning, info)")
	}
	if p.Timestamp != "" {
		if _, err := parseLenientTime(p.Timestamp); err != nil {
			errs.add("payload.timestamp", "'payload.timestamp' is invalid (must be an ISO 8601 date-time)")
		}
	}
}

func pdAlert(in pdEvent, dedupKey string, body []byte, now time.Time) (alert.Alert, error) {
	p := in.Payload
	a := alert.Alert{
		Source:      SourcePagerDuty,
		SourceID:    dedupKey,
		Product:     firstNonBlank(in.Client, p.Component, "PagerDuty Events"),
		Title:       truncate(strings.TrimSpace(p.Summary), alert.MaxTitle),
		Description: truncate(pdDescription(in), alert.MaxDescription),
		Severity:    pdSeverities[p.Severity],
		Status:      alert.StatusNew,
		Entities:    locationEntities(p.Source),
		FirstSeen:   now,
		LastSeen:    now,
		// The routing_key is a credential: it never travels with the alert.
		Raw: maskedRaw(body),
	}
	if p.Timestamp != "" {
		t, _ := parseLenientTime(p.Timestamp) // checked in pdCheckPayload
		a.FirstSeen = notAfter(t, now).UTC()
	}
	if err := a.Normalize(now); err != nil {
		return alert.Alert{}, pdFromFieldError(err)
	}
	return a, nil
}

// pdFieldNames maps vigil's field names back to the event's, for errors.
var pdFieldNames = map[string]string{
	"title":       "payload.summary",
	"source_id":   "dedup_key",
	"description": "payload",
	"product":     "client",
	"entities":    "payload.source",
}

func pdFromFieldError(err error) error {
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	if i := strings.IndexAny(field, ".["); i > 0 {
		field = field[:i]
	}
	if f, ok := pdFieldNames[field]; ok {
		field = f
	}
	return &PagerDutyError{
		Status: pdInvalidStatus, Message: pdInvalidMessage,
		Errors: []string{fmt.Sprintf("'%s' is invalid (%s)", field, fe.Message)},
		Field:  field,
	}
}

// pdDescription keeps the context PagerDuty shows next to the summary,
// since vigil has no fields for it and the title is the summary alone.
func pdDescription(in pdEvent) string {
	p := in.Payload
	var b strings.Builder
	line := func(name, value string) {
		if strings.TrimSpace(value) != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, value)
		}
	}
	line("Source", p.Source)
	line("Component", p.Component)
	line("Group", p.Group)
	line("Class", p.Class)
	client := in.Client
	if in.ClientURL != "" {
		client = strings.TrimSpace(client + " (" + in.ClientURL + ")")
	}
	line("Client", client)
	if !isNull(p.CustomDetails) {
		var c bytes.Buffer
		if json.Compact(&c, p.CustomDetails) == nil {
			// Compact copies bytes as sent, and a key or string that is
			// not UTF-8 would make the description one PostgreSQL refuses
			// to store (found by FuzzPagerDuty). The decoder reads such
			// bytes as U+FFFD; so does the description.
			line("Details", strings.ToValidUTF8(c.String(), "\uFFFD"))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func firstNonBlank(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// newDedupKey returns 32 random hex digits, the shape of the keys PagerDuty
// generates, so senders that store the returned key see what they expect.
func newDedupKey() string {
	b := make([]byte, pdGeneratedDedupKeyLen)
	rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

// PagerDutyAccepted returns the body of the 202 answer to an accepted event.
func PagerDutyAccepted(dedupKey string) []byte {
	b, _ := json.Marshal(struct {
		Status   string `json:"status"`
		Message  string `json:"message"`
		DedupKey string `json:"dedup_key"`
	}{pdAcceptedStatus, pdAcceptedMessage, dedupKey})
	return b
}

// maskedRaw is body with its credentials (the routing_key) masked, as a
// copy the alert may keep.
func maskedRaw(body []byte) []byte {
	if out, changed := redact.JSON(body); changed {
		return out
	}
	return bytes.Clone(body)
}
