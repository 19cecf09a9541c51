package twilio

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// maxField bounds identifiers and numbers in webhooks: SIDs are 34
// characters and E.164 numbers 16, so anything far longer is not Twilio.
const maxField = 128

// Inbound is an SMS sent to a Twilio number (the messaging webhook).
type Inbound struct{ MessageSID, AccountSID, From, To, Body string }

// ParseInbound reads an inbound SMS webhook. MessageSid (or the older
// SmsSid), From and To are required; Body may be empty (an MMS with only a
// picture).
func ParseInbound(v url.Values) (Inbound, error) {
	in := Inbound{
		MessageSID: first(v, "MessageSid", "SmsSid"),
		AccountSID: v.Get("AccountSid"),
		From:       v.Get("From"),
		To:         v.Get("To"),
		Body:       v.Get("Body"),
	}
	if err := required("MessageSid", in.MessageSID); err != nil {
		return Inbound{}, err
	}
	if err := short("AccountSid", in.AccountSID); err != nil {
		return Inbound{}, err
	}
	if err := required("From", in.From); err != nil {
		return Inbound{}, err
	}
	if err := required("To", in.To); err != nil {
		return Inbound{}, err
	}
	return in, nil
}

// Status is a status callback of a message or a call.
type Status struct {
	SID          string
	Kind         string // "message" | "call"
	Status       string
	To           string
	ErrorCode    string
	ErrorMessage string
	Duration     int // seconds, calls only (CallDuration)
}

// Kinds of Status.
const (
	KindMessage = "message"
	KindCall    = "call"
)

// MessageStatuses are Twilio's documented message statuses.
var MessageStatuses = []string{
	"queued", "sending", "sent", "failed", "delivered", "undelivered",
	"receiving", "received", "accepted", "scheduled", "read",
	"partially_delivered", "canceled",
}

// CallStatuses are Twilio's documented call statuses.
var CallStatuses = []string{
	"queued", "initiated", "ringing", "in-progress", "completed", "busy",
	"failed", "no-answer", "canceled",
}

// ParseStatus reads a status callback: MessageSid+MessageStatus (or the
// older SmsSid/SmsStatus) for a message, CallSid+CallStatus for a call.
// A form that names both a message and a call is refused rather than
// guessed at.
func ParseStatus(v url.Values) (Status, error) {
	msgSID := first(v, "MessageSid", "SmsSid")
	callSID := v.Get("CallSid")
	var s Status
	switch {
	case msgSID != "" && callSID != "":
		return Status{}, validation.NewFieldError("CallSid", "a status callback names a message or a call, not both")
	case msgSID != "":
		s = Status{SID: msgSID, Kind: KindMessage, Status: first(v, "MessageStatus", "SmsStatus")}
		if s.Status == "" {
			return Status{}, validation.NewFieldError("MessageStatus", "is required")
		}
		if !oneOf(s.Status, MessageStatuses) {
			return Status{}, validation.NewFieldError("MessageStatus", "%q is not a message status", clip(s.Status))
		}
	case callSID != "":
		s = Status{SID: callSID, Kind: KindCall, Status: v.Get("CallStatus")}
		if s.Status == "" {
			return Status{}, validation.NewFieldError("CallStatus", "is required")
		}
		if !oneOf(s.Status, CallStatuses) {
			return Status{}, validation.NewFieldError("CallStatus", "%q is not a call status", clip(s.Status))
		}
		if d := v.Get("CallDuration"); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 {
				return Status{}, validation.NewFieldError("CallDuration", "must be a whole number of seconds")
			}
			s.Duration = n
		}
	default:
		return Status{}, validation.NewFieldError("MessageSid", "MessageSid or CallSid is required")
	}
	if err := short(map[string]string{KindMessage: "MessageSid", KindCall: "CallSid"}[s.Kind], s.SID); err != nil {
		return Status{}, err
	}
	s.To = v.Get("To")
	if err := short("To", s.To); err != nil {
		return Status{}, err
	}
	s.ErrorCode = v.Get("ErrorCode")
	if s.ErrorCode != "" {
		if n, err := strconv.Atoi(s.ErrorCode); err != nil || n < 0 || len(s.ErrorCode) > 10 {
			return Status{}, validation.NewFieldError("ErrorCode", "must be a Twilio error number")
		}
	}
	s.ErrorMessage = v.Get("ErrorMessage")
	return s, nil
}

// Gather is what a <Gather> posts to its action URL.
type Gather struct{ CallSID, From, To, Digits string }

// ParseGather reads a <Gather> action request. Digits must be keypad
// characters (0-9, * and #); an empty Digits is refused because Twilio only
// posts one when actionOnEmptyResult is set, which vigil never sets.
func ParseGather(v url.Values) (Gather, error) {
	g := Gather{CallSID: v.Get("CallSid"), From: v.Get("From"), To: v.Get("To"), Digits: v.Get("Digits")}
	for _, f := range []struct{ name, val string }{
		{"CallSid", g.CallSID}, {"From", g.From}, {"To", g.To}, {"Digits", g.Digits},
	} {
		if err := required(f.name, f.val); err != nil {
			return Gather{}, err
		}
	}
	if strings.Trim(g.Digits, "0123456789*#") != "" {
		return Gather{}, validation.NewFieldError("Digits", "must be keypad digits")
	}
	return g, nil
}

// first returns the first non-empty value of keys.
func first(v url.Values, keys ...string) string {
	for _, k := range keys {
		if s := v.Get(k); s != "" {
			return s
		}
	}
	return ""
}

func required(field, val string) error {
	if val == "" {
		return validation.NewFieldError(field, "is required")
	}
	return short(field, val)
}

func short(field, val string) error {
	if len(val) > maxField {
		return validation.NewFieldError(field, "is longer than %d bytes", maxField)
	}
	return nil
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// clip keeps a hostile value from filling an error message (and a log).
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
