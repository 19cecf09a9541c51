package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Retry bounds for reads. Writes never wait on the service: they return a
// retryable error and the outbox retries with its own durable backoff.
const (
	// maxReadWait bounds one Retry-After a read waits out. Graph's
	// throttling windows are a minute; a longer ask means the tenant is
	// in trouble and the caller should come back later, not hang.
	maxReadWait = 2 * time.Minute
	// maxTransientWaits is how many 429s, 5xx or 408s one read request
	// waits out before giving up.
	maxTransientWaits = 3
	// defaultRetryAfter is waited on a 429 without Retry-After.
	defaultRetryAfter = 5 * time.Second
	// pollInterval is how often a wait rechecks an injected clock that is
	// not the wall clock, so that a test's Advance releases it.
	pollInterval = 2 * time.Millisecond
)

// accessBackoff is how long a read waits after each 403 that says the app
// lacks a role: Entra ID takes from seconds to minutes to propagate a new
// app role grant, and Graph answers 403 until it has.
var accessBackoff = []time.Duration{2 * time.Second, 5 * time.Second, 10 * time.Second}

// serverBackoff is waited after a 5xx or 408 that gave no Retry-After.
var serverBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

// ErrNotFound is matched (errors.Is) by a 404 answer.
var ErrNotFound = errors.New("not found")

// Error is an error answer from Graph. Its text holds the service's code
// and message, which name no secrets, so it is safe on a timeline.
type Error struct {
	StatusCode int
	Code       string
	Message    string
	// RetryAfter is the wait the service asked for, if any.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("graph: %d %s", e.StatusCode, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes a 404 match ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// insufficientAccess reports a 403 of a role not yet granted (Graph's
// Authorization_RequestDenied; ARM's spelling is accepted too).
func (e *Error) insufficientAccess() bool {
	return e.StatusCode == http.StatusForbidden &&
		(strings.EqualFold(e.Code, "Authorization_RequestDenied") || strings.EqualFold(e.Code, "InsufficientAccessError"))
}

// transient reports throttling and server trouble.
func (e *Error) transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout
}

// classify says whether the failure is worth retrying: throttling, server
// errors, timeouts, an expired token that a fresh one did not fix at once,
// and a role grant still propagating. Everything else (400, 404, ...) is
// permanent: sending the same request again cannot succeed.
func (e *Error) classify() error {
	if e.transient() || e.StatusCode == http.StatusUnauthorized || e.insufficientAccess() {
		return &outbox.RetryableError{Err: e, After: e.RetryAfter}
	}
	return e
}

// call is one logical request; do may send it several times.
type call struct {
	method, url string
	body        any // marshalled as JSON; nil for none
	// write makes do return throttling and access errors at once.
	write bool
}

// do sends k and returns the body of a 2xx answer. Each attempt first
// takes a slot of the budget. A 401 is retried once with a new token.
// Reads also wait out throttling (Retry-After, bounded), server errors and
// a not-yet-granted role; writes return those as *outbox.RetryableError.
func (c *Client) do(ctx context.Context, k call) ([]byte, error) {
	var transients, denials int
	refreshed := false
	for {
		if err := c.take(ctx); err != nil {
			return nil, &outbox.RetryableError{Err: fmt.Errorf("graph: waiting for request budget: %w", err)}
		}
		req, err := runtime.NewRequest(ctx, k.method, k.url)
		if err != nil {
			return nil, fmt.Errorf("graph: %s %s: %w", k.method, k.url, err)
		}
		// Without it Graph shows evolvable enum members, such as the
		// serviceSource microsoftDefenderForCloud, as unknownFutureValue.
		req.Raw().Header.Set("Prefer", "include-unknown-enum-members")
		req.Raw().Header.Set("Accept", "application/json")
		if k.body != nil {
			if err := runtime.MarshalAsJSON(req, k.body); err != nil {
				return nil, fmt.Errorf("graph: encode body: %w", err)
			}
		}
		res, err := c.pipeline.Do(req)
		if err != nil {
			return nil, transportError(err)
		}
		data, err := runtime.Payload(res)
		if err != nil {
			return nil, &outbox.RetryableError{Err: fmt.Errorf("graph: read answer: %w", err)}
		}
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			return data, nil
		}
		gerr := c.parseError(res, data)
		var wait time.Duration
		switch {
		case gerr.StatusCode == http.StatusUnauthorized && !refreshed:
			// The token expired or was revoked before the expiry it was
			// issued with; azcore has dropped it, and reset makes sure the
			// next one is really new.
			refreshed = true
			c.log.Info("graph token refused; fetching a new one", "code", gerr.Code)
			if err := c.cred.reset(); err != nil {
				return nil, fmt.Errorf("graph credential: %w", err)
			}
			continue
		case k.write:
		case gerr.transient() && transients < maxTransientWaits:
			wait = gerr.RetryAfter
			if wait == 0 && gerr.StatusCode == http.StatusTooManyRequests {
				wait = defaultRetryAfter
			} else if wait == 0 {
				wait = serverBackoff[transients]
			}
			if wait > maxReadWait {
				wait = 0 // too long to block a read; the caller retries later
			}
			transients++
		case gerr.insufficientAccess() && denials < len(accessBackoff):
			wait = accessBackoff[denials]
			denials++
		}
		if wait == 0 {
			return nil, gerr.classify()
		}
		c.log.Info("graph request will be retried", "status", gerr.StatusCode, "code", gerr.Code, "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, &outbox.RetryableError{Err: fmt.Errorf("%w (wait cut short: %w)", gerr, err), After: gerr.RetryAfter}
		}
	}
}

// transportError classifies a failure to get any answer. Network trouble is
// retryable. A token the identity platform refused (a wrong secret, a
// deleted app) is not, unless the platform itself was throttling or down.
func transportError(err error) error {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if code := afe.RawResponse.StatusCode; code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
			return fmt.Errorf("graph: authenticate: %w", err)
		}
	}
	return &outbox.RetryableError{Err: fmt.Errorf("graph: %w", err)}
}

// parseError reads Graph's error body ({"error": {"code", "message"}}) and
// the Retry-After header.
func (c *Client) parseError(res *http.Response, data []byte) *Error {
	e := &Error{StatusCode: res.StatusCode, RetryAfter: outbox.RetryAfter(res.Header.Get("Retry-After"), c.clock.Now())}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	if e.Code == "" {
		e.Code = http.StatusText(res.StatusCode)
	}
	if len(e.Message) > 300 {
		e.Message = strings.ToValidUTF8(e.Message[:300], "") + "…"
	}
	return e
}

// limiter is the client's own request budget: at most budget requests in
// any sliding window. It keeps the client under Graph's limit instead of
// discovering it through 429s, which cost a request each and, on the real
// service, lengthen the penalty.
type limiter struct {
	mu     sync.Mutex
	budget int
	window time.Duration
	sent   []time.Time // grants still inside the window, oldest first
}

func newLimiter(budget int, window time.Duration) *limiter {
	return &limiter{budget: budget, window: window, sent: make([]time.Time, 0, budget)}
}

// reserve takes a slot at now, or says how long until one frees.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.sent) && !now.Before(l.sent[i].Add(l.window)) {
		i++
	}
	l.sent = l.sent[i:]
	if len(l.sent) < l.budget {
		l.sent = append(l.sent, now)
		return 0
	}
	return l.sent[0].Add(l.window).Sub(now)
}

// used counts the grants still inside the window at now. It only reads:
// reserve prunes.
func (l *limiter) used(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := len(l.sent) - 1; i >= 0 && now.Before(l.sent[i].Add(l.window)); i-- {
		n++
	}
	return n
}

// Budget reports the client's request budget: how many requests were
// granted within the last window (the sliding minute), out of how many
// the window allows. Retries count: each attempt takes a slot. It is safe
// for concurrent use.
func (c *Client) Budget() (used, limit int, window time.Duration) {
	return c.limiter.used(c.clock.Now()), c.limiter.budget, c.limiter.window
}

// take waits, honouring ctx, until the budget has a slot.
func (c *Client) take(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := c.limiter.reserve(c.clock.Now())
		if d <= 0 {
			return nil
		}
		c.log.Debug("graph request budget spent; waiting", "wait", d)
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sleep waits d on the injected clock. On the wall clock that is one
// timer. Any other clock (a test's fake) cannot wake anyone, so the wait
// polls it, and a test's Advance releases the wait within pollInterval.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	until := c.clock.Now().Add(d)
	wall := false
	switch c.clock.(type) {
	case clock.Real, *clock.Real:
		wall = true
	}
	for {
		left := until.Sub(c.clock.Now())
		if left <= 0 {
			return nil
		}
		if !wall {
			left = min(left, pollInterval)
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
