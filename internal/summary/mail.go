package summary

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"syscall"
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
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("summary mail: from address %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	port := cfg.Port
	def := func(p int) {
		if port == 0 {
			port = p
		}
	}
	switch cfg.TLS {
	case "", notify.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		def(587)
	case notify.TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		def(587)
	case notify.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
		def(465)
	case notify.TLSNone:
		// The configuration and the email channel allow this for loopback
		// relays only; it is checked there, where paging.smtp is read.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		def(25)
	default:
		return nil, fmt.Errorf("summary mail: unknown TLS policy %q", cfg.TLS)
	}
	opts = append(opts, gomail.WithPort(port))
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = cfg.Host
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("summary mail: %w", err)
	}
	domain := "vigil.invalid"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 && at+1 < len(from.Address) {
		domain = from.Address[at+1:]
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

// classify scrubs the password from the error's text, in case a relay
// ever echoes it, and marks the failures worth retrying.
func (t *Target) classify(what string, err error) error {
	msg := what + ": " + err.Error()
	if t.password != "" {
		msg = strings.ReplaceAll(msg, t.password, "[redacted]")
	}
	re := &redactedError{msg: msg, err: err}
	if retryable(err) {
		return &outbox.RetryableError{Err: re}
	}
	return re
}

type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// retryable sorts SMTP failures as the email channel does: a 4xx reply
// and anything that looks like the network are worth retrying; a 5xx
// reply, an untrusted certificate or a bad address are not.
func retryable(err error) bool {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code >= 400 && tpe.Code < 500
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch {
		case se.IsTemp():
			return true
		case se.ErrorCode() >= 500:
			return false
		case se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts || se.Reason == gomail.ErrNoUnencoded:
			return false
		}
		return true // no reply code: the connection broke mid-transaction
	}
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		hne x509.HostnameError
		cie x509.CertificateInvalidError
	)
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
