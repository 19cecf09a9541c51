package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// DefaultBaseURL is Twilio's REST API host.
const DefaultBaseURL = "https://api.twilio.com"

// apiVersion is the REST API version in every path.
const apiVersion = "2010-04-01"

// DefaultCallTimeout is how many seconds a call rings before Twilio gives up
// with no-answer. Twilio's own default is 60; a page that rings a full
// minute into voicemail acknowledges nothing, so vigil rings for less and
// lets voicemail pick up less often.
const DefaultCallTimeout = 30

// maxResponse bounds what is read of a REST answer; Twilio's are a few KiB.
const maxResponse = 1 << 20

// Config configures a Client.
type Config struct {
	BaseURL    string // default "https://api.twilio.com"; tests point it at the emulator
	AccountSID string
	AuthToken  string       // never logged, never in an error text
	From       string       // E.164 sender number
	HTTPClient *http.Client // nil: a client with a 10 s timeout

	// CallTimeout is the Timeout form field of calls, in seconds; 0 means
	// DefaultCallTimeout.
	CallTimeout int
	// Now is the clock used to turn an HTTP-date Retry-After into a wait;
	// nil means time.Now.
	Now func() time.Time
}

// Client talks to Twilio's REST API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New returns a client for cfg, filling in defaults.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{cfg: cfg, http: hc, now: now}
}

// Sent is what Twilio's 201 answer says about a created message or call.
type Sent struct{ SID, Status string }

// APIError is Twilio's error answer (the shape of error_400_rest.json).
type APIError struct {
	Status   int    `json:"status"`
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("twilio: HTTP %d, error %d: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, e.Message)
}

// CallbackEvents are the call progress events vigil asks status callbacks
// for: all of them, so the notification log shows ringing and answering,
// not only the end.
var CallbackEvents = []string{"initiated", "ringing", "answered", "completed"}

// SendSMS sends body to the E.164 number to. statusCallback, when not
// empty, is where Twilio posts delivery status changes.
func (c *Client) SendSMS(ctx context.Context, to, body, statusCallback string) (Sent, error) {
	return c.create(ctx, "send message", "Messages.json", c.messageForm(to, body, statusCallback))
}

// Call places a call to the E.164 number to that runs the inline twiml.
// statusCallback, when not empty, receives every CallbackEvents event.
func (c *Client) Call(ctx context.Context, to, twiml, statusCallback string) (Sent, error) {
	return c.create(ctx, "place call", "Calls.json", c.callForm(to, twiml, statusCallback))
}

func (c *Client) messageForm(to, body, statusCallback string) url.Values {
	f := url.Values{}
	f.Set("To", to)
	f.Set("From", c.cfg.From)
	f.Set("Body", body)
	if statusCallback != "" {
		f.Set("StatusCallback", statusCallback)
	}
	return f
}

func (c *Client) callForm(to, twiml, statusCallback string) url.Values {
	f := url.Values{}
	f.Set("To", to)
	f.Set("From", c.cfg.From)
	f.Set("Twiml", twiml)
	f.Set("Timeout", strconv.Itoa(c.cfg.CallTimeout))
	if statusCallback != "" {
		f.Set("StatusCallback", statusCallback)
		f.Set("StatusCallbackMethod", http.MethodPost)
		f["StatusCallbackEvent"] = append([]string(nil), CallbackEvents...)
	}
	return f
}

// create POSTs form to the account's resource list and reads the 201.
func (c *Client) create(ctx context.Context, what, resource string, form url.Values) (Sent, error) {
	u := c.cfg.BaseURL + "/" + apiVersion + "/Accounts/" + url.PathEscape(c.cfg.AccountSID) + "/" + resource
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return Sent{}, fmt.Errorf("twilio: %s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.cfg.AccountSID, c.cfg.AuthToken)

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the URL (which holds only the account SID) and
		// never the basic-auth header; redact anyway in case a proxy or
		// transport echoes it.
		return Sent{}, &outbox.RetryableError{Err: fmt.Errorf("twilio: %s: %w", what, c.redactErr(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return Sent{}, &outbox.RetryableError{Err: fmt.Errorf("twilio: %s: read answer: %w", what, c.redactErr(err))}
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var r struct {
			SID    string `json:"sid"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.SID == "" {
			return Sent{}, fmt.Errorf("twilio: %s: HTTP %d answer has no resource sid", what, resp.StatusCode)
		}
		return Sent{SID: r.SID, Status: r.Status}, nil
	}

	apiErr := c.decodeError(resp.StatusCode, body)
	err = fmt.Errorf("twilio: %s: %w", what, apiErr)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return Sent{}, &outbox.RetryableError{Err: err, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), c.now())}
	}
	return Sent{}, err
}

// decodeError reads Twilio's error JSON; a body that is not one (a proxy's
// HTML page, say) still gives an APIError with the HTTP status.
func (c *Client) decodeError(status int, body []byte) *APIError {
	e := &APIError{}
	if err := json.Unmarshal(body, e); err != nil || (e.Code == 0 && e.Message == "") {
		e = &APIError{Message: http.StatusText(status)}
	}
	e.Status = status
	e.Message = c.redact(e.Message)
	e.MoreInfo = c.redact(e.MoreInfo)
	return e
}

// redact removes the auth token from s: errors end up in logs, in the
// outbox's last_error column and in the UI.
func (c *Client) redact(s string) string {
	if c.cfg.AuthToken == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.AuthToken, "[REDACTED]")
}

func (c *Client) redactErr(err error) error {
	if c.cfg.AuthToken == "" || !strings.Contains(err.Error(), c.cfg.AuthToken) {
		return err
	}
	// The original error is dropped on purpose: keeping it in the chain
	// would let anyone calling Unwrap print the token again.
	return errors.New(c.redact(err.Error()))
}
