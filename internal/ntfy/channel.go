package ntfy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Provider is the Receipt provider name.
const Provider = "ntfy"

// Config configures the channel.
type Config struct {
	ServerURL  string // e.g. https://ntfy.sh
	Token      string // optional access token, sent as Bearer; never logged
	HTTPClient *http.Client
	Now        func() time.Time
}

// Channel is the notify.Channel for contact method type "ntfy".
type Channel struct {
	server string // without the trailing slash
	host   string
	token  string
	client *http.Client
	now    func() time.Time
}

var (
	_ notify.Channel  = (*Channel)(nil)
	_ notify.Limited  = (*Channel)(nil)
	_ notify.Bundling = (*Channel)(nil)
)

var topicRE = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// ValidTopic reports whether topic is a valid ntfy topic.
func ValidTopic(topic string) bool { return topicRE.MatchString(topic) }

// NewChannel returns the ntfy channel. An empty ServerURL means
// https://ntfy.sh; a ServerURL that is not an http(s) URL makes every
// Send fail permanently, naming the problem. A nil HTTPClient is a client
// with a 10 s timeout; redirects are never followed (ntfy does not
// redirect publishes, and a redirect would carry the token elsewhere).
func NewChannel(cfg Config) *Channel {
	server := strings.TrimRight(cfg.ServerURL, "/")
	if server == "" {
		server = "https://ntfy.sh"
	}
	c := &http.Client{Timeout: 10 * time.Second}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		c = &cp
		if c.Timeout == 0 {
			c.Timeout = 10 * time.Second
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ch := &Channel{server: server, token: cfg.Token, client: c, now: cfg.Now}
	if u, err := url.Parse(server); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		ch.host = u.Scheme + "://" + u.Host
	}
	return ch
}

// Type is notify.TypeNtfy.
func (c *Channel) Type() string { return notify.TypeNtfy }

// Limits keep a phone from buzzing without pause (pages held back go out
// together), and stay under ntfy.sh's default visitor limit: a burst of
// 60, then one request per 5 seconds.
func (c *Channel) Limits() notify.Limits {
	return notify.Limits{
		PerMethod:  []notify.Limit{{N: 5, Per: time.Minute}},
		PerChannel: []notify.Limit{{N: 60, Per: 5 * time.Minute}},
	}
}

// Bundles: one push lists the pages a rate limit held back.
func (c *Channel) Bundles() bool { return true }

// Send publishes NewMessage(n.To.Value, n).
func (c *Channel) Send(ctx context.Context, n notify.Notification) (notify.Receipt, error) {
	r := notify.Receipt{Provider: Provider}
	if !ValidTopic(n.To.Value) {
		return r, fmt.Errorf("ntfy %s: contact method %d: topic must be 1 to 64 letters, digits, '-' or '_'", n.ID, n.To.ID)
	}
	if c.host == "" {
		return r, fmt.Errorf("ntfy %s: server URL is not an http(s) URL", n.ID)
	}
	body, err := json.Marshal(NewMessage(n.To.Value, n))
	if err != nil {
		return r, fmt.Errorf("ntfy %s: encode message: %w", n.ID, err)
	}
	id, err := c.publish(ctx, body)
	if err != nil {
		return r, fmt.Errorf("ntfy %s: %w", n.ID, err)
	}
	r.ProviderID, r.Status = id, notify.StatusSent
	return r, nil
}

// apiError is ntfy's error JSON.
type apiError struct {
	Code  int    `json:"code"`
	HTTP  int    `json:"http"`
	Error string `json:"error"`
}

func (c *Channel) publish(ctx context.Context, body []byte) (string, error) {
	where := "publish to " + c.host
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+"/", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%s: build request: %s", where, c.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-notify")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", &outbox.RetryableError{Err: errors.New(where + ": " + c.scrub(err.Error()))}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		var ok struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &ok) // no id: sent all the same (see the package doc)
		return ok.ID, nil
	}
	err = fmt.Errorf("%s: HTTP %d: %s", where, code, c.describe(raw))
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		return "", &outbox.RetryableError{Err: err, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), c.now())}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return "", fmt.Errorf("%w (check the access token and the topic's permissions)", err)
	}
	return "", err
}

// describe turns an error answer into text: ntfy's error and code, or a
// short, scrubbed snippet of whatever else answered.
func (c *Channel) describe(raw []byte) string {
	var e apiError
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%s (code %d)", shorten(c.scrub(e.Error), 200), e.Code)
	}
	return shorten(strings.TrimSpace(c.scrub(string(raw))), 200)
}

func (c *Channel) scrub(s string) string {
	if c.token != "" {
		s = strings.ReplaceAll(s, c.token, "[redacted]")
	}
	return s
}
