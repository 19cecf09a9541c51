package slack

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

	"github.com/vigil-soc/vigil/internal/outbox"
)

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = "https://slack.com/api"

// Config configures a Client.
type Config struct {
	APIURL     string // default "https://slack.com/api"; tests point it at the emulator
	BotToken   string // xoxb-…, sent as Authorization: Bearer; never logged
	HTTPClient *http.Client
	Now        func() time.Time
}

// Client calls Slack's Web API methods the pager needs.
type Client struct {
	api   string
	token string
	http  *http.Client
	now   func() time.Time
}

// New returns a client; zero fields take their defaults (a 10 s timeout
// on a fresh http.Client).
func New(cfg Config) *Client {
	c := &Client{api: strings.TrimRight(cfg.APIURL, "/"), token: cfg.BotToken, http: cfg.HTTPClient, now: cfg.Now}
	if c.api == "" {
		c.api = DefaultAPIURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Message is the content of a chat message: Text is the notification
// fallback (and what screen readers read), Blocks the Block Kit layout.
type Message struct {
	Text   string `json:"text"`
	Blocks []any  `json:"blocks,omitempty"`
}

// Posted identifies a message Slack accepted.
type Posted struct{ Channel, TS string }

// APIError is a permanent ok:false answer from Slack.
type APIError struct {
	Method string // "chat.postMessage"
	Code   string // Slack's error code: "channel_not_found", "invalid_auth", …
}

func (e *APIError) Error() string { return fmt.Sprintf("slack %s: %s", e.Method, e.Code) }

// transientCodes are ok:false codes worth retrying.
var transientCodes = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

type postRequest struct {
	Channel string `json:"channel"`
	TS      string `json:"ts,omitempty"`
	Text    string `json:"text"`
	Blocks  []any  `json:"blocks,omitempty"`
}

type envelope struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// PostMessage posts m to channel (a channel id or a member id) with
// chat.postMessage.
func (c *Client) PostMessage(ctx context.Context, channel string, m Message) (Posted, error) {
	env, err := c.call(ctx, "chat.postMessage", postRequest{Channel: channel, Text: m.Text, Blocks: m.Blocks})
	if err != nil {
		return Posted{}, err
	}
	if env.Channel == "" || env.TS == "" {
		return Posted{}, fmt.Errorf("slack chat.postMessage: answer has no channel or ts")
	}
	return Posted{Channel: env.Channel, TS: env.TS}, nil
}

// UpdateMessage replaces the text and blocks of the message at channel
// and ts with chat.update. An empty Blocks leaves Slack's blocks as they
// were, so pass at least one block to replace them.
func (c *Client) UpdateMessage(ctx context.Context, channel, ts string, m Message) error {
	_, err := c.call(ctx, "chat.update", postRequest{Channel: channel, TS: ts, Text: m.Text, Blocks: m.Blocks})
	return err
}

// call POSTs body as JSON to method and classifies the answer.
func (c *Client) call(ctx context.Context, method string, body any) (envelope, error) {
	var env envelope
	b, err := json.Marshal(body)
	if err != nil {
		return env, fmt.Errorf("slack %s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/"+method, bytes.NewReader(b))
	if err != nil {
		return env, fmt.Errorf("slack %s: request: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL; the API URL holds no secret, but
		// keep the cause only, as the other channels do.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return env, &outbox.RetryableError{Err: fmt.Errorf("slack %s: %w", method, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return env, &outbox.RetryableError{Err: fmt.Errorf("slack %s: read answer: %w", method, err)}
	}
	return env, classify(method, resp, raw, c.now(), &env)
}

// classify turns an HTTP answer into nil, a *outbox.RetryableError or a
// permanent error, filling env from a JSON body.
func classify(method string, resp *http.Response, raw []byte, now time.Time, env *envelope) error {
	jsonErr := json.Unmarshal(raw, env)
	code := resp.StatusCode
	after := outbox.RetryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		what := fmt.Sprintf("HTTP %d", code)
		if jsonErr == nil && env.Error != "" {
			what += " " + env.Error
		}
		return &outbox.RetryableError{Err: fmt.Errorf("slack %s: %s", method, what), After: after}
	case code < 200 || code >= 300:
		return fmt.Errorf("slack %s: HTTP %d %s", method, code, snippet(raw))
	case jsonErr != nil:
		return fmt.Errorf("slack %s: answer is not JSON: %s", method, snippet(raw))
	case env.OK:
		return nil
	case env.Error == "":
		return fmt.Errorf("slack %s: ok is false and no error code given", method)
	case transientCodes[env.Error]:
		return &outbox.RetryableError{Err: &APIError{Method: method, Code: env.Error}, After: after}
	}
	return &APIError{Method: method, Code: env.Error}
}

// snippet is the start of a body for an error text.
func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 120 {
		b = b[:120]
	}
	return strings.ToValidUTF8(string(b), "?")
}
