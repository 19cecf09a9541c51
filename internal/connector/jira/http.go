package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// APIError is a failure Jira explained, from its
// {"errorMessages": [...], "errors": {field: message}} body.
type APIError struct {
	Status   int
	Messages []string
	Errors   map[string]string // field → message
}

func (e *APIError) Error() string {
	parts := slices.Clone(e.Messages)
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+e.Errors[k])
	}
	text := strings.Join(parts, "; ")
	if text == "" {
		text = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d %s", e.Status, text)
}

// DecodeError reads an error answer. A body that is not Jira's error
// shape (an HTML page from a proxy, say) keeps its text when short and
// says no more than the status otherwise. It never fails.
func DecodeError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var raw struct {
		ErrorMessages []string                   `json:"errorMessages"`
		Errors        map[string]json.RawMessage `json:"errors"`
		Message       string                     `json:"message"` // the gateway's own errors
	}
	if json.Unmarshal(body, &raw) == nil {
		for _, m := range raw.ErrorMessages {
			if m = strings.TrimSpace(m); m != "" {
				e.Messages = append(e.Messages, m)
			}
		}
		if raw.Message != "" {
			e.Messages = append(e.Messages, raw.Message)
		}
		for k, v := range raw.Errors {
			if e.Errors == nil {
				e.Errors = map[string]string{}
			}
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			e.Errors[k] = s
		}
		if len(e.Messages) > 0 || len(e.Errors) > 0 {
			return e
		}
	}
	if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") && len(s) <= 200 && !strings.HasPrefix(s, "{") {
		e.Messages = []string{s}
	}
	return e
}

var errNotFound = errors.New("not found")

// do sends one request and decodes a 2xx answer into out. Failures come
// back classified: *outbox.RetryableError for throttling, 5xx and network
// trouble; an error wrapping errNotFound for 404; an *APIError for the
// rest. Credentials are never part of one.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.cfg.Email, c.cfg.APIToken)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds no secret, but keep errors short
		}
		return &outbox.RetryableError{Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &outbox.RetryableError{Err: fmt.Errorf("%s %s: read answer: %w", method, path, err)}
	}
	if resp.StatusCode/100 == 2 {
		if out == nil || len(bytes.TrimSpace(raw)) == 0 {
			return nil // 204 No Content
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
		return nil
	}
	code := resp.StatusCode
	apiErr := DecodeError(code, raw)
	switch {
	case code == http.StatusTooManyRequests, code >= 500, code == http.StatusRequestTimeout:
		return &outbox.RetryableError{Err: apiErr, After: outbox.RetryAfter(resp.Header.Get("Retry-After"), c.clk.Now())}
	case code == http.StatusNotFound:
		return fmt.Errorf("%w: %w", errNotFound, apiErr)
	case code == http.StatusConflict || code == http.StatusPreconditionFailed:
		return &outbox.ConflictError{Reason: fmt.Sprintf("Jira refused %s %s: %s", method, path, apiErr)}
	}
	return apiErr
}
