package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Provider is the Receipt provider name.
const Provider = "teams"

// Channel is the notify.Channel for contact method type "teams".
type Channel struct {
	resolve func(name string) (string, bool)
	client  *http.Client
	now     func() time.Time
}

var (
	_ notify.Channel  = (*Channel)(nil)
	_ notify.Limited  = (*Channel)(nil)
	_ notify.Bundling = (*Channel)(nil)
)

// NewChannel returns the Teams channel. resolve maps a webhook name (the
// contact method's value) to its URL, from configuration. client may be
// nil (a client with a 10 s timeout is used); its redirect policy is
// replaced so that a redirect is never followed with the card. now may be
// nil (time.Now).
func NewChannel(resolve func(name string) (webhookURL string, ok bool), client *http.Client, now func() time.Time) *Channel {
	c := &http.Client{Timeout: 10 * time.Second}
	if client != nil {
		cp := *client
		c = &cp
		if c.Timeout == 0 {
			c.Timeout = 10 * time.Second
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if now == nil {
		now = time.Now
	}
	return &Channel{resolve: resolve, client: c, now: now}
}

// Type is notify.TypeTeams.
func (c *Channel) Type() string { return notify.TypeTeams }

// Limits keep a channel from being flooded: a Workflows flow run per card
// is slow and metered, and Teams throttles a channel's posts.
func (c *Channel) Limits() notify.Limits {
	return notify.Limits{PerMethod: []notify.Limit{{N: 10, Per: time.Minute}}}
}

// Bundles: a card lists the pages a rate limit held back.
func (c *Channel) Bundles() bool { return true }

// Send POSTs Envelope(Card(n)) to the webhook named by n.To.Value.
func (c *Channel) Send(ctx context.Context, n notify.Notification) (notify.Receipt, error) {
	r := notify.Receipt{Provider: Provider}
	name := n.To.Value
	if err := notify.ValidValue(notify.TypeTeams, name); err != nil {
		return r, fmt.Errorf("teams %s: contact method %d: %w", n.ID, n.To.ID, err)
	}
	raw, ok := "", false
	if c.resolve != nil {
		raw, ok = c.resolve(name)
	}
	if !ok || raw == "" {
		return r, fmt.Errorf("teams %s: webhook %q is not configured (paging.teams.webhooks)", n.ID, name)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The parse error would quote the URL.
		return r, fmt.Errorf("teams %s: webhook %q has no valid http(s) URL", n.ID, name)
	}
	body, err := json.Marshal(Envelope(Card(n)))
	if err != nil {
		return r, fmt.Errorf("teams %s: encode card: %w", n.ID, err)
	}
	if err := c.post(ctx, name, raw, body); err != nil {
		return r, fmt.Errorf("teams %s: %w", n.ID, err)
	}
	r.Status = notify.StatusSent
	return r, nil
}

func (c *Channel) post(ctx context.Context, name, webhookURL string, body []byte) error {
	where := fmt.Sprintf("webhook %q", name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: build request: %s", where, scrub(err.Error(), webhookURL))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-notify")
	resp, err := c.client.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL, sig included: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &outbox.RetryableError{Err: errors.New(where + ": POST: " + scrub(err.Error(), webhookURL))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	if code == http.StatusOK || code == http.StatusAccepted {
		return nil
	}
	msg := strings.TrimSpace(scrub(string(bytes.ToValidUTF8(snippet, nil)), webhookURL))
	err = fmt.Errorf("%s: HTTP %d %s", where, code, msg)
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		return &outbox.RetryableError{Err: err, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), c.now())}
	case code >= 300 && code < 400:
		return fmt.Errorf("%w (redirects are not followed; check the webhook URL)", err)
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		return fmt.Errorf("%w (the flow may be off or its URL regenerated; update paging.teams.webhooks)", err)
	}
	return err
}

// scrub removes the webhook URL and its sig from s: a proxy or the
// service may echo either.
func scrub(s, webhookURL string) string {
	s = strings.ReplaceAll(s, webhookURL, "[webhook URL]")
	if u, err := url.Parse(webhookURL); err == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 8 {
					s = strings.ReplaceAll(s, v, "[redacted]")
					s = strings.ReplaceAll(s, url.QueryEscape(v), "[redacted]")
				}
			}
		}
	}
	return s
}
