package summary

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// TargetName is the outbox target that sends summaries.
const TargetName = "summary"

// OpSend is the outbox operation of one summary email.
const OpSend = "summary.send"

// Mail is one summary email as the outbox stores it: everything needed to
// send it again after a restart, and no credentials (the SMTP settings
// come from the configuration at send time).
type Mail struct {
	// ID is the Message-ID's local part, from the idempotency key: a
	// resend after a lost answer carries the same one, so mail clients
	// show it once.
	ID      string    `json:"id"`
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	Date    time.Time `json:"date"`
}

// SMTP is the mail relay: the paging.smtp settings, with the same TLS
// policies as the email channel (notify.TLS*).
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	TLS      string
	// TLSConfig overrides the default (system roots, TLS 1.2+); a private
	// CA's pool, or a test's.
	TLSConfig *tls.Config
	Timeout   time.Duration // per connection; 15s when zero
	HELO      string
}

// Target is the outbox target that sends summary emails. A target
// without a relay fails each message visibly.
type Target struct {
	client   *gomail.Client
	from     string
	domain   string
	password string
}

// NewTarget checks cfg and returns the target. It does not connect.
func NewTarget(cfg SMTP) (*Target, error) {
	if cfg.Host == "" {
		return &Target{}, nil
	}
	client, domain, err := notify.NewSMTPClient(notify.EmailConfig{Host: cfg.Host, Port: cfg.Port, Username: cfg.Username,
		Password: cfg.Password, From: cfg.From, TLS: cfg.TLS, TLSConfig: cfg.TLSConfig, Timeout: cfg.Timeout, HELO: cfg.HELO})
	if err != nil {
		return nil, fmt.Errorf("summary mail: %w", err)
	}
	return &Target{client: client, from: cfg.From, domain: domain, password: cfg.Password}, nil
}

// Configured reports whether the target has a relay to send through.
func (t *Target) Configured() bool { return t != nil && t.client != nil }

// Send sends one queued summary. Its errors are classified for the
// outbox: a 4xx reply or a network failure is retried with backoff, a 5xx
// reply or a refused certificate is not.
func (t *Target) Send(ctx context.Context, m outbox.Message) error {
	if !t.Configured() {
		return errors.New("summary mail: no SMTP server is configured (paging.smtp.host)")
	}
	var ml Mail
	if err := json.Unmarshal(m.Payload, &ml); err != nil {
		return fmt.Errorf("summary mail %s: payload: %w", m.Resource, err)
	}
	msg, err := t.message(ml)
	if err != nil {
		return fmt.Errorf("summary mail %s: %w", m.Resource, err)
	}
	if err := t.client.DialAndSendWithContext(ctx, msg); err != nil {
		return t.classify("summary mail "+m.Resource, err)
	}
	return nil
}

func (t *Target) message(ml Mail) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(t.from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(ml.To...); err != nil {
		return nil, fmt.Errorf("recipient address: %w", err)
	}
	m.Subject(ml.Subject)
	m.SetMessageIDWithValue("vigil-summary." + ml.ID + "@" + t.domain)
	m.SetDateWithValue(ml.Date)
	// RFC 3834: automated mail, so vacation responders do not answer it.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, ml.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, ml.HTML)
	return m, nil
}

// classify scrubs the password from the error's text and marks the
// failures worth retrying, as the email channel does.
func (t *Target) classify(what string, err error) error {
	return notify.SMTPError(what, err, t.password)
}
