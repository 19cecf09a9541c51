package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// doHTTP performs req and returns the body of a 2xx answer (or the response
// for 304, with a nil body). Network errors, 429 and 5xx are
// *outbox.RetryableError; secrets are scrubbed from every error text.
func doHTTP(client *http.Client, req *http.Request, now time.Time, secrets ...string) (*http.Response, []byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	what := req.Method + " " + scrub(req.URL.Redacted(), secrets)
	resp, err := client.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, ctxErr)
		}
		return nil, nil, &outbox.RetryableError{Err: errors.New(scrub(fmt.Sprintf("%s: %v", what, err), secrets))}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return resp, nil, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		msg := scrub(fmt.Sprintf("%s: HTTP %d %s", what, resp.StatusCode, strings.TrimSpace(string(snippet))), secrets)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return resp, nil, &outbox.RetryableError{Err: errors.New(msg), After: outbox.RetryAfter(resp.Header.Get("Retry-After"), now)}
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			msg = scrub(fmt.Sprintf("%s: authentication failed (HTTP %d)", what, resp.StatusCode), secrets)
		}
		return resp, nil, errors.New(msg)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return resp, nil, &outbox.RetryableError{Err: errors.New(scrub(fmt.Sprintf("%s: reading body: %v", what, err), secrets))}
	}
	if len(body) > maxPageBytes {
		return resp, nil, fmt.Errorf("%s: page larger than %d bytes", what, maxPageBytes)
	}
	return resp, body, nil
}

func scrub(s string, secrets []string) string {
	for _, k := range secrets {
		if k != "" {
			s = strings.ReplaceAll(s, k, "[REDACTED]")
		}
	}
	return s
}

// ctxErr returns the context's error, so loops stop promptly.
func ctxErr(ctx context.Context) error { return ctx.Err() }
