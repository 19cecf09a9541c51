package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Kinds of notification.
const (
	KindPage         = "page"         // a page was triggered or escalated to this person
	KindAcknowledged = "acknowledged" // someone acknowledged the page
	KindResolved     = "resolved"     // the page was resolved
	KindVerify       = "verify"       // verification of a new contact method
	KindTest         = "test"         // a test sent from the contact method's settings
)

// Contact method types, which are also the channel types.
const (
	TypeEmail   = "email"
	TypeWebhook = "webhook"
	TypeSMS     = "sms"   // a mobile number in E.164 form
	TypeVoice   = "voice" // a phone number in E.164 form
	TypeSlack   = "slack" // a Slack member id (U…, W…) or channel id (C…, G…, D…)
	TypeTeams   = "teams" // the name of a configured Teams Workflows webhook
	TypeNtfy    = "ntfy"  // an ntfy topic
)

// Types are the contact method types, in the order a UI offers them.
var Types = []string{TypeEmail, TypeSMS, TypeVoice, TypeSlack, TypeTeams, TypeNtfy, TypeWebhook}

// TargetName is the outbox target that delivers notifications.
const TargetName = "notify"

// ContactMethod is where a notification goes.
type ContactMethod struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`  // TypeEmail or TypeWebhook
	Value string `json:"value"` // an email address or an http(s) URL
	Name  string `json:"name,omitempty"`
	// User owns the method: the responder an acknowledgement link is for.
	User string `json:"user,omitempty"`
}

// Notification is one message to one contact method. It is stored in the
// outbox, so it holds no credentials.
type Notification struct {
	// ID is stable and unique per notification and contact method: it is
	// the outbox idempotency key, the webhook-id, and the email
	// Message-ID's local part. Letters, digits, '.', '_' and '-' only.
	ID      string        `json:"id"`
	Kind    string        `json:"kind"`
	To      ContactMethod `json:"to"`
	Subject string        `json:"subject"`
	Text    string        `json:"text"` // plain body; the channel adds the links

	PageID     int64     `json:"page_id,omitempty"`
	WorkItemID int64     `json:"work_item_id,omitempty"`
	Title      string    `json:"title,omitempty"`
	Severity   string    `json:"severity,omitempty"`
	Urgency    string    `json:"urgency,omitempty"`
	Service    string    `json:"service,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	AckURL     string    `json:"ack_url,omitempty"`
	ResolveURL string    `json:"resolve_url,omitempty"`
	ItemURL    string    `json:"item_url,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// UpdateOf, on an acknowledged or resolved notification, is the
	// provider id of the page's message to update in place (Slack), and
	// By who acted.
	UpdateOf string `json:"update_of,omitempty"`
	By       string `json:"by,omitempty"`
	// Bundle holds the other pages sent in this message, when a rate
	// limit held several back; filled in at send time, never stored.
	Bundle []BundledPage `json:"bundle,omitempty"`
}

// Channel delivers notifications of one contact method type. Send must
// be safe to call again for the same notification (delivery is at least
// once) and must classify its errors: *outbox.RetryableError for a
// failure worth retrying, any other error for a permanent one.
//
// A channel whose provider reports delivery later (an SMS gateway's
// status callback) returns the provider's id in the Receipt; the
// callback's handler then calls Recorder.DeliveryStatus with it. See
// docs/channels.md for adding a channel.
type Channel interface {
	Type() string
	Send(ctx context.Context, n Notification) (Receipt, error)
}

// Delivery statuses, the same words for every channel.
const (
	StatusSent        = "sent"        // handed to the provider (SMTP accepted, HTTP 2xx, SMS queued)
	StatusDelivered   = "delivered"   // the provider says it reached the device or the call was answered
	StatusFailed      = "failed"      // the send failed for good
	StatusUndelivered = "undelivered" // the provider took it but could not deliver it
	StatusRetrying    = "retrying"    // a send failed and the outbox will try again
)

// Final reports whether status is a failure no retry will fix: the
// person's next contact method should be tried.
func Final(status string) bool { return status == StatusFailed || status == StatusUndelivered }

// Receipt is what a channel learned from its provider when it sent.
type Receipt struct {
	Provider   string `json:"provider"`              // "smtp", "webhook", "twilio", …
	ProviderID string `json:"provider_id,omitempty"` // the provider's id for the message (an SMS sid)
	Status     string `json:"status"`                // StatusSent unless the provider said more
}

const maxIDLen = 200

// Validate checks what every channel relies on.
func (n Notification) Validate() error {
	switch {
	case n.ID == "":
		return validation.NewFieldError("id", "is required")
	case len(n.ID) > maxIDLen:
		return validation.NewFieldError("id", "is longer than %d characters", maxIDLen)
	case !isAtom(n.ID):
		return validation.NewFieldError("id", "may hold only letters, digits, '.', '_' and '-'")
	}
	switch n.Kind {
	case KindPage, KindAcknowledged, KindResolved, KindVerify, KindTest:
	default:
		return validation.NewFieldError("kind", "unknown kind %q", n.Kind)
	}
	switch n.To.Type {
	case TypeEmail, TypeWebhook, TypeSMS, TypeVoice, TypeSlack, TypeTeams, TypeNtfy:
	default:
		return validation.NewFieldError("to.type", "unknown contact method type %q", n.To.Type)
	}
	if n.To.Value == "" {
		return validation.NewFieldError("to.value", "is required")
	}
	if n.To.Type == TypeWebhook {
		if _, err := parseWebhookURL(n.To.Value); err != nil {
			return validation.NewFieldError("to.value", "%v", err)
		}
	}
	if err := ValidValue(n.To.Type, n.To.Value); err != nil {
		return validation.NewFieldError("to.value", "%v", err)
	}
	return nil
}

// Message builds the outbox message that delivers n. The message carries
// the work item so that its delivery status lands on the item's timeline.
func Message(n Notification) (outbox.Message, error) {
	if err := n.Validate(); err != nil {
		return outbox.Message{}, err
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	return outbox.Message{
		WorkItemID: n.WorkItemID,
		Target:     TargetName,
		Op:         opFor(n.To.Type),
		Resource:   fmt.Sprintf("contact_method:%d", n.To.ID),
		IdemKey:    "notify:" + n.ID,
		Payload:    payload,
	}, nil
}

func opFor(channelType string) string { return "notify." + channelType }

// isAtom reports whether s is made of characters that are safe verbatim
// in a Message-ID, a header and a URL.
func isAtom(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return s != ""
}

// ValidPhone reports whether s is an E.164 number: a plus sign, a
// non-zero digit, and 7 to 14 more digits.
func ValidPhone(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidValue checks a contact method's value for its type (email and
// webhook addresses are checked where they are parsed).
func ValidValue(typ, v string) error {
	switch typ {
	case TypeSMS, TypeVoice:
		if !ValidPhone(v) {
			return errors.New("must be a phone number in E.164 form, such as +14155552671")
		}
	case TypeSlack:
		if !slackID.MatchString(v) {
			return errors.New("must be a Slack member id (U…, W…) or channel id (C…, G…, D…)")
		}
	case TypeTeams:
		if !nameRE.MatchString(v) {
			return errors.New("must be the name of a Teams webhook configured in paging.teams.webhooks")
		}
	case TypeNtfy:
		if !ntfyTopic.MatchString(v) {
			return errors.New("must be an ntfy topic: 1 to 64 letters, digits, '-' or '_'")
		}
	}
	return nil
}

var (
	slackID   = regexp.MustCompile(`^[UWCGD][A-Z0-9]{2,20}$`)
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	ntfyTopic = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)
)
