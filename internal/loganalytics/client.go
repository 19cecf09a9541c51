// Package loganalytics is a client of the Azure Monitor Log Analytics
// query API: it runs a KQL query against one workspace and returns the
// result tables.
//
// The contract, from Microsoft Learn:
//   - POST {BaseURL}/v1/workspaces/{workspaceId}/query with the JSON body
//     {"query": "...", "timespan": "PT12H"}; the answer is
//     {"tables": [{"name", "columns": [{"name", "type"}], "rows": [[...]]}]}
//     https://learn.microsoft.com/rest/api/loganalytics/dataaccess/query/execute
//     https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format
//   - A fatal error is an error status with {"error": {"code", "message",
//     "innererror": {...}}}; a bad query is 400 BadArgumentError with a
//     SyntaxError or SemanticError inside.
//     https://learn.microsoft.com/azure/azure-monitor/logs/api/errors
//   - A non-fatal error (a result truncated at the limits) is 200 with the
//     tables and an "error" member whose code is PartialError. Query
//     returns the result together with a *PartialError.
//   - Limits (the constants below):
//     https://learn.microsoft.com/azure/azure-monitor/fundamentals/service-limits#log-analytics-workspaces
//     ("Query API") and
//     https://learn.microsoft.com/azure/azure-monitor/fundamentals/service-limits#log-queries-and-language
//     (user query throttling).
//   - Timeouts: the server gives up after 3 minutes by default, 10 at most
//     (Prefer: wait=N), with 504.
//     https://learn.microsoft.com/azure/azure-monitor/logs/api/timeouts
//
// Semantics decided here where the sources are silent: 429, 5xx (504
// included) and network failures are *outbox.RetryableError with the
// Retry-After the service sent; 400, 403, 404 and other 4xx are *Error.
// A 401 is retried once with a fresh token, then is an *Error. Cell
// values are decoded as JSON gives them (string, float64, bool, nil);
// the API writes long and datetime values as numbers and strings, and
// older answers (the fixtures) write numbers and booleans as strings, so
// readers convert by column type (see Table.Records).
package loganalytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// DefaultBaseURL is the query API in Azure's public cloud.
const DefaultBaseURL = "https://api.loganalytics.io"

// Scope is the token scope of the query API.
const Scope = "https://api.loganalytics.io/.default"

// Documented limits of the query API.
const (
	// MaxRecords is the most rows one query returns; beyond it the
	// result is truncated with a PartialError.
	MaxRecords = 500000
	// MaxResponseBytes is the most data one query returns (~100 MiB raw,
	// 64 MB compressed).
	MaxResponseBytes = 104 << 20
	// RequestsPer30s is the request rate allowed per Microsoft Entra user
	// or client IP address: 200 queries in 30 seconds.
	RequestsPer30s = 200
	// MaxConcurrentQueries is how many queries a user runs at once; more
	// are queued (for up to 3 minutes, then 429).
	MaxConcurrentQueries = 5
	// MaxQueryBytes bounds the query text vigil sends. Microsoft does not
	// document a limit for the query text; this is vigil's own
	// conservative bound, well below the request sizes the service takes.
	MaxQueryBytes = 64 << 10
)

// Config locates a workspace's tenant. AuthorityHost and BaseURL are empty
// for Azure's public cloud; the simulator sets them.
type Config struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// Credential says how to sign in (azauth.Options); what it leaves
	// empty comes from TenantID, ClientID, ClientSecret, AuthorityHost
	// and Transport, so the zero value signs in with the client secret.
	Credential    azauth.Options
	AuthorityHost string
	BaseURL       string
	// Transport, when set, carries every request, token requests
	// included (the simulator's client trusts its own CA).
	Transport policy.Transporter
	Clock     clock.Clock
	Logger    *slog.Logger
}

// Client runs queries. It is safe for concurrent use.
type Client struct {
	base     string
	pipeline runtime.Pipeline
	cred     *credential
	clock    clock.Clock
	log      *slog.Logger
}

// New builds a client. It does not contact the tenant: the first token is
// fetched with the first query.
func New(cfg Config) (*Client, error) {
	co := cfg.Credential.WithDefaults(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.AuthorityHost, cfg.Transport)
	if err := co.Validate(); err != nil {
		return nil, fmt.Errorf("loganalytics credential: %w", err)
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, validation.NewFieldError("base_url", "%q must be an absolute https URL", cfg.BaseURL)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := azcore.ClientOptions{Transport: cfg.Transport}
	if cfg.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
	}
	newCred := func() (azcore.TokenCredential, error) { return co.Credential(opts) }
	first, err := newCred()
	if err != nil {
		return nil, fmt.Errorf("loganalytics credential: %w", err)
	}
	cred := &credential{cur: first, fresh: newCred}
	// azcore's retries are off: a scheduled hunt retries through its
	// caller, which honours Retry-After.
	popts := &policy.ClientOptions{Transport: cfg.Transport, Retry: policy.RetryOptions{MaxRetries: -1}}
	return &Client{
		base: base, cred: cred, clock: cfg.Clock, log: cfg.Logger.With("component", "loganalytics"),
		pipeline: runtime.NewPipeline("vigil-loganalytics", "v1", runtime.PipelineOptions{
			PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{Scope}, nil)},
		}, popts),
	}, nil
}

// credential can start over with a fresh azidentity credential, whose
// empty cache makes the next token really new (see the graph connector
// for why a 401 needs it).
type credential struct {
	mu    sync.Mutex
	cur   azcore.TokenCredential
	fresh func() (azcore.TokenCredential, error)
}

func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	return cur.GetToken(ctx, opts)
}

func (c *credential) reset() error {
	n, err := c.fresh()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cur = n
	c.mu.Unlock()
	return nil
}

// Query runs query against the workspace (its customerId GUID). timespan
// is an ISO 8601 duration or interval ("PT12H", "P1D",
// "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"), applied in addition to the
// query's own time filters; "" for none. A truncated result comes back
// with a *PartialError.
func (c *Client) Query(ctx context.Context, workspaceID, query string, timespan string) (*Result, error) {
	if workspaceID == "" || strings.ContainsAny(workspaceID, "/?#") {
		return nil, validation.NewFieldError("workspace_id", "%q is not a workspace id", workspaceID)
	}
	if len(query) > MaxQueryBytes {
		return nil, validation.NewFieldError("query", "%d bytes is over the %d-byte bound", len(query), MaxQueryBytes)
	}
	body := map[string]string{"query": query}
	if timespan != "" {
		body["timespan"] = timespan
	}
	endpoint := c.base + "/v1/workspaces/" + url.PathEscape(workspaceID) + "/query"
	refreshed := false
	for {
		req, err := runtime.NewRequest(ctx, http.MethodPost, endpoint)
		if err != nil {
			return nil, fmt.Errorf("loganalytics: build request: %w", err)
		}
		req.Raw().Header.Set("Accept", "application/json")
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, fmt.Errorf("loganalytics: encode body: %w", err)
		}
		res, err := c.pipeline.Do(req)
		if err != nil {
			return nil, transportError(err)
		}
		data, err := readBody(res)
		if err != nil {
			return nil, &outbox.RetryableError{Err: fmt.Errorf("loganalytics: read answer: %w", err)}
		}
		if res.StatusCode == http.StatusOK {
			return Decode(data)
		}
		if res.StatusCode == http.StatusUnauthorized && !refreshed {
			refreshed = true
			c.log.Info("loganalytics token refused; fetching a new one")
			if err := c.cred.reset(); err != nil {
				return nil, fmt.Errorf("loganalytics credential: %w", err)
			}
			continue
		}
		e := parseError(res.StatusCode, data)
		if res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
			return nil, &outbox.RetryableError{Err: e, After: outbox.RetryAfter(res.Header.Get("Retry-After"), c.clock.Now())}
		}
		return nil, e
	}
}

// readBody reads at most MaxResponseBytes (and a little more, to tell a
// larger answer apart).
func readBody(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("answer is over %d bytes", MaxResponseBytes)
	}
	return data, nil
}

// transportError classifies a failure to get any answer. Network trouble
// is retryable; a token the identity platform refused (a wrong secret) is
// not, unless the platform itself was throttling or down.
func transportError(err error) error {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if code := afe.RawResponse.StatusCode; code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout {
			return fmt.Errorf("loganalytics: authenticate: %w", err)
		}
	}
	return &outbox.RetryableError{Err: fmt.Errorf("loganalytics: %w", err)}
}

// Error is an error answer of the query API.
type Error struct {
	Status  int
	Code    string // BadArgumentError, WorkspaceNotFoundError, InsufficientAccessError, ...
	Message string
	// Inner is the innermost error's code and message, where the detail
	// of a bad query is (SyntaxError / SYN0002, SemanticError / SEM0100).
	InnerCode    string
	InnerMessage string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("loganalytics: %d %s: %s", e.Status, e.Code, e.Message)
	if e.InnerMessage != "" {
		s += " (" + e.InnerCode + ": " + e.InnerMessage + ")"
	}
	return s
}

// wireError is the API's error object, nested through innererror.
type wireError struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *wireError  `json:"innererror"`
	Details    []wireError `json:"details"`
}

func parseError(status int, data []byte) *Error {
	var body struct {
		Error *wireError `json:"error"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(data, &body) != nil || body.Error == nil {
		e.Code, e.Message = http.StatusText(status), truncate(string(bytes.TrimSpace(data)), 200)
		return e
	}
	e.Code, e.Message = body.Error.Code, body.Error.Message
	for in, depth := body.Error.InnerError, 0; in != nil && depth < 8; in, depth = in.InnerError, depth+1 {
		e.InnerCode, e.InnerMessage = in.Code, in.Message
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
