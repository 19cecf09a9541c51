package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
)

const (
	smtpUser = "pager"
	smtpPass = "correct-horse-battery"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

type mailReceived struct {
	from   string
	to     []string
	data   []byte
	tls    bool
	authed string
}

// smtpServer is a real SMTP server on 127.0.0.1:0 (emersion/go-smtp):
// STARTTLS when tlsOn, AUTH PLAIN for smtpUser/smtpPass, and rcptErr,
// when set, as the answer to every RCPT.
type smtpServer struct {
	port    int
	pool    *x509.CertPool
	rcptErr error
	mu      sync.Mutex
	got     []mailReceived
}

func startSMTP(t testing.TB, tlsOn bool, rcptErr error) *smtpServer {
	t.Helper()
	return startSMTPMode(t, tlsOn, false, rcptErr)
}

// startSMTPMode is startSMTP with implicit TLS (port 465 style) when
// implicit is set.
func startSMTPMode(t testing.TB, tlsOn, implicit bool, rcptErr error) *smtpServer {
	t.Helper()
	s := &smtpServer{rcptErr: rcptErr}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	if tlsOn {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.pool = pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *smtpServer) messages() []mailReceived {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailReceived(nil), s.got...)
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	cur  mailReceived
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = mailReceived{from: from, tls: isTLS, authed: s.user}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = mailReceived{} }
func (s *smtpSession) Logout() error { return nil }

func (s *smtpServer) config(password string) EmailConfig {
	return EmailConfig{
		Host: "127.0.0.1", Port: s.port, Username: smtpUser, Password: password,
		From: "vigil pager <pager@vigil.example>", TLSConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
		Timeout: 5 * time.Second, HELO: "vigil.test", Clock: clock.NewFake(t0),
	}
}

func newTestEmail(t testing.TB, cfg EmailConfig) *Email {
	t.Helper()
	e, err := NewEmail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmailDelivered(t *testing.T) {
	srv := startSMTP(t, true, nil)
	e := newTestEmail(t, srv.config(smtpPass))
	n := samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com", Name: "work"})
	if err := second(e.Send(context.Background(), n)); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.from != "pager@vigil.example" || len(m.to) != 1 || m.to[0] != "oncall@example.com" {
		t.Errorf("envelope from %q to %q", m.from, m.to)
	}
	if !m.tls || m.authed != smtpUser {
		t.Errorf("tls = %v, authenticated as %q", m.tls, m.authed)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	wantHeaders := map[string]string{
		"Message-Id":     "<vigil-notify.page-7.step-0.cm-3@vigil.example>",
		"Auto-Submitted": "auto-generated",
		"Date":           t0.Format(time.RFC1123Z),
	}
	for k, want := range wantHeaders {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); subj != n.Subject {
		t.Errorf("Subject = %q, want %q", subj, n.Subject)
	}
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != "pager@vigil.example" {
		t.Errorf("From = %v", from)
	}
	if to, _ := h.AddressList("To"); len(to) != 1 || to[0].Address != "oncall@example.com" {
		t.Errorf("To = %v", to)
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", h.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		parts[ct] = string(b)
	}
	text, html := parts["text/plain"], parts["text/html"]
	for _, want := range []string{n.Text, "Acknowledge: " + n.AckURL, ackNote, n.ResolveURL, n.ItemURL} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{`<a href="https://vigil.example/ack/7?sig=abc&amp;exp=1">Acknowledge</a>`, ackNote, "Impossible travel &lt;admin&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<admin>") || strings.Contains(html, "<form") {
		t.Errorf("HTML part is not escaped or has a form:\n%s", html)
	}
	if strings.Contains(string(m.data), smtpPass) {
		t.Error("the message carries the password")
	}
}

func TestEmailFailures(t *testing.T) {
	tempFail := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	noMailbox := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name      string
		tlsOn     bool
		rcptErr   error
		password  string
		edit      func(*EmailConfig)
		retryable bool
	}{
		{name: "wrong password", tlsOn: true, password: "wrong-" + smtpPass},
		{name: "451 is retryable", tlsOn: true, password: smtpPass, rcptErr: tempFail, retryable: true},
		{name: "550 is permanent", tlsOn: true, password: smtpPass, rcptErr: noMailbox},
		{name: "no STARTTLS under the mandatory policy", tlsOn: false, password: smtpPass},
		{name: "untrusted certificate", tlsOn: true, password: smtpPass, edit: func(c *EmailConfig) { c.TLSConfig = nil }},
		{name: "connection refused", tlsOn: true, password: smtpPass, edit: func(c *EmailConfig) { c.Port = closedPort }, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTP(t, tt.tlsOn, tt.rcptErr)
			cfg := srv.config(tt.password)
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			err := second(newTestEmail(t, cfg).Send(context.Background(), samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"})))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("retryable = %v, want %v: %v", !tt.retryable, tt.retryable, err)
			}
			if strings.Contains(err.Error(), smtpPass) {
				t.Fatalf("the error shows the password: %v", err)
			}
			if len(srv.messages()) != 0 {
				t.Fatal("a message was delivered")
			}
		})
	}
}

func TestEmailPlainTextOnLoopback(t *testing.T) {
	srv := startSMTP(t, false, nil)
	cfg := EmailConfig{Host: "127.0.0.1", Port: srv.port, From: "pager@vigil.example", TLS: TLSNone, Clock: clock.NewFake(t0)}
	if err := second(newTestEmail(t, cfg).Send(context.Background(), samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"}))); err != nil {
		t.Fatal(err)
	}
	if got := srv.messages(); len(got) != 1 || got[0].tls {
		t.Fatalf("received %+v", got)
	}
}

func TestNewEmailValidates(t *testing.T) {
	tests := []struct {
		name  string
		cfg   EmailConfig
		field string
	}{
		{"no host", EmailConfig{From: "a@b.example"}, "host"},
		{"bad from", EmailConfig{Host: "smtp.example", From: "not an address"}, "from"},
		{"unknown policy", EmailConfig{Host: "smtp.example", From: "a@b.example", TLS: "ssl3"}, "tls"},
		{"plain text off loopback", EmailConfig{Host: "smtp.example", From: "a@b.example", TLS: TLSNone}, "tls"},
		{"password without user", EmailConfig{Host: "smtp.example", From: "a@b.example", Password: "x"}, "username"},
		{"bad port", EmailConfig{Host: "smtp.example", From: "a@b.example", Port: 70000}, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEmail(tt.cfg)
			assertField(t, err, tt.field)
		})
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	srv := startSMTPMode(t, true, true, nil)
	cfg := srv.config(smtpPass)
	cfg.TLS = TLSImplicit
	if err := second(newTestEmail(t, cfg).Send(context.Background(), samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"}))); err != nil {
		t.Fatal(err)
	}
	if got := srv.messages(); len(got) != 1 || !got[0].tls || got[0].authed != smtpUser {
		t.Fatalf("received %+v", got)
	}
}

// A server or library echoing the password must not put it in the
// outbox's error text.
func TestEmailErrorsAreScrubbed(t *testing.T) {
	e := newTestEmail(t, EmailConfig{Host: "smtp.example", From: "a@b.example", Username: "u", Password: smtpPass})
	err := e.classify("email x", &smtp.SMTPError{Code: 535, Message: "bad password " + smtpPass})
	if strings.Contains(err.Error(), smtpPass) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error = %v", err)
	}
	err = e.classify("email x", errors.New("421 closing "+smtpPass+": "+io.ErrUnexpectedEOF.Error()))
	if strings.Contains(err.Error(), smtpPass) {
		t.Fatalf("error = %v", err)
	}
}

func BenchmarkEmailSendStartTLS(b *testing.B) {
	srv := startSMTP(b, true, nil)
	e := newTestEmail(b, srv.config(smtpPass))
	n := samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := second(e.Send(ctx, n)); err != nil {
			b.Fatal(err)
		}
	}
}

// One channel serves the outbox sender's concurrent sends.
func TestEmailConcurrentSends(t *testing.T) {
	srv := startSMTP(t, true, nil)
	e := newTestEmail(t, srv.config(smtpPass))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := samplePage(ContactMethod{ID: int64(i), Type: TypeEmail, Value: "oncall@example.com"})
			errs <- second(e.Send(context.Background(), n))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(srv.messages()); got != 8 {
		t.Fatalf("received %d messages, want 8", got)
	}
}
