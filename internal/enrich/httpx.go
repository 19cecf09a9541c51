package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// maxBody caps a provider's response: enough for a VirusTotal file report,
// small enough that a broken server cannot exhaust memory.
const maxBody = 8 << 20

// httpResult is a response read in full.
type httpResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// doHTTP sends req and reads the (capped) body. Network failures come back
// retryable, with the URL left out of the text: a URL template may hold a
// key, and *url.Error prints the URL.
func doHTTP(ctx context.Context, client *http.Client, req *http.Request, secrets []string) (httpResult, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return httpResult{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return httpResult{}, &outbox.RetryableError{Err: fmt.Errorf("%s %s: %s", req.Method, scrub(req.URL.Path, secrets), scrub(err.Error(), secrets))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return httpResult{}, &outbox.RetryableError{Err: fmt.Errorf("%s %s: reading body: %s", req.Method, scrub(req.URL.Path, secrets), scrub(err.Error(), secrets))}
	}
	return httpResult{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// statusError classifies a non-2xx answer: 429 and 5xx retryable (honouring
// Retry-After), 401/403 ErrAuth, the rest permanent. detail is the
// provider's own error text, already extracted; it is scrubbed of secrets.
func statusError(provider string, res httpResult, detail string, now time.Time, secrets []string) error {
	msg := fmt.Sprintf("%s: HTTP %d", provider, res.Status)
	if detail = strings.TrimSpace(scrub(detail, secrets)); detail != "" {
		msg += ": " + truncate(detail, 300)
	}
	switch {
	case res.Status == http.StatusTooManyRequests || res.Status >= 500:
		return &outbox.RetryableError{Err: errors.New(msg), After: outbox.RetryAfter(res.Header.Get("Retry-After"), now)}
	case res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden:
		return fmt.Errorf("%s: %w", msg, ErrAuth)
	}
	return errors.New(msg)
}

// scrub replaces every secret in s, so that a key echoed by a server never
// reaches a log.
func scrub(s string, secrets []string) string {
	for _, k := range secrets {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func nowFunc(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
