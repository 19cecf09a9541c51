package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Event is the JSON body of a webhook: a Standard Webhooks event.
//
//	{"type": "page.triggered", "timestamp": "2026-03-29T01:30:00Z",
//	 "data": {"notification_id": "...", "page_id": 7, ...}}
type Event struct {
	Type      string    `json:"type"`      // see EventType
	Timestamp time.Time `json:"timestamp"` // when the notification was created
	Data      EventData `json:"data"`
}

// EventData is the notification without its destination: the receiver
// knows its own URL.
type EventData struct {
	NotificationID  string `json:"notification_id"`
	Kind            string `json:"kind"`
	ContactMethodID int64  `json:"contact_method_id"`
	Subject         string `json:"subject,omitempty"`
	Text            string `json:"text,omitempty"`
	PageID          int64  `json:"page_id,omitempty"`
	WorkItemID      int64  `json:"work_item_id,omitempty"`
	Title           string `json:"title,omitempty"`
	Severity        string `json:"severity,omitempty"`
	Urgency         string `json:"urgency,omitempty"`
	Service         string `json:"service,omitempty"`
	Summary         string `json:"summary,omitempty"`
	// AckURL opens the page with an acknowledge button; a GET on it
	// acknowledges nothing.
	AckURL     string `json:"ack_url,omitempty"`
	ResolveURL string `json:"resolve_url,omitempty"`
	ItemURL    string `json:"item_url,omitempty"`
}

// EventType names the webhook event for a notification kind.
func EventType(kind string) string {
	switch kind {
	case KindPage:
		return "page.triggered"
	case KindAcknowledged:
		return "page.acknowledged"
	case KindResolved:
		return "page.resolved"
	case KindVerify:
		return "contact_method.verify"
	case KindTest:
		return "contact_method.test"
	}
	return "notification." + kind
}

// NewEvent returns the webhook event for n.
func NewEvent(n Notification) Event {
	return Event{
		Type:      EventType(n.Kind),
		Timestamp: n.CreatedAt.UTC(),
		Data: EventData{
			NotificationID: n.ID, Kind: n.Kind, ContactMethodID: n.To.ID,
			Subject: n.Subject, Text: n.Text, PageID: n.PageID, WorkItemID: n.WorkItemID,
			Title: n.Title, Severity: n.Severity, Urgency: n.Urgency, Service: n.Service,
			Summary: n.Summary, AckURL: n.AckURL, ResolveURL: n.ResolveURL, ItemURL: n.ItemURL,
		},
	}
}

// SecretFunc returns the signing secret ("whsec_…") of a webhook contact
// method. Its error is passed on as is, so it decides how the outbox
// treats a failed lookup: wrap a transient one (the database is down) in
// *outbox.RetryableError; anything else fails the message.
type SecretFunc func(ctx context.Context, contactMethodID int64) (string, error)

// WebhookConfig configures the webhook channel.
type WebhookConfig struct {
	Secret  SecretFunc
	Timeout time.Duration // per request; 10s when zero
	// Client, when set, is used instead of a new one (tests, proxies); its
	// redirect policy is replaced, and Timeout applies if it has none.
	Client    *http.Client
	Clock     clock.Clock // clock.Real{} when nil
	UserAgent string      // "vigil-notify" when empty
}

// Webhook is the channel that POSTs signed JSON events.
type Webhook struct {
	secret SecretFunc
	client *http.Client
	clock  clock.Clock
	ua     string
}

var _ Channel = (*Webhook)(nil)

// NewWebhook returns a webhook channel.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Secret == nil {
		return nil, validation.NewFieldError("secret", "a secret lookup is required")
	}
	if cfg.Timeout < 0 {
		return nil, validation.NewFieldError("timeout", "must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	client := &http.Client{}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	if client.Timeout == 0 {
		client.Timeout = cfg.Timeout
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "vigil-notify"
	}
	return &Webhook{secret: cfg.Secret, client: client, clock: cfg.Clock, ua: cfg.UserAgent}, nil
}

// Type is TypeWebhook.
func (w *Webhook) Type() string { return TypeWebhook }

// Send POSTs the signed event to the contact method's URL.
func (w *Webhook) Send(ctx context.Context, n Notification) (Receipt, error) {
	r := Receipt{Provider: "webhook", ProviderID: n.ID}
	if err := w.send(ctx, n); err != nil {
		return r, err
	}
	r.Status = StatusSent
	return r, nil
}

func (w *Webhook) send(ctx context.Context, n Notification) error {
	u, err := parseWebhookURL(n.To.Value)
	if err != nil {
		return fmt.Errorf("webhook for contact method %d: %w", n.To.ID, err)
	}
	where := redactURL(u)
	secret, err := w.secret(ctx, n.To.ID)
	if err != nil {
		return fmt.Errorf("webhook secret for contact method %d: %w", n.To.ID, err)
	}
	if secret == "" {
		return fmt.Errorf("webhook for contact method %d has no signing secret; refusing to send unsigned", n.To.ID)
	}
	body, err := json.Marshal(NewEvent(n))
	if err != nil {
		return fmt.Errorf("encode webhook event %s: %w", n.ID, err)
	}
	// A fresh timestamp and signature on every attempt, as the
	// specification asks; the id and body stay the same.
	now := w.clock.Now()
	sig, err := Sign(secret, n.ID, now, body)
	if err != nil {
		return fmt.Errorf("webhook for contact method %d: %w", n.To.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request to %s: %w", where, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.ua)
	req.Header.Set(HeaderWebhookID, n.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderWebhookSignature, sig)
	resp, err := w.client.Do(req)
	if err != nil {
		// url.Error would print the full URL, query string (often a
		// token) included; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &outbox.RetryableError{Err: fmt.Errorf("webhook POST to %s: %w", where, err)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return classifyHTTP(resp, where, snippet, now)
}

func classifyHTTP(resp *http.Response, where string, snippet []byte, now time.Time) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("webhook POST to %s: HTTP %d %s", where, code, bytes.TrimSpace(snippet))
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		return &outbox.RetryableError{Err: err, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), now)}
	case code == http.StatusGone:
		return fmt.Errorf("%w (the endpoint is gone; disable the contact method)", err)
	case code >= 300 && code < 400:
		return fmt.Errorf("%w (redirects are not followed; update the URL)", err)
	}
	return err
}

func parseWebhookURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("webhook URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook URL scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("webhook URL has no host")
	}
	return u, nil
}

// redactURL is the URL's scheme and host only, fit for error texts that
// end up on the timeline: chat-style webhook URLs carry their token in
// the path or the query.
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}
