package smshttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Provider is a templated HTTP SMS gateway; it implements
// notify.SMSProvider.
type Provider struct {
	name        string
	urlT        *template.Template
	method      string
	headers     http.Header
	contentType string
	bodyT       *template.Template
	from        string
	success     map[int]bool
	idField     string
	client      *http.Client
	now         func() time.Time
}

var _ notify.SMSProvider = (*Provider)(nil)

// maxSnippet bounds how much of a refusal goes into an error text.
const maxSnippet = 200

// New checks cfg and parses its templates. Errors are
// *validation.FieldError naming the field: "name", "url", "method",
// "content_type", "body_template", "headers", "success", "id_field".
func New(cfg Config) (*Provider, error) { return parseConfig(cfg) }

// Name is the provider name, for receipts and logs.
func (p *Provider) Name() string { return p.name }

// SendSMS renders the request for (to, body) and sends it.
func (p *Provider) SendSMS(ctx context.Context, to, body string) (notify.Receipt, error) {
	r := notify.Receipt{Provider: p.name}
	if !notify.ValidPhone(to) {
		return r, fmt.Errorf("%s: recipient is not an E.164 phone number", p.name)
	}
	d := Data{To: to, From: p.from, Body: body}
	var ub bytes.Buffer
	if err := p.urlT.Execute(&ub, d); err != nil {
		return r, fmt.Errorf("%s: url template: %w", p.name, err)
	}
	rawURL := strings.TrimSpace(ub.String())
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return r, fmt.Errorf("%s: the url template rendered no absolute http(s) URL", p.name)
	}
	where := u.Scheme + "://" + u.Host
	secrets := p.secrets(u)

	var reqBody io.Reader
	if p.bodyT != nil {
		var bb bytes.Buffer
		if err := p.bodyT.Execute(&bb, d); err != nil {
			return r, fmt.Errorf("%s: body template: %s", p.name, scrub(err.Error(), secrets))
		}
		reqBody = &bb
	}
	req, err := http.NewRequestWithContext(ctx, p.method, rawURL, reqBody)
	if err != nil {
		return r, fmt.Errorf("%s: request to %s: %s", p.name, where, scrub(err.Error(), secrets))
	}
	for k, vs := range p.headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", p.contentType)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "vigil-notify")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL, query (an API key?) included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return r, &outbox.RetryableError{Err: fmt.Errorf("%s: %s %s: %s", p.name, p.method, where, scrub(err.Error(), secrets))}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	if p.accepted(resp.StatusCode) {
		r.Status = notify.StatusSent
		if p.idField != "" {
			r.ProviderID = findID(answer, p.idField)
		}
		return r, nil
	}
	err = fmt.Errorf("%s: %s %s: HTTP %d: %s", p.name, p.method, where, resp.StatusCode, snippet(answer, secrets))
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		return r, &outbox.RetryableError{Err: err, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), p.now())}
	case code >= 300 && code < 400:
		return r, fmt.Errorf("%w (redirects are not followed; update the url)", err)
	}
	return r, err
}

func (p *Provider) accepted(code int) bool {
	if len(p.success) == 0 {
		return code >= 200 && code < 300
	}
	return p.success[code]
}

// secrets lists the values no error text may hold: every header value
// and, for a credential like "Bearer abc…" or "Basic …", its parts; the
// URL's password and query values. Longest first, so that a value is
// replaced before any of its parts.
func (p *Provider) secrets(u *url.URL) []string {
	var s []string
	add := func(v string) {
		if len(v) >= 4 {
			s = append(s, v, url.QueryEscape(v))
		}
	}
	for _, vs := range p.headers {
		for _, v := range vs {
			add(v)
			for _, f := range strings.Fields(v) {
				if len(f) >= 8 {
					add(f)
				}
			}
		}
	}
	if pw, ok := u.User.Password(); ok {
		add(pw)
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// snippet is at most maxSnippet bytes of the answer, scrubbed first (so
// that a cut cannot leave half a secret), valid UTF-8, on one line.
func snippet(answer []byte, secrets []string) string {
	s := scrub(strings.ToValidUTF8(string(answer), "\uFFFD"), secrets)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return s
}

// findID follows path ("sid", "messages.0.message-id") into the JSON
// answer; a string or a number is the id.
func findID(answer []byte, path string) string {
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	// A top-level field may itself hold dots; try it whole first.
	if m, ok := v.(map[string]any); ok {
		if id := idString(m[path]); id != "" {
			return id
		}
	}
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return ""
			}
			v = x[i]
		default:
			return ""
		}
	}
	return idString(v)
}

func idString(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 200 {
			return ""
		}
		return x
	case json.Number:
		return x.String()
	}
	return ""
}
