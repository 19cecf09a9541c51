package notify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// TLS policies of the email channel.
const (
	TLSStartTLS      = "starttls"      // STARTTLS required (the default)
	TLSOpportunistic = "opportunistic" // STARTTLS when offered, else plain text
	TLSImplicit      = "tls"           // TLS from the first byte (port 465)
	TLSNone          = "none"          // plain text; loopback hosts only, for tests
)

// EmailConfig configures the SMTP relay.
type EmailConfig struct {
	Host     string
	Port     int    // 587, or 465 for TLSImplicit, or 25 for TLSNone, when zero
	Username string // no authentication when empty
	Password string
	From     string // the From address, e.g. "vigil <pager@example.com>"
	TLS      string // one of the TLS* policies; TLSStartTLS when empty
	// TLSConfig overrides the default (system roots, TLS 1.2+, ServerName
	// = Host); tests give it their own CA pool.
	TLSConfig *tls.Config
	Timeout   time.Duration // per connection; 15s when zero
	HELO      string        // the EHLO name; the host name when empty
	Clock     clock.Clock   // for the Date header; clock.Real{} when nil
}

// Email is the channel that sends mail through an SMTP relay.
type Email struct {
	client   *gomail.Client
	from     string
	domain   string
	password string
	clock    clock.Clock
}

var _ Channel = (*Email)(nil)

// NewEmail checks cfg and returns an email channel. It does not connect.
func NewEmail(cfg EmailConfig) (*Email, error) {
	client, domain, err := NewSMTPClient(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Email{client: client, from: cfg.From, domain: domain, password: cfg.Password, clock: cfg.Clock}, nil
}

// NewSMTPClient checks cfg and returns a client for its relay, and the
// domain of its From address for Message-IDs. It does not connect. The
// weekly summary sends through it too, so that both speak to the relay
// alike.
func NewSMTPClient(cfg EmailConfig) (*gomail.Client, string, error) {
	if cfg.Host == "" {
		return nil, "", validation.NewFieldError("host", "is required")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, "", validation.NewFieldError("port", "%d is not a port", cfg.Port)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, "", validation.NewFieldError("from", "is not an email address")
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, "", validation.NewFieldError("username", "is required with a password")
	}
	if cfg.Timeout < 0 {
		return nil, "", validation.NewFieldError("timeout", "must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	port := cfg.Port
	switch cfg.TLS {
	case "", TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		port = orDefault(port, 587)
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		port = orDefault(port, 587)
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
		port = orDefault(port, 465)
	case TLSNone:
		if !isLoopback(cfg.Host) {
			return nil, "", validation.NewFieldError("tls", "%q is allowed only for a loopback host", TLSNone)
		}
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		port = orDefault(port, 25)
	default:
		return nil, "", validation.NewFieldError("tls", "unknown policy %q (starttls, opportunistic, tls or none)", cfg.TLS)
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
		// Auto-discovery picks the strongest mechanism the server offers,
		// and never a clear-text one on an unencrypted connection.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("email channel: %w", err)
	}
	domain := "vigil.invalid"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 && at+1 < len(from.Address) {
		domain = from.Address[at+1:]
	}
	return client, domain, nil
}

func orDefault(port, def int) int {
	if port == 0 {
		return def
	}
	return port
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Type is TypeEmail.
func (e *Email) Type() string { return TypeEmail }

// Send delivers n over one SMTP connection.
func (e *Email) Send(ctx context.Context, n Notification) (Receipt, error) {
	r := Receipt{Provider: "smtp", ProviderID: MessageID(n, e.domain)}
	m, err := e.message(n)
	if err != nil {
		return r, fmt.Errorf("email %s to contact method %d: %w", n.ID, n.To.ID, err)
	}
	if err := e.client.DialAndSendWithContext(ctx, m); err != nil {
		return r, e.classify(fmt.Sprintf("email %s to contact method %d", n.ID, n.To.ID), err)
	}
	r.Status = StatusSent
	return r, nil
}

// MessageID is the Message-ID (without angle brackets) of n's email. It
// is derived from the notification ID alone, so that a resend after a
// crash carries the same one and mail clients can recognise it.
func MessageID(n Notification, domain string) string {
	local := n.ID
	if !isAtom(local) || len(local) > maxIDLen {
		sum := sha256.Sum256([]byte(n.ID))
		local = hex.EncodeToString(sum[:16])
	}
	return "vigil-notify." + local + "@" + domain
}

func (e *Email) message(n Notification) (*gomail.Msg, error) {
	text, html, err := renderEmail(n)
	if err != nil {
		return nil, err
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(e.from); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := m.To(n.To.Value); err != nil {
		return nil, fmt.Errorf("recipient address: %w", err)
	}
	m.Subject(subject(n))
	m.SetMessageIDWithValue(MessageID(n, e.domain))
	m.SetDateWithValue(e.clock.Now())
	// RFC 3834: automated mail; keeps vacation responders from replying
	// to the pager.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	return m, nil
}

// redactedError carries the cause for errors.As while its text is
// scrubbed of the password, in case a server or library ever echoes it.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

func (e *Email) classify(what string, err error) error { return SMTPError(what, err, e.password) }

// SMTPError is a send's error for the outbox: its text scrubbed of the
// password, and retryable when the failure is worth a retry (see
// retryableSMTP).
func SMTPError(what string, err error, password string) error {
	msg := what + ": " + err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "[redacted]")
	}
	re := &redactedError{msg: msg, err: err}
	if retryableSMTP(err) {
		return &outbox.RetryableError{Err: re}
	}
	return re
}

// retryableSMTP sorts SMTP failures: a 4xx reply and anything that looks
// like the network are worth retrying; a 5xx reply, a refused STARTTLS,
// an untrusted certificate or a bad address are not.
func retryableSMTP(err error) bool {
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
		// No reply code: the connection broke mid-transaction.
		return true
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
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	return false
}
